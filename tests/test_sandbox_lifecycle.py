"""`sandbox up/down/status`: idempotent, stale state cleaned, nothing left running after down, a taken port or
Ctrl-C during up, whatever happens."""

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

import psycopg
import pytest
import yaml

from rxcore.environment import PROJECT_ROOT
from rxcore.processes import ProcessRef, is_running, port_is_free
from sandbox import postgres
from sandbox.errors import SandboxError
from sandbox.stack import PART_ORDER, Sandbox
from sandbox.variant import sandbox_variant
from tests.children import interruptible

_OFFSET = 3000


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
    sandbox = Sandbox(sandbox_variant(_OFFSET, "test-lifecycle"))
    try:
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


def test_stale_state_after_a_crash_is_cleaned_and_restarted(lifecycle_sandbox: Sandbox) -> None:
    payments_pid = {p.name: p.pid for p in lifecycle_sandbox.status()}["payments"]
    assert payments_pid is not None
    os.kill(payments_pid, signal.SIGKILL)
    time.sleep(0.2)
    survivors = [ref for ref in _recorded_processes(lifecycle_sandbox) if is_running(ref)]
    assert lifecycle_sandbox.up() is True
    assert not any(is_running(ref) for ref in survivors)
    assert all(p.running for p in lifecycle_sandbox.status())


def test_taken_port_is_named_and_nothing_is_started(lifecycle_sandbox: Sandbox) -> None:
    other = Sandbox(sandbox_variant(_OFFSET + 500, "test-lifecycle-port"))
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
    env_file = _env_file(tmp_path, _OFFSET + 700, "test-lifecycle-interrupt")
    sandbox = Sandbox(sandbox_variant(_OFFSET + 700, "test-lifecycle-interrupt"))
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
    sandbox = Sandbox(sandbox_variant(_OFFSET + 900, "test-lifecycle-sync", replication="sync"))
    try:
        sandbox.up()
        with psycopg.connect(sandbox.node_conninfo("pg-a", superuser=True)) as conn:
            states = conn.execute("SELECT application_name, sync_state FROM pg_stat_replication").fetchall()
    finally:
        sandbox.down()
    assert states == [("pg-b", "sync")]
