"""`sandbox up/down/status/reset`: idempotent, dead parts repaired without losing data, wiping only on an explicit
reset, nothing left running after down, a taken port or Ctrl-C during up, whatever happens."""

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

import psycopg
import pytest
import yaml

from rxcore.environment import PROJECT_ROOT
from rxcore.processes import ProcessRef, is_running, port_is_free
from sandbox import postgres
from sandbox.errors import SandboxError
from sandbox.stack import PART_ORDER, Sandbox
from sandbox.state import new_secrets
from sandbox.variant import sandbox_variant
from tests.children import interruptible

# Beside the session's sandbox on the session's offset: small steps (no two sandboxes' port sets meet, see
# _variant) keep every port below the kernel's ephemeral range, where other connections come and go.
_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))


def _variant(step: int, state_name: str, **changes: Any) -> Sandbox:
    """Steps 1-5 shift the ports by 3, 6, 9, 12, 15: none of these is a difference between two sandbox ports."""
    return Sandbox(sandbox_variant(_OFFSET + 3 * step, state_name, **changes))


def _recorded_processes(sandbox: Sandbox) -> list[ProcessRef]:
    state = json.loads((sandbox.state_dir / "state.json").read_text())
    return [ProcessRef.from_json(p["process"]) for p in state["parts"].values() if p.get("process")]


def _postmaster_pids(sandbox: Sandbox) -> list[int]:
    layout = sandbox.layout()
    return [pid for node in postgres.NODES if (pid := postgres.postmaster_pid(layout, node)) is not None]


def _nothing_running(sandbox: Sandbox) -> bool:
    """No recorded process, no postmaster, and nothing unrecorded left listening on the sandbox's ports."""
    return (not any(is_running(ref) for ref in _recorded_processes(sandbox)) and not _postmaster_pids(sandbox)
            and all(port_is_free(port) for port in sandbox.config.ports.values()))


@pytest.fixture(scope="module")
def lifecycle_sandbox() -> Iterator[Sandbox]:
    sandbox = _variant(1, "test-lifecycle")
    try:
        sandbox.reset()
        sandbox.up()
        yield sandbox
    finally:
        sandbox.down()


def test_status_shows_every_part_with_pid_and_roles(lifecycle_sandbox: Sandbox) -> None:
    parts = {p.name: p for p in lifecycle_sandbox.status()}
    assert list(parts) == list(PART_ORDER)
    assert all(p.running and p.pid for p in parts.values())
    assert parts["pg-a"].role == "primary"
    assert parts["pg-b"].role == "standby"
    assert "streaming to pg-b" in parts["pg-a"].detail
    assert "replication lag" in parts["pg-b"].detail
    assert parts["region-a"].role == "active, edge sees UP"
    assert parts["region-b"].role == "backup, edge sees UP"


def test_up_again_is_a_no_op(lifecycle_sandbox: Sandbox) -> None:
    before = _recorded_processes(lifecycle_sandbox)
    assert lifecycle_sandbox.up() is False
    assert _recorded_processes(lifecycle_sandbox) == before


def _rows(sandbox: Sandbox) -> list[tuple[str, int]]:
    """The rows this module wrote (a ground truth the tests create) and the seeded users (the sandbox's own)."""
    with psycopg.connect(sandbox.primary_conninfo()) as conn:
        written = conn.execute("SELECT run_id, seq FROM probe_writes WHERE run_id = 'lifecycle' ORDER BY seq")
        return [*written.fetchall(), ("users", postgres.scalar(conn, "SELECT count(*) FROM auth.users"))]


def _write_row(sandbox: Sandbox, seq: int) -> None:
    with psycopg.connect(sandbox.primary_conninfo()) as conn:
        conn.execute("INSERT INTO probe_writes (run_id, seq) VALUES ('lifecycle', %s)", (seq,))


def test_a_sigkilled_region_is_restarted_and_nothing_is_wiped(lifecycle_sandbox: Sandbox) -> None:
    _write_row(lifecycle_sandbox, 1)
    rows, secrets = _rows(lifecycle_sandbox), (lifecycle_sandbox.state_dir / "secrets.json").read_text()
    pids = {p.name: p.pid for p in lifecycle_sandbox.status()}
    assert pids["region-a"] is not None
    os.kill(pids["region-a"], signal.SIGKILL)
    time.sleep(0.2)
    steps: list[tuple[str, str]] = []
    assert lifecycle_sandbox.up(lambda part, state, detail: steps.append((part, state))) is True
    after = {p.name: p for p in lifecycle_sandbox.status()}
    assert all(p.running for p in after.values())
    assert after["region-a"].pid != pids["region-a"]
    assert {name: p.pid for name, p in after.items() if name != "region-a"} == {
        name: pid for name, pid in pids.items() if name != "region-a"}
    assert [part for part, state in steps if state == "starting"] == ["region-a"]
    assert _rows(lifecycle_sandbox) == rows
    assert (lifecycle_sandbox.state_dir / "secrets.json").read_text() == secrets


