"""Run folders for the report tests, written in the documented formats (docs/run-folder.md, docs/drills.md) with
the real writers where there is one (slo.records.RecordWriter), so no test needs a whole load run or drill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from rxcore.files import write_json_atomic
from slo.histogram import Histogram
from slo.records import OUTCOMES, RecordWriter, WindowRecord

NAMES = ("GET /rest/v1/prescriptions?status=eq.[status]", "POST /rest/v1/prescriptions",
         "POST /auth/v1/token?grant_type=password")


def run_json(folder: Path, job: str, started: datetime, **extra: Any) -> None:
    write_json_atomic(folder / "run.json", {
        "job": job, "environment": {"name": "sandbox", "kind": "sandbox"}, "suite_version": "0.1.0",
        "git_commit": "abc123", "parameters": {}, "started_at": started.isoformat(timespec="milliseconds"),
        "ended_at": None, "status": "completed", "exit_code": 0, "events": [], **extra})


def load_run(root: Path, started: datetime, *, seconds: int = 30, rps: int = 40, median_ms: float = 40.0,
             error_share: float = 0.0, names: tuple[str, ...] = NAMES, seed: int = 1, job: str = "load") -> Path:
    """A load run folder: per-second windows of lognormal latencies around `median_ms`, 5xx at `error_share`."""
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-{job}-sandbox"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    t0 = started.timestamp()
    with RecordWriter(folder) as writer:
        for second in range(seconds):
            for name in names:
                n = int(rps / len(names)) or 1
                errors = int(rng.binomial(n, error_share))
                hist = Histogram()
                hist.record_many(np.maximum(1, rng.lognormal(np.log(median_ms * 1000), 0.4, n - errors)))
                outcomes = dict.fromkeys(OUTCOMES, 0) | {"ok": n - errors, "http_5xx": errors}
                writer.write_window(WindowRecord(start=t0 + second, duration_s=1.0, name=name, outcomes=outcomes,
                                                 histogram=hist))
    run_json(folder, job, started, parameters={"profile": "smoke", "mode": "closed", "users": 5,
                                              "duration_s": seconds})
    return folder


def drill_run(root: Path, started: datetime, *, scenario: str = "db-primary-loss", score: float = 88.9,
              rto_s: float = 6.2, with_load: bool = False) -> Path:
    """A drill folder with a scenario journal in chaos/journal.py's shape (timeline, series, objectives...)."""
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-drill-sandbox"
    folder.mkdir(parents=True)
    t0 = started.timestamp() + 5
    series = []
    for t in range(-4, 20):
        down = 0 <= t < int(rto_s)
        series.append({"t_s": t, "read_ok": 0 if down else 10, "read_failed": 10 if down else 0,
                       "write_ok": 0 if down else 10, "write_failed": 10 if down else 0})
    journal = {
        "schema": 1, "kind": "drill", "scenario": scenario, "description": "The primary stops at once.",
        "expect": "pass", "environment": "sandbox", "status": "completed",
        "started_at": started.isoformat(timespec="milliseconds"),
        "timeline": [{"event": e, "at": datetime.fromtimestamp(t0 + dt, UTC).isoformat(), "unix": t0 + dt}
                     for e, dt in (("method_started", 0.0), ("fault_injected", 0.0), ("first_failure_seen", 0.4),
                                   ("recovered", rto_s), ("rollback_done", rto_s + 3))],
        "rto_s": rto_s, "rpo_count": 0, "rpo_s": 0.0, "time_to_detect_s": 0.4, "downtime_s": rto_s - 0.2,
        "errors_during_fault": 120,
        "ledger": {"acknowledged": 400, "lost": 0, "in_doubt": 3, "in_doubt_found_committed": 1, "lost_seqs": []},
        "metrics": {"rto_s": rto_s, "rpo_count": 0, "rpo_s": 0.0},
        "objectives": [
            {"name": "RTO <= 20 s", "metric": "rto_s", "op": "<=", "target": 20, "measured": rto_s, "met": True,
             "weight": 3, "critical": True},
            {"name": "time to detect <= 0.2 s", "metric": "time_to_detect_s", "op": "<=", "target": 0.2,
             "measured": 0.4, "met": False, "weight": 1, "critical": False}],
        "verdict": "pass", "score": score, "as_expected": True, "rollbacks_ok": True, "series": series,
    }
    write_json_atomic(folder / "drill.json", journal)
    run_json(folder, "drill", started)
    if with_load:
        load_run(folder / "load", started, seconds=25, seed=7)
    return folder


