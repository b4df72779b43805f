"""Ground truth for RPO: the drill's count of lost acknowledged writes equals the count found by querying the
promoted database directly; with synchronous replication the same fault loses none.

Synchronous replication is switched on at run time by the sync scenario (a sandbox started with
`replication: sync` cannot seed its primary before a standby exists; reported to the sandbox owner)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.jobs import QuietProgress, StopToken
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.conftest import running_sandbox

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 5300  # its own ports, beside the session's


@pytest.fixture(scope="module")
def replication_sandbox() -> Iterator[Sandbox]:
    yield from running_sandbox(sandbox_variant(_OFFSET, "test-drill-replication"))


def _drill(sandbox: Sandbox, scenario: str, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    env_file = write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")
    request = DrillRequest(env=str(env_file), scenario=scenario, runs_dir=tmp_path / "runs", background_load=False)
    done = execute(plan(request), QuietProgress(), StopToken())
    result, folder = done.details["drill"], done.run_dir
    assert result["status"] == "completed", result.get("reason")
    assert folder is not None
    return result, folder


def _lost_by_direct_query(sandbox: Sandbox, result: dict, folder: Path) -> set[int]:
    """Acknowledged-before-the-fault writes (from the probe series) missing from the promoted primary."""
    fault = next(a for a in result["actions"] if a["fault"])
    writes = [json.loads(line) for line in (folder / "probes.jsonl").read_text().splitlines()]
    acknowledged = {w["seq"] for w in writes if w["kind"] == "write" and w["ok"] and w["done"] <= fault["ended_unix"]}
    with psycopg.connect(sandbox.primary_conninfo()) as conn:
        rows = conn.execute("SELECT seq FROM probe_writes WHERE run_id = %s", (result["run_id"],)).fetchall()
    return acknowledged - {row[0] for row in rows}


def test_lost_count_matches_the_promoted_database(replication_sandbox: Sandbox, tmp_path: Path) -> None:
    result, folder = _drill(replication_sandbox, "db-failover-replication-lag", tmp_path)
    lost = _lost_by_direct_query(replication_sandbox, result, folder)
    assert len(lost) > 0
    assert result["rpo_count"] == len(lost)
    assert set(result["ledger"]["lost_seqs"]) == lost


def test_synchronous_replication_loses_nothing(replication_sandbox: Sandbox, tmp_path: Path) -> None:
    result, folder = _drill(replication_sandbox, "db-failover-replication-lag-sync", tmp_path)
    assert _lost_by_direct_query(replication_sandbox, result, folder) == set()
    assert result["rpo_count"] == 0
    assert result["ledger"]["in_doubt"] > 0
