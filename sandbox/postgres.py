"""PostgreSQL nodes of the sandbox: initdb, configuration, start/stop, streaming standbys, promotion, status.

Nodes are named `pg-a` and `pg-b`; which one is primary changes with failovers and lives in the topology file
owned by the failover manager. As root, every server-side program runs as the `postgres` system user, since initdb
and postgres refuse to run as root.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from sandbox.errors import SandboxError

NODES = ("pg-a", "pg-b")
SUPERUSER = "postgres"
APP_USER = "rx"
REPLICATION_USER = "replicator"
DATABASE = "rx"


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL server's bin folder."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                        if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise SandboxError("postgresql", "the PostgreSQL server is not installed (pg_ctl not found)",
                       "run `make deps` or `apt-get install postgresql`")


@dataclass(frozen=True)
class PgLayout:
    """Where a sandbox's PostgreSQL files live, and how to reach each node."""

    state_dir: Path
    bin_dir: Path
    ports: dict[str, int]
    passwords: dict[str, str]
    replication_proxy_port: int
    synchronous: bool

    @property
    def root(self) -> Path:
        """Resolved, because it may be a link to a folder the postgres user can reach (see prepare_dirs)."""
        return (self.state_dir / "pg").resolve()

    @property
    def archive_dir(self) -> Path:
        return self.root / "wal_archive"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    def data_dir(self, node: str) -> Path:
        return self.root / node

    def log_path(self, node: str) -> Path:
        return self.root / "logs" / f"{node}.log"

    def conninfo(self, node: str, user: str = APP_USER, dbname: str = DATABASE, timeout_s: int = 2) -> str:
        return (f"host=127.0.0.1 port={self.ports[node]} dbname={dbname} user={user} "
                f"password={self.passwords[user]} connect_timeout={timeout_s}")

    def superuser_conninfo(self, node: str, dbname: str = "postgres", timeout_s: int = 2) -> str:
        return self.conninfo(node, SUPERUSER, dbname, timeout_s)


def _runs_as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if _runs_as_root() else argv


def give_to_postgres(path: Path) -> None:
    if _runs_as_root():
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run_as_postgres(layout: PgLayout, argv: list[str], part: str, env: dict[str, str] | None = None,
         timeout_s: float = 60) -> str:
    full_env = {**os.environ, "LC_ALL": "C.UTF-8", **(env or {})}
    try:
        done = subprocess.run(_as_postgres(argv), capture_output=True, text=True, env=full_env, timeout=timeout_s,
                              cwd="/")
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(part, f"{Path(argv[0]).name} did not finish in {timeout_s:g} s",
                           f"see {layout.log_path(part)}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SandboxError(part, f"{Path(argv[0]).name} failed: {detail[-1] if detail else done.returncode}",
                           f"see {layout.log_path(part)}")
    return done.stdout


def prepare_dirs(layout: PgLayout) -> None:
    """Create the folders the postgres user writes to.

    When that user cannot reach the state folder (a project under /root, say), the PostgreSQL files go to a
    folder under /var/tmp instead, linked from the state folder, so the layout stays the same for everyone else.
    """
    link = layout.state_dir / "pg"
    link.mkdir(parents=True, exist_ok=True)
    give_to_postgres(link)
    if not _postgres_can_write(link):
        link.rmdir()
        digest = hashlib.sha256(str(layout.state_dir).encode()).hexdigest()[:12]
        fallback = Path("/var/tmp") / f"rxsuite-pg-{digest}"
        if fallback.exists():
            shutil.rmtree(fallback)
        fallback.mkdir(mode=0o755)
        link.symlink_to(fallback)
        give_to_postgres(fallback)
        if not _postgres_can_write(fallback):
            raise SandboxError("postgresql", f"the postgres user cannot write to {link} nor {fallback}",
                               "set sandbox.state_dir to a folder every user can traverse")
    for path in (layout.archive_dir, layout.backups_dir, layout.root / "logs"):
        path.mkdir(parents=True, exist_ok=True)
        give_to_postgres(path)


def _postgres_can_write(path: Path) -> bool:
    if not _runs_as_root():
        return os.access(path, os.W_OK)
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(path.resolve())],
                           capture_output=True)
    return probe.returncode == 0


def remove_dirs(layout: PgLayout) -> None:
    """Delete the PostgreSQL files, including a fallback folder outside the state folder."""
    link = layout.state_dir / "pg"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)