def journeys_run(root: Path, started: datetime, *, failed: bool = True) -> Path:
    """A journeys folder in journeys/results.py's shape, with a failure screenshot for a failed journey."""
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-journeys-sandbox"
    shot = folder / "artifacts" / "patient-renewal" / "attempt-2" / "failure.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(b"\x89PNG\r\n\x1a\n")
    vitals = {"lcp_s": 1.2, "inp_s": 0.05, "cls": 0.01, "ttfb_s": 0.2, "fcp_s": 0.9}
    document = {
        "format": "rxsuite-journeys/1", "environment": "sandbox", "tag": "smoke",
        "summary": {"passed": 1, "flaky": 0, "failed": 1 if failed else 0, "skipped": 0},
        "journeys": [
            {"journey": "doctor-queue", "test": "journeys/test_care_team.py::test_doctor_queue", "tags": ["smoke"],
             "outcome": "passed", "attempts": [{"attempt": 1, "outcome": "passed", "duration_s": 3.1,
                                                "error": None, "artifacts": []}]},
            {"journey": "patient-renewal", "test": "journeys/test_patient.py::test_patient_renewal",
             "tags": ["smoke"], "outcome": "failed" if failed else "passed",
             "attempts": [{"attempt": n, "outcome": "failed" if failed else "passed", "duration_s": 4.0,
                           "error": "checkout button not found" if failed else None,
                           "artifacts": [str(shot.relative_to(folder))] if failed else []} for n in (1, 2)]},
        ],
        "steps": [{"journey": "doctor-queue", "step": "sign in", "duration_s": 0.8 + i / 100, "ok": True}
                  for i in range(12)],
        "page_loads": [{"journey": "doctor-queue", "page": "/doctor", "load_s": 0.9,
                        "vitals": vitals | {"lcp_s": 1.0 + i / 10}} for i in range(12)]
        + [{"journey": "patient-renewal", "page": "/dashboard", "load_s": 4.5,
            "vitals": vitals | {"lcp_s": 4.6, "cls": 0.3}}],
    }
    (folder / "journeys.json").write_text(json.dumps(document), encoding="utf-8")
    run_json(folder, "journeys", started)
    return folder


def composite_run(root: Path, started: datetime) -> Path:
    """An `rxsuite run` folder: journeys, load and drill stages as child run folders."""
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-run-sandbox"
    folder.mkdir(parents=True)
    run_json(folder, "run", started)
    journeys_run(folder, started)
    load_run(folder, started + timedelta(seconds=10), seconds=40)
    drill_run(folder, started + timedelta(seconds=50), with_load=True)
    return folder


def capacity_summary(folder: Path) -> None:
    steps = [{"level": level, "achieved_rps": 40.0 * level, "bad_ratio": 0.0, "p95_ms": 50.0 * level,
              "held": level < 4, "why_not": None if level < 4 else "p95 210 ms > 200 ms"} for level in (1, 2, 3, 4)]
    write_json_atomic(folder / "load.json", {"capacity": {
        "slo": {"p95_ms": 200.0, "max_bad_ratio": 0.001}, "highest_sustainable_rps": 120.0, "at_level": 3,
        "broke_at_level": 4, "broke_because": "p95 210 ms > 200 ms", "steps": steps}})


def drill_suite(root: Path, started: datetime) -> Path:
    """A suite folder (kind: suite) with two scenario journals under scenarios/<name>/."""
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-drill-sandbox"
    folder.mkdir(parents=True)
    rows = []
    for name, score in (("db-primary-loss", 100.0), ("region-outage", 80.0)):
        scenario_dir = drill_run(folder / "scenarios", started, scenario=name, score=score)
        target = folder / "scenarios" / name
        scenario_dir.rename(target)
        (target / "run.json").unlink()
        rows.append({"scenario": name, "weight": 1.0, "status": "completed", "verdict": "pass", "score": score,
                     "journal": f"scenarios/{name}/drill.json"})
    write_json_atomic(folder / "drill.json", {"schema": 1, "kind": "suite", "suite": "quarterly",
                                              "environment": "sandbox", "status": "completed", "score": 90.0,
                                              "verdict": "pass", "scenarios": rows})
    run_json(folder, "drill", started)
    return folder
