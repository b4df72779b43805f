"""Failover against a running sandbox: region loss at the edge, primary loss with promotion, and the exact set of
acknowledged writes lost when the replication stream was cut (the ground truth the DR drill builds on)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from chaos.toxiproxy_client import ToxiproxyClient
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.conftest import running_sandbox

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 1000  # its own ports, beside the session's


@pytest.fixture(scope="module")
def failover_sandbox() -> Iterator[Sandbox]:
    yield from running_sandbox(sandbox_variant(_OFFSET, "test-failover"))


def _service_headers(sandbox: Sandbox) -> dict[str, str]:
    return {"apikey": sandbox.anon_key, "Authorization": f"Bearer {sandbox.service_key}",
            "Prefer": "return=representation"}


def _write(client: httpx.Client, sandbox: Sandbox, run_id: str, seq: int) -> bool:
    """One ledger write through the edge; True when the platform acknowledged it."""
    try:
        response = client.post(f"{sandbox.edge_url}/rest/v1/probe_writes", headers=_service_headers(sandbox),
                               json={"run_id": run_id, "seq": seq, "payload": f"write {seq}"}, timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 201


def _stored_seqs(conninfo: str, run_id: str) -> set[int]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT seq FROM probe_writes WHERE run_id = %s", (run_id,)).fetchall()
    return {row[0] for row in rows}


def _edge_region(sandbox: Sandbox) -> str | None:
    try:
        return httpx.get(f"{sandbox.edge_url}/health", timeout=1).json()["region"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _wait_for(predicate: Callable[[], object], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s} s")


def _wait_replicated(sandbox: Sandbox) -> None:
    _wait_for(lambda: any(p.name == sandbox.topology()["primary"] and "replication lag 0 B" in p.detail
                          for p in sandbox.status()), 15)


def test_region_outage_is_served_by_the_backup_region(failover_sandbox: Sandbox) -> None:
    sandbox = failover_sandbox
    assert _edge_region(sandbox) == "region-a"
    sandbox.faults.kill_region("region-a")
    try:
        _wait_for(lambda: _edge_region(sandbox) == "region-b", timeout_s=10)
    finally:
        sandbox.faults.start_region("region-a")
    _wait_for(lambda: _edge_region(sandbox) == "region-a", timeout_s=15)


def test_primary_loss_is_followed_by_writes_on_the_promoted_standby(failover_sandbox: Sandbox) -> None:
    sandbox = failover_sandbox
    failover = sandbox.config.failover
    run_id = f"primary-loss-{uuid.uuid4()}"
    with httpx.Client() as client:
        assert _write(client, sandbox, run_id, 0)
        _wait_replicated(sandbox)
        sandbox.faults.stop_node("pg-a", mode="immediate")
        seq = iter(range(1, 10_000))
        recovered_after = _wait_for(lambda: _write(client, sandbox, run_id, next(seq)),
                                    timeout_s=failover.check_interval_s * failover.failure_threshold + 10)
    _wait_for(lambda: sandbox.topology()["primary"] == "pg-b", 5)  # the manager records it just after promoting
    assert recovered_after < failover.check_interval_s * failover.failure_threshold + 10
    assert 0 in _stored_seqs(sandbox.primary_conninfo(), run_id)
    sandbox.faults.failover_request("/rebuild")
    _wait_for(lambda: sandbox.topology()["standby"] == "pg-a", 30)


def test_cut_replication_loses_exactly_the_writes_after_the_cut(failover_sandbox: Sandbox) -> None:
    sandbox = failover_sandbox
    proxies = ToxiproxyClient(sandbox.fault_proxy_url)
    run_id = f"cut-{uuid.uuid4()}"
    old_primary = sandbox.topology()["primary"]
    with httpx.Client() as client:
        before = {seq for seq in range(20) if _write(client, sandbox, run_id, seq)}
        _wait_replicated(sandbox)
        proxies.update_proxy("replication", enabled=False)
        try:
            after = {seq for seq in range(20, 50) if _write(client, sandbox, run_id, seq)}
            assert _stored_seqs(sandbox.primary_conninfo(), run_id) == before | after
            sandbox.faults.stop_node(old_primary, mode="immediate")
            _wait_for(lambda: sandbox.topology()["primary"] != old_primary, 20)
        finally:
            proxies.update_proxy("replication", enabled=True)
    survivors = _stored_seqs(sandbox.primary_conninfo(), run_id)
    acknowledged = before | after
    lost = acknowledged - survivors
    assert len(before) == 20 and len(after) == 30
    assert lost == after
    sandbox.faults.failover_request("/rebuild")