def test_up_after_down_restarts_on_the_same_data(lifecycle_sandbox: Sandbox) -> None:
    _write_row(lifecycle_sandbox, 2)
    rows, anon_key = _rows(lifecycle_sandbox), lifecycle_sandbox.anon_key
    lifecycle_sandbox.down()
    assert lifecycle_sandbox.up() is True
    assert all(p.running for p in lifecycle_sandbox.status())
    assert _rows(lifecycle_sandbox) == rows
    assert lifecycle_sandbox.anon_key == anon_key


def test_an_unusable_data_directory_is_named_with_the_command_to_run() -> None:
    sandbox = _variant(2, "test-lifecycle-unusable")
    sandbox.reset()
    data_dir = sandbox.state_dir / "pg" / "pg-a"
    data_dir.mkdir(parents=True)
    (sandbox.state_dir / "logs").mkdir()
    (sandbox.state_dir / "state.json").write_text(json.dumps({"status": "down", "up_after_s": 1.0, "parts": {}}))
    (sandbox.state_dir / "secrets.json").write_text(json.dumps(new_secrets(postgres.find_bin_dir())))
    try:
        with pytest.raises(SandboxError, match=r"^sandbox pg-a: its data directory .*/pg-a is unusable "
                                               r"\(no PG_VERSION\) \(run `rxsuite sandbox reset` to wipe it"):
            sandbox.up()
        assert data_dir.is_dir()
        assert json.loads((sandbox.state_dir / "state.json").read_text())["parts"] == {}
    finally:
        sandbox.reset()


def test_taken_port_is_named_and_nothing_is_started(lifecycle_sandbox: Sandbox) -> None:
    other = _variant(3, "test-lifecycle-port")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", other.config.ports["payments"]))
    blocker.listen()
    try:
        with pytest.raises(SandboxError, match=rf"sandbox payments: port {other.config.ports['payments']} is already"
                                               r" in use \(.*sandbox\.ports\.payments"):
            other.up()
    finally:
        blocker.close()
    assert not (other.state_dir / "state.json").exists()


def test_down_leaves_no_process(lifecycle_sandbox: Sandbox) -> None:
    assert lifecycle_sandbox.down()
    assert _nothing_running(lifecycle_sandbox)
    assert lifecycle_sandbox.down() == []


def _env_file(tmp_path: Path, offset: int, state_name: str) -> Path:
    config = sandbox_variant(offset, state_name)
    path = tmp_path / "interrupted.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "sandbox", "base_url": config.url("edge"),
        "sandbox": {"state_dir": str(config.state_dir), "ports": config.ports},
    }))
    return path


def test_ctrl_c_during_up_leaves_nothing_running(tmp_path: Path) -> None:
    env_file = _env_file(tmp_path, _OFFSET + 3 * 4, "test-lifecycle-interrupt")
    sandbox = _variant(4, "test-lifecycle-interrupt")
    proc = subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "sandbox", "up", "--env", str(env_file)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=interruptible)
    try:
        assert proc.stdout is not None
        output = []
        for line in proc.stdout:  # interrupt once the apps are being started: most parts are running then
            output.append(line)
            if line.startswith("region-a\tstarting"):
                break
        proc.send_signal(signal.SIGINT)
        output.append(proc.communicate(timeout=60)[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        sandbox.down()
    assert proc.returncode == 130, "".join(output)
    assert _nothing_running(sandbox)


def test_synchronous_mode_starts_with_a_synchronous_standby() -> None:
    sandbox = _variant(5, "test-lifecycle-sync", replication="sync")
    try:
        sandbox.up()
        with psycopg.connect(sandbox.node_conninfo("pg-a", superuser=True)) as conn:
            states = conn.execute("SELECT application_name, sync_state FROM pg_stat_replication").fetchall()
    finally:
        sandbox.down()
    assert states == [("pg-b", "sync")]
