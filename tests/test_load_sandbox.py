"""Load runs against the real sandbox: every user model's flow, counts against the platform's access log, and a
stall of known length that the arrival-rate mode shows in full while the closed loop hides most of it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chaos.toxiproxy_client import ToxiproxyClient
from locustfiles.config import LoadConfig, only_models
from locustfiles.launcher import Launch, Outcome, run
from rxcore.environment import PlatformTarget
from rxcore.runfolder import RunFolder
from sandbox.stack import Sandbox
from slo.histogram import Histogram, bucket_index
from slo.records import iter_windows

_NOT_OURS = ("/health", "/functions/v1/payment-webhook")  # HAProxy checks, the payment provider's callbacks


def _models(**weights: int) -> dict[str, dict[str, Any]]:
    return only_models(**{name: {"weight": weight, "wait": [0.2, 0.5]} for name, weight in weights.items()})


def _run(sandbox: Sandbox, tmp_path: Path, models: dict[str, dict[str, Any]], *, users: int, duration_s: float,
         rate: float | None = None, wait: list[float] | None = None,
         during: Callable[[Path], None] | None = None) -> tuple[Outcome, Path]:
    if wait is not None:
        for settings in models.values():
            settings["wait"] = wait
    config = LoadConfig(base_url=sandbox.edge_url, profile="smoke", mode="arrival" if rate else "closed",
                        users=users, rate=rate, duration_s=duration_s, user_models=models, abort_after_s=15)
    folder = RunFolder.create(tmp_path / "runs", "load", "test-sandbox", parameters=config.to_json())
    helper = threading.Thread(target=during, args=(folder.path,)) if during else None
    if helper:
        helper.start()
    try:
        target = PlatformTarget(sandbox.edge_url, sandbox.anon_key, sandbox.credentials_file)
        outcome = run(Launch(config, target), folder)
    finally:
        if helper:
            helper.join(timeout=60)
    assert outcome.status == "completed", outcome.reason
    return outcome, folder.path


_FLOW_NAMES = {
    "patient": ["GET /rest/v1/prescriptions?select=*&order=created_at.desc&limit=[n]",
                "GET /rest/v1/medications?select=id,name,price_cents&name=ilike.[term]&limit=[n]",
                "POST /rest/v1/prescriptions", "POST /functions/v1/create-payment-intent",
                "POST /functions/v1/confirm-payment"],
    "doctor": ["GET /rest/v1/prescriptions?status=eq.[status]&order=created_at.asc&limit=[n]",
               "GET /rest/v1/prescriptions?id=eq.[id]&select=*", "PATCH /rest/v1/prescriptions?id=eq.[id]"],
    "pharmacist": ["GET /rest/v1/prescriptions?status=eq.[status]&order=updated_at.asc&limit=[n]",
                   "PATCH /rest/v1/prescriptions?id=eq.[id]"],
    "realtime": ["WS realtime join", "POST /rest/v1/prescriptions", "WS realtime notification"],
}


@pytest.mark.parametrize("model", list(_FLOW_NAMES))
def test_user_model_completes_its_flow_without_failures(sandbox: Sandbox, tmp_path: Path, model: str) -> None:
    outcome, _ = _run(sandbox, tmp_path, _models(**{model: 1}), users=3, duration_s=8 if model == "patient" else 6)
    summary = outcome.summary
    assert summary is not None
    assert summary["overall"]["requests"] == summary["overall"]["outcomes"]["ok"] > 0, summary["overall"]
    assert summary["content_errors"] == {} and summary["problems"] == {}
    assert "POST /auth/v1/token?grant_type=password" in summary["by_name"]
    missing = [name for name in _FLOW_NAMES[model] if summary["by_name"].get(name, {}).get("requests", 0) == 0]
    assert not missing, f"{model} never reached {missing}"


def test_tokens_are_refreshed_before_expiry(sandbox: Sandbox, tmp_path: Path) -> None:
    models = _models(doctor=1)
    models["doctor"]["refresh_every_s"] = 2
    outcome, _ = _run(sandbox, tmp_path, models, users=2, duration_s=6)
    assert outcome.summary is not None
    refreshes = outcome.summary["by_name"]["POST /auth/v1/token?grant_type=refresh_token"]
    assert refreshes["requests"] >= 2 and refreshes["outcomes"]["ok"] == refreshes["requests"]


def test_a_200_with_the_wrong_body_is_a_failure_for_locust_and_the_record(sandbox: Sandbox, tmp_path: Path) -> None:
    """The probe pointed at /health, which answers 200 with a JSON object where the probe expects an array."""
    models = _models(probe=1)
    models["probe"]["path"] = "/health"
    outcome, run_dir = _run(sandbox, tmp_path, models, users=2, duration_s=4)
    assert outcome.summary is not None
    health = outcome.summary["by_name"]["GET /health"]
    assert health["requests"] == health["outcomes"]["http_5xx"] > 0
    assert outcome.summary["content_errors"] == {"GET /health": health["requests"]}
    live = json.loads((run_dir / "live.json").read_text())  # Locust's own statistics
    assert live["requests"] == live["failures"] == health["requests"]


def _access_log(sandbox: Sandbox, start: float, end: float) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for path in sandbox.logs_dir.glob("*.access.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["ts"]).timestamp()
            if start <= at <= end and entry["path"] not in _NOT_OURS:
                seen[(entry["method"], entry["path"])] += 1
    return seen


def test_smoke_run_counts_equal_the_requests_the_sandbox_logged(sandbox: Sandbox, tmp_path: Path) -> None:
    outcome, run_dir = _run(sandbox, tmp_path, _models(patient=6, doctor=2, pharmacist=1, realtime=1), users=5,
                            duration_s=20)
    assert outcome.summary is not None
    time.sleep(2.5)  # the app appends its access log every second
    recorded: Counter[tuple[str, str]] = Counter()
    for window in iter_windows(run_dir):
        method, _, target = window.name.partition(" ")
        if method != "WS":
            recorded[(method, target.split("?")[0])] += sum(window.outcomes.values())
    logged = _access_log(sandbox, outcome.summary["started_at"] - 1, outcome.summary["ended_at"] + 1)
    assert sum(recorded.values()) > 100
    assert recorded == logged


def _histogram(run_dir: Path) -> Histogram:
    merged = Histogram()
    for window in iter_windows(run_dir):
        merged.add(window.histogram)
    return merged


def _at_or_above(hist: Histogram, value_us: float) -> int:
    return int(hist.counts[int(bucket_index([value_us])[0]):].sum())


def test_a_stall_shows_in_full_in_arrival_mode_and_the_closed_loop_hides_it(sandbox: Sandbox,
                                                                           tmp_path: Path) -> None:
    """Ground truth: the primary's database link stalls for STALL_S (a latency toxic of STALL_S, removed after
    STALL_S, so nothing passes in between). At RATE iterations/s the arrival-rate mode must record about
    RATE*STALL_S delayed requests spread up to STALL_S; a closed loop of a few users records one per user."""
    stall_s, rate = 3.0, 20.0

    def stall(run_dir: Path) -> None:
        deadline = time.monotonic() + 30
        while not (run_dir / "live.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(4)
        primary = sandbox.topology()["primary"]  # the app's link to whichever node is primary now (pg-a, pg-b)
        with ToxiproxyClient(sandbox.fault_proxy_url) as proxy:
            proxy.add_toxic(primary, "latency", {"latency": int(stall_s * 1000), "jitter": 0}, name="load-stall")
            try:
                time.sleep(stall_s)
            finally:
                proxy.remove_toxic(primary, "load-stall")

    figures = {}
    for mode in ("arrival", "closed"):
        _, run_dir = _run(sandbox, tmp_path / mode, _models(probe=1), users=10 if mode == "arrival" else 4,
                          duration_s=12, rate=rate if mode == "arrival" else None, wait=[0.2, 0.2], during=stall)
        hist = _histogram(run_dir)
        p95, p99 = hist.value_at_percentile(95), hist.value_at_percentile(99)
        assert p95 is not None and p99 is not None
        figures[mode] = {"p95_s": p95 / 1e6, "p99_s": p99 / 1e6,
                         "slow": _at_or_above(hist, stall_s / 2 * 1e6), "n": hist.count}
    arrival, closed = figures["arrival"], figures["closed"]
    print(f"stall {stall_s:g} s at {rate:g}/s: arrival p99 {arrival['p99_s']:.2f} s, p95 {arrival['p95_s']:.2f} s, "
          f"{arrival['slow']} of {arrival['n']} >= {stall_s / 2:g} s | closed loop p99 {closed['p99_s']:.2f} s, "
          f"p95 {closed['p95_s']:.3f} s, {closed['slow']} of {closed['n']} | the closed loop's p95 is "
          f"{arrival['p95_s'] / closed['p95_s']:.0f}x lower")
    assert arrival["p99_s"] >= 0.8 * stall_s
    assert arrival["slow"] >= 0.4 * rate * stall_s / 2
    assert arrival["p95_s"] >= 0.5 * stall_s
    assert closed["p95_s"] < 0.25 * stall_s
    assert closed["slow"] <= 4
