"""Ground truth for point-in-time restore: the restored database holds every write acknowledged before the
target time and none sent after it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.jobs import QuietProgress, StopToken
from sandbox import pitr
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.conftest import running_sandbox

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 5600  # its own ports, beside the session's


@pytest.fixture(scope="module")
def pitr_sandbox() -> Iterator[Sandbox]:
    yield from running_sandbox(sandbox_variant(_OFFSET, "test-drill-pitr"))


def _write(client: httpx.Client, sandbox: Sandbox, run_id: str, seq: int) -> tuple[float, float, bool]:
    headers = {"apikey": sandbox.anon_key, "Authorization": f"Bearer {sandbox.service_key}"}
    sent = time.time()
    response = client.post(f"{sandbox.edge_url}/rest/v1/probe_writes", headers=headers,
                           json={"run_id": run_id, "seq": seq, "payload": "pitr"}, timeout=5)
    return sent, time.time(), response.status_code == 201


def test_restore_holds_every_write_acknowledged_before_the_target_and_none_after(pitr_sandbox: Sandbox) -> None:
    run_id = f"pitr-{uuid.uuid4()}"
    with httpx.Client() as client:
        before = {seq: _write(client, pitr_sandbox, run_id, seq) for seq in range(30)}
        target = time.time()
        after = {seq: _write(client, pitr_sandbox, run_id, seq) for seq in range(30, 60)}
    layout = pitr_sandbox.layout()
    pitr.archive_current_wal(layout, pitr_sandbox.topology()["primary"])
    restored = pitr.restore_to_time(layout, datetime.fromtimestamp(target, UTC))
    try:
        with psycopg.connect(restored.conninfo) as conn:
            rows = conn.execute("SELECT seq FROM probe_writes WHERE run_id = %s", (run_id,)).fetchall()
    finally:
        pitr.discard(restored)
    present = {row[0] for row in rows}
    acknowledged_before = {seq for seq, (_, done, ok) in before.items() if ok and done <= target}
    assert len(acknowledged_before) == 30
    assert present == acknowledged_before
    assert not restored.data_dir.exists()
    assert all(sent > target for sent, _, _ in after.values())


def test_backup_restore_scenario_passes_with_its_ledger_checked(pitr_sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = write_sandbox_environment(pitr_sandbox.config, tmp_path / "env.yaml")
    request = DrillRequest(env=str(env_file), scenario="backup-restore", runs_dir=tmp_path / "runs",
                           background_load=False)
    done = execute(plan(request), QuietProgress(), StopToken())
    code, result = done.exit_code, done.details["drill"]
    restore = next(a for a in result["actions"] if a["action"] == "restore_to_mark")["detail"]
    assert code == 0, result.get("reason")
    assert restore["acknowledged_before_target"] > 20
    assert restore["missing_before_target"] == [] and restore["present_after_target"] == []