def init_primary(layout: PgLayout, node: str) -> None:
    data = layout.data_dir(node)
    if data.exists():
        shutil.rmtree(data)
    pwfile = layout.root / ".pwfile"
    pwfile.write_text(layout.passwords[SUPERUSER] + "\n")
    pwfile.chmod(0o600)
    give_to_postgres(pwfile)
    try:
        initdb = str(layout.bin_dir / "initdb")
        run_as_postgres(layout, [initdb, "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], node)
    finally:
        pwfile.unlink(missing_ok=True)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(_common_settings(layout))
    _write_node_settings(layout, node, standby_of=None)


def _common_settings(layout: PgLayout) -> str:
    archive = layout.archive_dir
    return f"""
# rxsuite sandbox settings
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 120
shared_buffers = '128MB'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '512MB'
hot_standby = on
wal_receiver_status_interval = '1s'
wal_sender_timeout = '10s'
wal_receiver_timeout = '10s'
archive_mode = on
archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'
synchronous_standby_names = ''
log_min_messages = warning
log_line_prefix = '%m [%p] '
"""


def _write_node_settings(layout: PgLayout, node: str, standby_of: str | None) -> None:
    """Node-specific settings live in postgresql.auto.conf, rewritten whole (a base backup copies the source's)."""
    lines = [f"port = {layout.ports[node]}", f"cluster_name = '{node}'"]
    if standby_of is not None:
        conninfo = (f"host=127.0.0.1 port={layout.replication_proxy_port} user={REPLICATION_USER} "
                    f"password={layout.passwords[REPLICATION_USER]} application_name={node}")
        lines.append(f"primary_conninfo = '{conninfo}'")
    auto = layout.data_dir(node) / "postgresql.auto.conf"
    auto.write_text("\n".join(lines) + "\n")
    auto.chmod(0o600)
    give_to_postgres(auto)


def start(layout: PgLayout, node: str, timeout_s: int = 30) -> None:
    log = layout.log_path(node)
    log.touch()
    give_to_postgres(log)
    run_as_postgres(layout, [str(layout.bin_dir / "pg_ctl"), "-D", str(layout.data_dir(node)), "-l", str(log), "-w",
                  "-t", str(timeout_s), "start"], node, timeout_s=timeout_s + 5)


def stop(layout: PgLayout, node: str, mode: str = "fast", timeout_s: int = 15) -> None:
    """Stop a node; `immediate` is the crash-like stop used to simulate losing the primary."""
    if postmaster_pid(layout, node) is None:
        return
    run_as_postgres(layout, [str(layout.bin_dir / "pg_ctl"), "-D", str(layout.data_dir(node)), "-m", mode, "-w",
                  "-t", str(timeout_s), "stop"], node, timeout_s=timeout_s + 5)


def postmaster_pid(layout: PgLayout, node: str) -> int | None:
    """The running postmaster's pid from postmaster.pid, or None when the node is not running."""
    pid_file = layout.data_dir(node) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError, PermissionError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def create_roles(layout: PgLayout, node: str) -> None:
    with psycopg.connect(layout.superuser_conninfo(node), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD {_literal(layout.passwords[APP_USER])}")
        conn.execute(f"CREATE ROLE {REPLICATION_USER} LOGIN REPLICATION PASSWORD "
                     f"{_literal(layout.passwords[REPLICATION_USER])}")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {APP_USER}")
        # Lets the app's /health report replication lag from pg_stat_replication.
        conn.execute(f"GRANT pg_monitor TO {APP_USER}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def clone_standby(layout: PgLayout, source: str, node: str) -> None:
    """Make `node` a streaming standby of `source`: base backup, then replicate through the fault proxy."""
    data = layout.data_dir(node)
    if data.exists():
        shutil.rmtree(data)
    source_conninfo = (f"host=127.0.0.1 port={layout.ports[source]} user={REPLICATION_USER} "
                       f"application_name={node}")
    run_as_postgres(layout, [str(layout.bin_dir / "pg_basebackup"), "-d", source_conninfo, "-D", str(data),
                             "-X", "stream", "-c", "fast", "--no-sync"], node,
                    env={"PGPASSWORD": layout.passwords[REPLICATION_USER]})
    (data / "standby.signal").touch()
    give_to_postgres(data / "standby.signal")
    _write_node_settings(layout, node, standby_of=source)


def take_base_backup(layout: PgLayout, source: str, name: str) -> Path:
    """A plain-format base backup for point-in-time restore, with WAL archiving supplying the rest."""
    target = layout.backups_dir / name
    if target.exists():
        shutil.rmtree(target)
    run_as_postgres(layout, [str(layout.bin_dir / "pg_basebackup"), "-d",
                  f"host=127.0.0.1 port={layout.ports[source]} user={REPLICATION_USER}", "-D", str(target),
                  "-X", "stream", "-c", "fast", "--no-sync"], source,
         env={"PGPASSWORD": layout.passwords[REPLICATION_USER]})
    return target


def promote(layout: PgLayout, node: str) -> None:
    with psycopg.connect(layout.superuser_conninfo(node), autocommit=True) as conn:
        promoted = conn.execute("SELECT pg_promote(wait => true, wait_seconds => 20)").fetchone()
    if not promoted or not promoted[0]:
        raise SandboxError(node, "promotion did not finish within 20 s", f"see {layout.log_path(node)}")


def set_synchronous(layout: PgLayout, node: str, enabled: bool) -> None:
    names = "*" if enabled else ""
    with psycopg.connect(layout.superuser_conninfo(node), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = {_literal(names)}")
        conn.execute("SELECT pg_reload_conf()")


@dataclass(frozen=True)
class NodeStatus:
    node: str
    running: bool
    reachable: bool
    role: str | None
    replication_lag_bytes: int | None
    streaming_to: tuple[str, ...] = ()


def scalar(conn: psycopg.Connection[Any], query: LiteralString) -> Any:
    """The one value of a query that always returns one row (`SELECT f()`)."""
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return row[0]


def node_status(layout: PgLayout, node: str, timeout_s: int = 1) -> NodeStatus:
    running = postmaster_pid(layout, node) is not None
    if not running:
        return NodeStatus(node, False, False, None, None)
    try:
        with psycopg.connect(layout.superuser_conninfo(node, timeout_s=timeout_s), autocommit=True) as conn:
            conn.execute("SET statement_timeout = '1s'")
            in_recovery = scalar(conn, "SELECT pg_is_in_recovery()")
            if in_recovery:
                lag = scalar(conn, "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())")
                return NodeStatus(node, True, True, "standby", int(lag) if lag is not None else None)
            rows = conn.execute(
                "SELECT application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                "FROM pg_stat_replication WHERE state = 'streaming'").fetchall()
            lag = max((int(r[1]) for r in rows if r[1] is not None), default=None)
            return NodeStatus(node, True, True, "primary", lag, tuple(r[0] for r in rows))
    except psycopg.Error:
        return NodeStatus(node, True, False, None, None)
