"""The drill probes' own clock: a probe loop stopped mid-run (SIGSTOP, as a starved or frozen process would be)
sends its probes late and says its timings are `invalid`; the same loop left alone is `valid`; set again for a
fault, it puts the next tick half a period after the fault and one every period after that.

The prober runs in a child process against tests/trivial_server.py, so the test can freeze it from outside."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.probes import Prober, ProbeTarget
from chaos.scenario import ProbeSpec
from slo.validity import INVALID, VALID, read_validity
from tests.children import stop_child

ROOT = Path(__file__).resolve().parent.parent
PROBE_S = 3.0
_PROBER = """
import json, sys, time
from chaos.probes import Prober, ProbeTarget
from chaos.scenario import ProbeSpec
spec = ProbeSpec(rate_hz=20, timeout_s=1, write=False)
prober = Prober(ProbeTarget(sys.argv[1], "anon", None), "validity-test", spec)
prober.start()
print("started", flush=True)
time.sleep(float(sys.argv[2]))
prober.stop()
print(json.dumps({"validity": prober.validity().to_dict(), "samples": len(prober.samples())}), flush=True)
"""


@pytest.fixture()
def endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "trivial_server.py"), str(port)],
                              stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None and b"listening" in server.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_child(server)


def _probe(endpoint: str, freeze_s: float) -> dict[str, Any]:
    child = subprocess.Popen([sys.executable, "-c", _PROBER, endpoint, str(PROBE_S)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        if freeze_s:
            time.sleep(1.0)
            os.kill(child.pid, signal.SIGSTOP)
            time.sleep(freeze_s)
            os.kill(child.pid, signal.SIGCONT)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
            child.wait(timeout=10)
    return json.loads(out.strip().splitlines()[-1])


def test_a_probe_loop_left_alone_is_valid(endpoint: str) -> None:
    result = _probe(endpoint, freeze_s=0)
    assert result["validity"] == {"status": VALID, "reasons": []}
    assert result["samples"] >= 0.8 * 20 * PROBE_S


def test_a_frozen_probe_loop_is_invalid(endpoint: str) -> None:
    result = _probe(endpoint, freeze_s=0.8)
    validity = result["validity"]
    assert isinstance(validity, dict) and validity["status"] == INVALID
    assert "probes were sent more than 250 ms after their tick" in validity["reasons"][0]


def test_aligned_for_a_fault_the_ticks_fall_half_a_period_after_it_then_one_every_period(endpoint: str) -> None:
    rate_hz, period = 10.0, 0.1
    prober = Prober(ProbeTarget(endpoint, "anon", None), "align-test", ProbeSpec(rate_hz=rate_hz, timeout_s=1,
                                                                                 write=False))
    prober.start()
    try:
        assert prober.started_at is not None
        time.sleep(max(0.0, prober.started_at + 3.8 * period - time.time()))  # the old grid's next tick: in 20 ms
        fault_at = time.time()
        prober.align()
        time.sleep(1.0)
    finally:
        prober.stop()
    before = [s for s in prober.samples() if s.sent < fault_at]
    after = [s for s in prober.samples() if s.sent >= fault_at]
    assert [s.seq for s in before + after] == list(range(len(before) + len(after)))  # no tick lost or repeated
    for k, sample in enumerate(after):  # each probe goes out on its tick of the new grid, never before it
        assert sample.sent >= fault_at + (k + 0.5) * period
    assert len(after) >= 8


def test_a_drill_suite_folder_carries_its_scenarios_probe_validity(tmp_path: Path) -> None:
    scenario = tmp_path / "scenarios" / "primary-loss"
    scenario.mkdir(parents=True)
    (tmp_path / "drill.json").write_text(json.dumps({"kind": "suite"}))
    invalid = {"status": INVALID, "reasons": ["invalid: 12 of 60 probes were sent late"]}
    (scenario / "drill.json").write_text(json.dumps({"probe_validity": invalid}))
    assert read_validity(tmp_path).to_dict() == invalid
