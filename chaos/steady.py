"""Steady-state checks, before the method (refuse to inject a fault into an unhealthy target) and after the
rollbacks (the drill left the environment as it found it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from chaos.probes import Prober, ProbeTarget
from chaos.scenario import Check


def run_checks(checks: Sequence[Check], target: ProbeTarget, prober: Prober | None, sandbox_driver: Any,
               stop: threading.Event) -> list[dict[str, Any]]:
    return [{"check": c.kind, "where": c.where, **_one(c, target, prober, sandbox_driver, stop)} for c in checks]


def until_steady(checks: Sequence[Check], target: ProbeTarget, prober: Prober | None, sandbox_driver: Any,
                 timeout_s: float) -> tuple[bool, list[dict[str, Any]], float]:
    """Repeat the checks until all hold or `timeout_s` passes; (held, last results, seconds waited)."""
    started = time.monotonic()
    while True:
        results = run_checks(checks, target, prober, sandbox_driver, threading.Event())
        if all(r["ok"] for r in results) or time.monotonic() - started > timeout_s:
            return all(r["ok"] for r in results), results, time.monotonic() - started
        time.sleep(0.5)


def _one(check: Check, target: ProbeTarget, prober: Prober | None, sandbox_driver: Any,
         stop: threading.Event) -> dict[str, Any]:
    params = check.params
    if check.kind == "http":
        url = target.edge_url + params.get("path", "/health")
        try:
            response = httpx.get(url, headers=target.read_headers(), timeout=3)
        except httpx.HTTPError as exc:
            return {"ok": False, "detail": f"{url}: {type(exc).__name__}"}
        expected = int(params.get("status", 200))
        if response.status_code != expected:
            return {"ok": False, "detail": f"{url} answered {response.status_code}, expected {expected}"}
        mismatch = _json_mismatch(params.get("json") or {}, _json_or_none(response))
        return {"ok": mismatch is None, "detail": mismatch or f"{url} {response.status_code}"}
    if check.kind == "availability":
        window = float(params.get("window_s", 2))
        if prober is None:
            return {"ok": False, "detail": "no probes running"}
        stop.wait(window)
        measured = prober.availability(window)
        minimum = float(params.get("min", 1.0))
        ok = measured is not None and measured >= minimum
        return {"ok": ok, "detail": f"availability {measured} over {window:g} s (min {minimum:g})",
                "measured": measured}
    problems = sandbox_driver.problems() if sandbox_driver is not None else ["no sandbox driver"]
    return {"ok": not problems, "detail": "; ".join(problems) or "every part healthy"}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_mismatch(expected: dict[str, Any], actual: Any, path: str = "") -> str | None:
    for key, want in expected.items():
        got = actual.get(key) if isinstance(actual, dict) else None
        if isinstance(want, dict):
            problem = _json_mismatch(want, got, f"{path}{key}.")
            if problem:
                return problem
        elif got != want:
            return f"{path}{key} is {got!r}, expected {want!r}"
    return None
