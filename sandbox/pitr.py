"""Point-in-time restore: the sandbox's "base" backup plus its WAL archive, replayed to a target time into a new
data folder on a spare port, the way an operator restores a production database next to the broken one.

The restored server never archives (it would write into the live archive) and promotes itself once the target is
reached; `discard` stops it and removes its files.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from sandbox import postgres
from sandbox.errors import SandboxError
from sandbox.postgres import PgLayout, give_to_postgres, run_as_postgres

BASE_BACKUP = "base"


@dataclass(frozen=True)
class RestoredDatabase:
    layout: PgLayout
    name: str
    data_dir: Path
    port: int
    recovery_s: float

    @property
    def conninfo(self) -> str:
        return (f"host=127.0.0.1 port={self.port} dbname={postgres.DATABASE} user={postgres.APP_USER} "
                f"password={self.layout.passwords[postgres.APP_USER]} connect_timeout=2")

    @property
    def superuser_conninfo(self) -> str:
        return (f"host=127.0.0.1 port={self.port} dbname=postgres user={postgres.SUPERUSER} "
                f"password={self.layout.passwords[postgres.SUPERUSER]} connect_timeout=2")


def archive_current_wal(layout: PgLayout, primary: str, timeout_s: float = 30) -> str:
    """Close the current WAL segment on the primary and wait until the archiver has copied it: the restore needs
    every commit up to (and a little past) the target in the archive."""
    with psycopg.connect(layout.superuser_conninfo(primary, dbname=postgres.DATABASE), autocommit=True) as conn:
        segment = postgres.scalar(conn, "SELECT pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (layout.archive_dir / segment).exists():
                return segment
            time.sleep(0.1)
    raise SandboxError(primary, f"WAL segment {segment} not archived within {timeout_s:g} s",
                       f"check archive_command in {layout.log_path(primary)}")


def restore_to_time(layout: PgLayout, target: datetime, name: str = "pitr", port: int | None = None,
                    timeout_s: float = 90) -> RestoredDatabase:
    """Restore to `target` (timezone-aware) and wait until the restored server has promoted itself."""
    if target.tzinfo is None:
        raise SandboxError("pitr", "the restore target has no time zone", "pass a timezone-aware datetime")
    base = layout.backups_dir / BASE_BACKUP
    if not base.is_dir():
        raise SandboxError("pitr", f"no base backup at {base}", "the sandbox takes one at start-up: restart it")
    data = layout.root / f"restore-{name}"
    if data.exists():
        _stop_quietly(layout, data, name)
        shutil.rmtree(data)
    run_as_postgres(layout, ["cp", "-a", str(base), str(data)], name)
    for leftover in ("standby.signal", "postmaster.pid"):
        (data / leftover).unlink(missing_ok=True)
    port = port or _free_port()
    settings = [
        f"port = {port}",
        f"cluster_name = 'restore-{name}'",
        "archive_mode = off",
        "synchronous_standby_names = ''",
        "primary_conninfo = ''",
        f"restore_command = 'cp {layout.archive_dir}/%f %p'",
        f"recovery_target_time = '{target.isoformat()}'",
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
    ]
    auto = data / "postgresql.auto.conf"
    auto.write_text("\n".join(settings) + "\n")
    give_to_postgres(auto)
    (data / "recovery.signal").touch()
    give_to_postgres(data / "recovery.signal")
    log = layout.root / "logs" / f"restore-{name}.log"
    log.touch()
    give_to_postgres(log)
    started = time.monotonic()
    pg_ctl = str(layout.bin_dir / "pg_ctl")
    run_as_postgres(layout, [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", str(int(timeout_s)), "start"], name,
                    timeout_s=timeout_s + 5)
    restored = RestoredDatabase(layout, name, data, port, 0.0)
    try:
        _wait_promoted(restored, started + timeout_s, log)
    except BaseException:
        discard(restored)
        raise
    return RestoredDatabase(layout, name, data, port, time.monotonic() - started)


def _wait_promoted(restored: RestoredDatabase, deadline: float, log: Path) -> None:
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(restored.superuser_conninfo, autocommit=True) as conn:
                if not postgres.scalar(conn, "SELECT pg_is_in_recovery()"):
                    return
        except psycopg.Error:
            pass
        time.sleep(0.1)
    raise SandboxError("pitr", "the restored server did not finish recovery in time", f"see {log}")


def discard(restored: RestoredDatabase) -> None:
    """Stop the restored server and delete its data folder."""
    _stop_quietly(restored.layout, restored.data_dir, restored.name)
    shutil.rmtree(restored.data_dir, ignore_errors=True)


def _stop_quietly(layout: PgLayout, data: Path, name: str) -> None:
    if not (data / "postmaster.pid").exists():
        return
    with contextlib.suppress(SandboxError):
        pg_ctl = str(layout.bin_dir / "pg_ctl")
        run_as_postgres(layout, [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

