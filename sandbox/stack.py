"""The sandbox's lifecycle: bring every part up in order, repair what died, take it all down again, and wipe it
only when asked.

A sandbox is identified by its state folder (sandbox/state.py). `up` on a sandbox that was initialised once never
deletes anything: it restarts the parts that are not running (after a crash, a SIGKILL or `down`) on the data they
left. Only `reset` wipes, and only the CLI's `rxsuite sandbox reset` (with a confirmation) or a test calls it. The
parts are in sandbox/parts.py, the fault primitives in sandbox/faults.py.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from rxcore.plugins import StepCallback
from rxcore.processes import ProcessRef, is_running, port_is_free, ref_for, start_child, stop, stop_child
from sandbox import haproxy, monitoring, postgres
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.faults import Faults, thaw
from sandbox.parts import PART_ORDER, PORT_OF_PART, PORT_OWNER, REGIONS, Parts, PartStatus, quiet
from sandbox.postgres import NODES, PgLayout
from sandbox.state import StateFolder, config_summary, new_secrets

__all__ = ["PART_ORDER", "REGIONS", "PartStatus", "Sandbox"]

_RESET_FIX = "run `rxsuite sandbox reset` to wipe it and start afresh (every row and key in it is lost)"


class Sandbox:
    """One sandbox instance, identified by its state folder."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir.resolve()
        self.folder = StateFolder(self.state_dir)
        self.parts = Parts(config, self.folder)
        self.faults = Faults(self.parts)

    # ----- public URLs and credentials (for tests, load users, probes) ------------------------------------------
    @property
    def part_names(self) -> tuple[str, ...]:
        return PART_ORDER

    @property
    def logs_dir(self) -> Path:
        return self.folder.logs_dir

    @property
    def credentials_file(self) -> Path:
        return self.folder.credentials_file

    @property
    def edge_url(self) -> str:
        return self.config.url("edge")

    @property
    def region_urls(self) -> dict[str, str]:
        return {region: self.parts.url(region) for region in REGIONS}

    @property
    def payments_url(self) -> str:
        return self.config.url("payments")

    @property
    def fault_proxy_url(self) -> str:
        return self.config.url("fault_api")

    @property
    def failover_url(self) -> str:
        return self.config.url("failover")

    @property
    def stats_url(self) -> str:
        return self.config.url("edge_stats")

    @property
    def anon_key(self) -> str:
        return str(self.folder.secrets()["anon_key"])

    @property
    def service_key(self) -> str:
        return str(self.folder.secrets()["service_key"])

    @property
    def webhook_secret(self) -> str:
        return str(self.folder.secrets()["webhook_secret"])

    @property
    def jwt_secret(self) -> str:
        return str(self.folder.secrets()["jwt_secret"])

    @property
    def credentials(self) -> list[dict[str, str]]:
        with open(self.credentials_file, newline="") as src:
            return list(csv.DictReader(src))

    def layout(self) -> PgLayout:
        return self.parts.layout()

    def topology(self) -> dict[str, Any]:
        return self.folder.topology()

    def node_conninfo(self, node: str, superuser: bool = False) -> str:
        layout = self.layout()
        return layout.superuser_conninfo(node, dbname=postgres.DATABASE) if superuser else layout.conninfo(node)

    def primary_conninfo(self) -> str:
        """A direct connection (not through the fault proxy) to whichever node is primary now."""
        return self.node_conninfo(self.topology()["primary"])

    # ----- up: initialise once, repair after -------------------------------------------------------------------
    def up(self, on_step: StepCallback = quiet) -> bool:
        """Start every part that is not running and wait until each is healthy; never deletes data.

        Returns False when everything was already running. A sandbox whose first start never finished holds no
        data yet and is started afresh; one that was initialised is repaired: its dead parts restart on its data.
        """
        state = self.folder.load()
        if state is not None and StateFolder.initialised(state):
            dead = self._dead_parts(state)
            if not dead:
                on_step("sandbox", "up", f"already running from {self.state_dir}")
                return False
            self._repair(state, dead, on_step)
            return True
        if state is not None:
            on_step("sandbox", "stale", "an earlier start did not finish (it held no data yet): starting afresh")
            self.down()
        self._preflight(PART_ORDER)
        try:
            self._initialise(on_step)
        except BaseException:
            on_step("sandbox", "failed", "stopping everything already started")
            self.down()
            raise
        return True

    def _preflight(self, parts: tuple[str, ...]) -> None:
        haproxy.find_haproxy()
        postgres.find_bin_dir()
        for part in (p for p in parts if p in monitoring.BINARIES):
            monitoring.find_binary(part)
        for name, port in self.config.ports.items():
            if PORT_OWNER[name] in parts and not port_is_free(port):
                raise SandboxError(PORT_OWNER[name], f"port {port} is already in use",
                                   f"stop what listens there or change sandbox.ports.{name} in the environment file")

    def _initialise(self, on_step: StepCallback) -> None:
        self.folder.wipe()  # only a folder whose first start never finished: see `up`
        self.folder.logs_dir.mkdir(parents=True)
        self.state_dir.chmod(0o755)
        state: dict[str, Any] = {"status": "starting", "started_at": datetime.now(UTC).isoformat(),
                                 "config": config_summary(self.config), "parts": {}}
        self.folder.save(state)
        secret = new_secrets(postgres.find_bin_dir())
        self.folder.write_secrets(secret)
        started = time.monotonic()
        rules = start_child(self.parts.monitoring.rules_argv(), self.logs_dir / "rules.log")
        try:
            self._start_parts(state, secret, on_step, rules)
        finally:
            stop_child(rules)
        state["status"] = "up"
        state["up_after_s"] = round(time.monotonic() - started, 2)
        self.folder.save(state)
        on_step("sandbox", "up", f"all parts healthy after {state['up_after_s']:.1f} s")

    def _start_parts(self, state: dict[str, Any], secret: dict[str, Any], on_step: StepCallback,
                     rules: subprocess.Popen[bytes]) -> None:
        layout = self.parts.layout(secret)
        self.parts.start(state, "fault-proxy", secret, on_step)
        self.parts.start(state, "payments", secret, on_step)
        for part in monitoring.PARTS[:-1]:  # Prometheus last: it loads the rules still being generated
            self.parts.start(state, part, secret, on_step)

        on_step("pg-a", "starting", "initdb, primary")
        postgres.prepare_dirs(layout)
        postgres.init_primary(layout, "pg-a")
        postgres.start(layout, "pg-a")
        self.parts.record_node(state, "pg-a")
        postgres.create_roles(layout, "pg-a")
        self._seed(layout)
        on_step("pg-a", "up", f"primary on 127.0.0.1:{layout.ports['pg-a']}")

        for region in REGIONS:
            self.parts.start(state, region, secret, on_step)

        self.parts.wait_healthy("fault-proxy")
        on_step("pg-b", "starting", "base backup, streaming standby")
        postgres.clone_standby(layout, "pg-a", "pg-b")
        postgres.start(layout, "pg-b")
        self.parts.record_node(state, "pg-b")
        self.parts.wait(lambda: "pg-b" in postgres.node_status(layout, "pg-a").streaming_to, "pg-b",
                        "standby streaming from the primary")
        if layout.synchronous:
            # Only now: with synchronous commit on and no standby yet, creating roles and seeding would wait forever.
            postgres.set_synchronous(layout, "pg-a", enabled=True)
        on_step("pg-b", "up", f"standby on 127.0.0.1:{layout.ports['pg-b']}, {self.config.replication} replication")
        postgres.take_base_backup(layout, "pg-a", "base")
        on_step("pg-a", "up", "base backup taken for point-in-time restore")

        self._start_front(state, secret, ("edge", "failover"), on_step)
        self._start_monitoring(state, secret, monitoring.PARTS[-1:], on_step, rules)

    def _start_monitoring(self, state: dict[str, Any], secret: dict[str, Any], starting: tuple[str, ...],
                          on_step: StepCallback, rules: subprocess.Popen[bytes] | None = None) -> None:
        """Start the monitoring parts of `starting` (Prometheus once the rule generator is done) and wait for all."""
        if "prometheus" in starting:
            # the platform file is written last: without it the rules are missing or from before the edge rules
            if rules is None and not (self.state_dir / monitoring.RULES_DIR / monitoring.PLATFORM_RULES).is_file():
                rules = start_child(self.parts.monitoring.rules_argv(), self.logs_dir / "rules.log")
            try:
                generated = rules is None or rules.wait(timeout=60) == 0
            except subprocess.TimeoutExpired:
                generated = False
            if not generated:
                raise SandboxError("prometheus", "the alert rules (default and edge specs) were not generated",
                                   f"see {self.logs_dir / 'rules.log'}")
        for part in starting:
            if not Parts.running(state, part):
                self.parts.start(state, part, secret, on_step)
        for part in monitoring.PARTS:
            self.parts.wait_healthy(part)
            on_step(part, "up", self.parts.url(part))

    def _start_front(self, state: dict[str, Any], secret: dict[str, Any], starting: tuple[str, ...],
                     on_step: StepCallback) -> None:
        """The edge (once the regions answer) and the failover manager (last, once the databases run); then the
        health gate of every part of `starting` and of the regions, payments and fault proxy."""
        if "edge" in starting:
            self.parts.start(state, "edge", secret, on_step)
        for part in ("region-a", "region-b", "payments", "fault-proxy", "edge"):
            self.parts.wait_healthy(part)
            on_step(part, "up", self.parts.url(part))
        if "failover" in starting:
            self.parts.start(state, "failover", secret, on_step)
            self.parts.wait_healthy("failover")
        on_step("failover", "up", f"{self.failover_url} (auto={self.config.failover.auto})")

    def _seed(self, layout: PgLayout) -> None:
        from sandbox.app.platform_schema import apply_schema
        from sandbox.app.seed import seed_database

        conninfo = layout.conninfo("pg-a")
        apply_schema(conninfo, admin_conninfo=layout.superuser_conninfo("pg-a", dbname=postgres.DATABASE))
        seed = self.config.seed
        seed_database(conninfo, patients=seed.patients, doctors=seed.doctors, pharmacists=seed.pharmacists,
                      medications=seed.medications, credentials_path=self.credentials_file)
        self.credentials_file.chmod(0o600)

    def _dead_parts(self, state: dict[str, Any]) -> tuple[str, ...]:
        """Parts that should run and do not. A node the failover manager declared lost stays down: it diverged,
        and only a rebuild (the drill action `ensure_standby`) brings it back."""
        lost = self._lost_node()
        layout = self.parts.layout() if self.folder.secrets_file.exists() else None
        dead = []
        for part in PART_ORDER:
            if part in NODES:
                if part != lost and (layout is None or postgres.postmaster_pid(layout, part) is None):
                    dead.append(part)
            elif not Parts.running(state, part):
                dead.append(part)
        return tuple(dead)

    def _lost_node(self) -> str | None:
        try:
            return self.folder.topology().get("lost")
        except (OSError, ValueError):
            return None

    def _repair(self, state: dict[str, Any], dead: tuple[str, ...], on_step: StepCallback) -> None:
        on_step("sandbox", "repair", f"restarting {', '.join(dead)} on the data in {self.state_dir}")
        try:
            secret = self.folder.secrets()
        except SandboxError as exc:
            raise SandboxError("state", f"{self.folder.secrets_file} is missing: the sandbox's keys and database "
                               "passwords are gone, so its data cannot be reached", _RESET_FIX) from exc
        self._preflight(dead)
        layout = self.parts.layout(secret)
        for node in (n for n in dead if n in NODES):
            if not (layout.data_dir(node) / "PG_VERSION").is_file():
                raise SandboxError(node, f"its data directory {layout.data_dir(node)} is unusable (no PG_VERSION)",
                                   _RESET_FIX)
        started = time.monotonic()
        state["status"] = "starting"
        self.folder.save(state)
        try:
            for part in dead:
                if part in NODES:
                    self._restart_node(state, part, on_step)
                elif part not in ("edge", "failover", *monitoring.PARTS):
                    self.parts.start(state, part, secret, on_step)
            self._start_front(state, secret, tuple(p for p in dead if p in ("edge", "failover")), on_step)
            self._start_monitoring(state, secret, tuple(p for p in dead if p in monitoring.PARTS), on_step)
        except BaseException:
            on_step("sandbox", "failed", "stopping every part (the data stays)")
            self.down()
            raise
        state["status"] = "up"
        state["repaired_at"] = datetime.now(UTC).isoformat()
        self.folder.save(state)
        on_step("sandbox", "up", f"repaired after {time.monotonic() - started:.1f} s; no data was touched")

    def _restart_node(self, state: dict[str, Any], node: str, on_step: StepCallback) -> None:
        layout = self.parts.layout()
        data = layout.data_dir(node)
        on_step(node, "starting", f"on its data in {data}")
        try:
            postgres.start(layout, node)
        except SandboxError as exc:
            raise SandboxError(node, f"does not start on its data directory {data} ({exc.cause})",
                               f"see {layout.log_path(node)}; if the data is beyond repair, {_RESET_FIX}") from exc
        self.parts.record_node(state, node)
        on_step(node, "up", f"127.0.0.1:{layout.ports[node]}")

    # ----- down, reset, status ----------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every part this sandbox started, by pid; returns the names of the parts that were running. The data
        stays: the next `up` starts on it."""
        state = self.folder.load()
        if state is None:
            return []
        stopped: list[str] = []
        parts = state.get("parts", {})
        for part in reversed(PART_ORDER):
            if part in NODES:
                if self._stop_node(part):
                    stopped.append(part)
                continue
            entry = parts.get(part)
            if entry and entry.get("process"):
                ref = ProcessRef.from_json(entry["process"])
                if is_running(ref):
                    thaw(ref)
                    stop(ref, timeout_s=5)
                    stopped.append(part)
        state["status"] = "down"
        state["stopped_at"] = datetime.now(UTC).isoformat()
        self.folder.save(state)
        return stopped

    def reset(self) -> list[str]:
        """Stop everything and delete the state folder: every row, key and log. Only on an explicit request."""
        stopped = self.down()
        self.folder.wipe()
        return stopped

    def _stop_node(self, node: str) -> bool:
        try:
            layout = self.layout()
        except SandboxError:
            return False
        pid = postgres.postmaster_pid(layout, node)
        if pid is None:
            return False
        for mode in ("fast", "immediate"):
            try:
                postgres.stop(layout, node, mode=mode, timeout_s=10)
                return True
            except SandboxError:
                continue
        ref = ref_for(pid)  # pg_ctl could not stop it: the postmaster's own children exit when it dies
        if ref is not None:
            stop(ref, timeout_s=0, sig=signal.SIGKILL)
        return True

    def status(self) -> list[PartStatus]:
        state = self.folder.load()
        if state is None:
            return []
        parts = state.get("parts", {})
        result: list[PartStatus] = []
        layout = self.layout() if self.folder.secrets_file.exists() else None
        try:
            edge_states = self.parts.edge_server_states()
        except (httpx.HTTPError, KeyError):
            edge_states = {}
        for part in PART_ORDER:
            entry = parts.get(part)
            url = entry["url"] if entry else self.config.url(PORT_OF_PART[part])
            if part in NODES:
                if layout is None:
                    result.append(PartStatus(part, None, False, url))
                    continue
                node = postgres.node_status(layout, part)
                lag = "" if node.replication_lag_bytes is None else f"replication lag {node.replication_lag_bytes} B"
                streaming = f"streaming to {', '.join(node.streaming_to)}" if node.streaming_to else ""
                result.append(PartStatus(part, postgres.postmaster_pid(layout, part), node.running, url, node.role,
                                         "; ".join(x for x in (streaming, lag) if x)))
                continue
            ref = ProcessRef.from_json(entry["process"]) if entry and entry.get("process") else None
            running = ref is not None and is_running(ref)
            role = None
            if part in REGIONS:
                edge_state = edge_states.get(part)
                role = "active" if part == "region-a" else "backup"
                if edge_state:
                    role += f", edge sees {edge_state}"
            detail = monitoring.readiness(url, part) if running and part in monitoring.PARTS else ""
            result.append(PartStatus(part, ref.pid if ref else None, running, url, role, detail))
        return result

    def log_files(self) -> dict[str, Path]:
        pg_logs = (self.state_dir / "pg" / "logs").glob("*.log")
        return {p.stem: p for p in sorted([*self.logs_dir.glob("*.log"), *pg_logs])}

    def iter_log(self, part: str) -> Iterator[str]:
        path = self.log_files().get(part)
        if path is None:
            raise SandboxError(part, "no such log", f"parts with logs: {', '.join(self.log_files()) or 'none'}")
        with open(path, errors="replace") as src:
            yield from src
