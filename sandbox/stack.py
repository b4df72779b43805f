"""The sandbox as a whole: bring every part up in order, remember what was started, take it all down again.

State lives in `state_dir`: `state.json` (parts, pids, URLs; no secrets), `secrets.json` (mode 600), the
topology file of the failover manager, PostgreSQL data under `pg/`, and one log per part under `logs/`.
Everything started is recorded the moment it starts, so a crash or Ctrl-C at any point can be cleaned up by pid.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from rxcore.files import write_json_atomic
from rxcore.processes import (
    ProcessRef,
    is_running,
    port_is_free,
    ref_for,
    signals_deferred,
    spawn,
    stop,
    wait_until,
)
from sandbox import haproxy, postgres
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.failover import CONFIG_FILE as FAILOVER_CONFIG
from sandbox.failover import TOPOLOGY_FILE
from sandbox.postgres import NODES, PgLayout

REGIONS = ("region-a", "region-b")
# Start order; `down` stops in reverse, the failover manager first so it does not react to the shutdown.
PART_ORDER = ("fault-proxy", "payments", "pg-a", "pg-b", "region-a", "region-b", "edge", "failover")
_PORT_OF_PART = {"fault-proxy": "fault_api", "payments": "payments", "pg-a": "pg_a", "pg-b": "pg_b",
                 "region-a": "region_a", "region-b": "region_b", "edge": "edge", "failover": "failover"}
_PORT_OWNER = {
    "edge": "edge", "edge_stats": "edge", "region_a": "region-a", "region_b": "region-b", "payments": "payments",
    "failover": "failover", "pg_a": "pg-a", "pg_b": "pg-b", "fault_api": "fault-proxy",
    "proxy_pg_a": "fault-proxy", "proxy_pg_b": "fault-proxy", "proxy_replication": "fault-proxy",
}
StepCallback = Callable[[str, str, str], None]


def _quiet(part: str, state: str, detail: str) -> None:
    return


@dataclass(frozen=True)
class PartStatus:
    name: str
    pid: int | None
    running: bool
    url: str
    role: str | None = None
    detail: str = ""


class Sandbox:
    """One sandbox instance, identified by its state folder."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir.resolve()

    # ----- paths and recorded state -------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def _secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.csv"

    def _load_state(self) -> dict[str, Any] | None:
        try:
            return _read_json(self._state_file)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _save_state(self, state: dict[str, Any]) -> None:
        write_json_atomic(self._state_file, state)

    def _secrets(self) -> dict[str, Any]:
        try:
            return _read_json(self._secrets_file)
        except FileNotFoundError as exc:
            raise SandboxError("state", f"no sandbox secrets in {self.state_dir}", "run `rxsuite sandbox up`") from exc

    # ----- public URLs and credentials (for tests, load users, probes) ------------------------------------------
    @property
    def edge_url(self) -> str:
        return self.config.url("edge")

    @property
    def region_urls(self) -> dict[str, str]:
        return {"region-a": self.config.url("region_a"), "region-b": self.config.url("region_b")}

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
        return self._secrets()["anon_key"]

    @property
    def service_key(self) -> str:
        return self._secrets()["service_key"]

    @property
    def webhook_secret(self) -> str:
        return self._secrets()["webhook_secret"]

    @property
    def jwt_secret(self) -> str:
        return self._secrets()["jwt_secret"]

    @property
    def credentials(self) -> list[dict[str, str]]:
        with open(self.credentials_file, newline="") as src:
            return list(csv.DictReader(src))

    def layout(self) -> PgLayout:
        secret = self._secrets()
        return self._layout(secret["pg_passwords"], Path(secret["pg_bin_dir"]))

    def _layout(self, passwords: dict[str, str], bin_dir: Path) -> PgLayout:
        ports = self.config.ports
        return PgLayout(state_dir=self.state_dir, bin_dir=bin_dir, ports={"pg-a": ports["pg_a"], "pg-b": ports["pg_b"]},
                        passwords=passwords, replication_proxy_port=ports["proxy_replication"],
                        synchronous=self.config.replication == "sync")

    def topology(self) -> dict[str, Any]:
        return _read_json(self.state_dir / TOPOLOGY_FILE)

    def node_conninfo(self, node: str, superuser: bool = False) -> str:
        layout = self.layout()
        return layout.superuser_conninfo(node, dbname=postgres.DATABASE) if superuser else layout.conninfo(node)

    def primary_conninfo(self) -> str:
        """A direct connection (not through the fault proxy) to whichever node is primary now."""
        return self.node_conninfo(self.topology()["primary"])

    # ----- up ---------------------------------------------------------------------------------------------------
    def up(self, on_step: StepCallback = _quiet) -> bool:
        """Start every part and wait until each is healthy. Returns False when it was already up."""
        state = self._load_state()
        if state is not None:
            if state.get("status") == "up" and self._all_running(state):
                on_step("sandbox", "up", f"already running from {self.state_dir}")
                return False
            if state.get("status") != "down":
                on_step("sandbox", "stale", "cleaning up a sandbox left by an earlier crash")
                self.down()
        self._preflight()
        try:
            self._start_all(on_step)
        except BaseException:
            on_step("sandbox", "failed", "stopping everything already started")
            self.down()
            raise
        return True

    def _preflight(self) -> None:
        haproxy.find_haproxy()
        postgres.find_bin_dir()
        for name, port in self.config.ports.items():
            if not port_is_free(port):
                owner = _PORT_OWNER[name]
                raise SandboxError(owner, f"port {port} is already in use",
                                   f"stop what listens there or change sandbox.ports.{name} in the environment file")

    def _start_all(self, on_step: StepCallback) -> None:
        self._remove_state_dir()
        self.logs_dir.mkdir(parents=True)
        self.state_dir.chmod(0o755)
        state: dict[str, Any] = {"status": "starting", "started_at": datetime.now(UTC).isoformat(),
                                 "config": _config_summary(self.config), "parts": {}}
        self._save_state(state)
        secret = _new_secrets()
        secret["pg_bin_dir"] = str(postgres.find_bin_dir())
        write_json_atomic(self._secrets_file, secret, mode=0o600)
        layout = self._layout(secret["pg_passwords"], Path(secret["pg_bin_dir"]))
        started = time.monotonic()

        self._spawn_part(state, "fault-proxy", self._fault_proxy_argv(), {}, on_step)
        self._spawn_part(state, "payments", [sys.executable, "-m", "sandbox.payments", "--host", "127.0.0.1",
                                             "--port", str(self.config.ports["payments"])],
                         self._payments_env(secret), on_step)

        on_step("pg-a", "starting", "initdb, primary")
        postgres.prepare_dirs(layout)
        postgres.init_primary(layout, "pg-a")
        postgres.start(layout, "pg-a")
        self._record_pg(state, "pg-a")
        postgres.create_roles(layout, "pg-a")
        self._seed(layout)
        on_step("pg-a", "up", f"primary on 127.0.0.1:{layout.ports['pg-a']}")

        for region in REGIONS:
            self._spawn_part(state, region, self._app_argv(region), self._app_env(region, secret), on_step)

        self._wait_http("fault-proxy", f"{self.fault_proxy_url}/version")
        on_step("pg-b", "starting", "base backup, streaming standby")
        postgres.clone_standby(layout, "pg-a", "pg-b")
        postgres.start(layout, "pg-b")
        self._record_pg(state, "pg-b")
        self._wait(lambda: "pg-b" in postgres.node_status(layout, "pg-a").streaming_to, "pg-b",
                   "standby streaming from the primary")
        if layout.synchronous:
            # Only now: with synchronous commit on and no standby yet, creating roles and seeding would wait forever.
            postgres.set_synchronous(layout, "pg-a", enabled=True)
        on_step("pg-b", "up", f"standby on 127.0.0.1:{layout.ports['pg-b']}, {self.config.replication} replication")
        postgres.take_base_backup(layout, "pg-a", "base")
        on_step("pg-a", "up", "base backup taken for point-in-time restore")

        self._write_failover_files(secret)
        self._spawn_part(state, "edge", self._edge_argv(), {}, on_step)
        for region in REGIONS:
            self._wait_region_ready(region)
            on_step(region, "up", self.region_urls[region])
        self._wait_http("payments", f"{self.payments_url}/_control")
        on_step("payments", "up", self.payments_url)
        on_step("fault-proxy", "up", self.fault_proxy_url)
        self._wait(lambda: set(self._edge_server_states().values()) == {"UP"}, "edge",
                   "both regions UP in HAProxy")
        on_step("edge", "up", self.edge_url)
        self._spawn_part(state, "failover", [sys.executable, "-m", "sandbox.failover", "--state-dir",
                                             str(self.state_dir)], {}, on_step)
        self._wait_http("failover", f"{self.failover_url}/status")
        on_step("failover", "up", f"{self.failover_url} (auto={self.config.failover.auto})")
        state["status"] = "up"
        state["up_after_s"] = round(time.monotonic() - started, 2)
        self._save_state(state)
        on_step("sandbox", "up", f"all parts healthy after {state['up_after_s']:.1f} s")

    def _remove_state_dir(self) -> None:
        if not self.state_dir.exists():
            return
        if (self.state_dir / "pg").is_symlink():
            postgres.remove_dirs(self._layout({}, Path()))
        shutil.rmtree(self.state_dir)

    def _seed(self, layout: PgLayout) -> None:
        from sandbox.app.db import apply_schema
        from sandbox.app.seed import seed_database

        conninfo = layout.conninfo("pg-a")
        apply_schema(conninfo)
        seed = self.config.seed
        seed_database(conninfo, patients=seed.patients, doctors=seed.doctors, pharmacists=seed.pharmacists,
                      medications=seed.medications, credentials_path=self.credentials_file)
        self.credentials_file.chmod(0o600)

    def _spawn_part(self, state: dict[str, Any], part: str, argv: list[str], env: dict[str, str],
                    on_step: StepCallback) -> None:
        on_step(part, "starting", "")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with signals_deferred():
            ref = spawn(argv, self.logs_dir / f"{part}.log", env=full_env, cwd=Path(__file__).resolve().parent.parent)
            state["parts"][part] = {"process": ref.to_json(), "url": self.config.url(_PORT_OF_PART[part])}
            self._save_state(state)

    def _record_pg(self, state: dict[str, Any], node: str) -> None:
        port = self.config.ports[_PORT_OF_PART[node]]
        state["parts"][node] = {"process": None, "url": f"postgresql://127.0.0.1:{port}"}
        self._save_state(state)

    def _wait(self, predicate: Callable[[], bool], part: str, what: str, timeout_s: float = 30) -> None:
        try:
            wait_until(lambda: _safe(predicate), timeout_s, what=what)
        except TimeoutError as exc:
            raise SandboxError(part, f"{what}: not reached within {timeout_s:g} s",
                               f"see {self.logs_dir / (part + '.log')}") from exc

    def _wait_region_ready(self, region: str, timeout_s: float = 30) -> None:
        """Healthy and with a working database pool: /health answering alone is not yet serving."""
        url = f"{self.region_urls[region]}/health"
        self._wait_http(region, url, timeout_s)
        self._wait(lambda: httpx.get(url, timeout=1).json()["database"]["reachable"] is True, region,
                   "database reachable from the region", timeout_s)

    def _wait_http(self, part: str, url: str, timeout_s: float = 30) -> None:
        state = self._load_state() or {}
        ref_raw = (state.get("parts", {}).get(part) or {}).get("process")

        def healthy() -> bool:
            if ref_raw and not is_running(ProcessRef.from_json(ref_raw)):
                raise SandboxError(part, "exited during start-up", f"see {self.logs_dir / (part + '.log')}")
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if healthy():
                return
            time.sleep(0.1)
        raise SandboxError(part, f"{url} did not answer 200 within {timeout_s:g} s",
                           f"see {self.logs_dir / (part + '.log')}")

    def _edge_server_states(self) -> dict[str, str]:
        return haproxy.server_states(self.stats_url)

    # ----- argv and environment of each part --------------------------------------------------------------------
    def _fault_proxy_argv(self) -> list[str]:
        ports = self.config.ports
        proxies = [
            {"name": "pg-a", "listen": f"127.0.0.1:{ports['proxy_pg_a']}", "upstream": f"127.0.0.1:{ports['pg_a']}",
             "enabled": True},
            {"name": "pg-b", "listen": f"127.0.0.1:{ports['proxy_pg_b']}", "upstream": f"127.0.0.1:{ports['pg_b']}",
             "enabled": True},
            {"name": "replication", "listen": f"127.0.0.1:{ports['proxy_replication']}",
             "upstream": f"127.0.0.1:{ports['pg_a']}", "enabled": True},
        ]
        config_path = self.state_dir / "faultproxy.json"
        write_json_atomic(config_path, proxies)
        return [sys.executable, "-m", "sandbox.faultproxy", "--host", "127.0.0.1", "--port", str(ports["fault_api"]),
                "--config", str(config_path)]

    def _payments_env(self, secret: dict[str, Any]) -> dict[str, str]:
        return {"RX_PAYMENT_SECRET_KEY": secret["payment_secret_key"], "RX_WEBHOOK_SECRET": secret["webhook_secret"],
                "RX_WEBHOOK_URL": f"{self.edge_url}/functions/v1/payment-webhook"}

    def _app_argv(self, region: str) -> list[str]:
        port = self.config.ports["region_a" if region == "region-a" else "region_b"]
        return [sys.executable, "-m", "sandbox.app", "--host", "127.0.0.1", "--port", str(port)]

    def _app_env(self, region: str, secret: dict[str, Any], version: str | None = None) -> dict[str, str]:
        ports, rate = self.config.ports, self.config.rate_limit
        database_url = (f"host=127.0.0.1,127.0.0.1 port={ports['proxy_pg_a']},{ports['proxy_pg_b']} "
                        f"dbname={postgres.DATABASE} user={postgres.APP_USER} "
                        f"password={secret['pg_passwords'][postgres.APP_USER]} "
                        "target_session_attrs=read-write connect_timeout=2")
        return {
            "RX_REGION": region,
            "RX_VERSION": version or self.config.version,
            "RX_DATABASE_URL": database_url,
            "RX_JWT_SECRET": secret["jwt_secret"],
            "RX_ANON_KEY": secret["anon_key"],
            "RX_SERVICE_KEY": secret["service_key"],
            "RX_PAYMENT_URL": self.payments_url,
            "RX_PAYMENT_SECRET_KEY": secret["payment_secret_key"],
            "RX_WEBHOOK_SECRET": secret["webhook_secret"],
            "RX_ACCESS_TOKEN_TTL_S": str(self.config.access_token_ttl_s),
            "RX_RATE_PER_USER_RPS": str(rate.per_user_rps),
            "RX_RATE_PER_USER_BURST": str(rate.per_user_burst),
            "RX_RATE_PER_ADDRESS_RPS": str(rate.per_address_rps),
            "RX_RATE_PER_ADDRESS_BURST": str(rate.per_address_burst),
            "RX_SIGN_IN_ACCOUNT_BURST": str(rate.sign_in_account_burst),
            "RX_SIGN_IN_ACCOUNT_PER_MINUTE": str(rate.sign_in_account_per_minute),
            "RX_SIGN_IN_ADDRESS_BURST": str(rate.sign_in_address_burst),
            "RX_SIGN_IN_ADDRESS_PER_MINUTE": str(rate.sign_in_address_per_minute),
            "RX_ACCESS_LOG": str(self.logs_dir / f"{region}.access.jsonl"),
        }

    def _edge_argv(self) -> list[str]:
        binary = haproxy.find_haproxy()
        path = haproxy.write_config(self.config, self.state_dir / "haproxy.cfg")
        haproxy.check_config(binary, path)
        return [binary, "-db", "-f", str(path)]

    def _write_failover_files(self, secret: dict[str, Any]) -> None:
        failover = self.config.failover
        write_json_atomic(self.state_dir / FAILOVER_CONFIG, {
            "bin_dir": secret["pg_bin_dir"],
            "pg_ports": {"pg-a": self.config.ports["pg_a"], "pg-b": self.config.ports["pg_b"]},
            "passwords": secret["pg_passwords"],
            "replication_proxy_port": self.config.ports["proxy_replication"],
            "synchronous": self.config.replication == "sync",
            "fault_api_url": self.fault_proxy_url,
            "auto": failover.auto,
            "check_interval_s": failover.check_interval_s,
            "failure_threshold": failover.failure_threshold,
            "http_port": self.config.ports["failover"],
        }, mode=0o600)
        initial = {"primary": "pg-a", "standby": "pg-b", "lost": None, "events": []}
        write_json_atomic(self.state_dir / TOPOLOGY_FILE, initial)

    # ----- down, status -----------------------------------------------------------------------------------------
    def _all_running(self, state: dict[str, Any]) -> bool:
        for part in PART_ORDER:
            entry = state.get("parts", {}).get(part)
            if entry is None:
                return False
            if part in NODES:
                continue
            if not is_running(ProcessRef.from_json(entry["process"])):
                return False
        return True

    def down(self) -> list[str]:
        """Stop every part this sandbox started, by pid; returns the names of the parts that were running."""
        state = self._load_state()
        if state is None:
            return []
        stopped: list[str] = []
        parts = state.get("parts", {})
        for part in reversed(PART_ORDER):
            if part in NODES:
                if self._stop_pg(part):
                    stopped.append(part)
                continue
            entry = parts.get(part)
            if entry and entry.get("process"):
                ref = ProcessRef.from_json(entry["process"])
                if is_running(ref):
                    _thaw(ref)
                    stop(ref, timeout_s=5)
                    stopped.append(part)
        state["status"] = "down"
        state["stopped_at"] = datetime.now(UTC).isoformat()
        self._save_state(state)
        return stopped

    def _stop_pg(self, node: str) -> bool:
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
        state = self._load_state()
        if state is None:
            return []
        parts = state.get("parts", {})
        result: list[PartStatus] = []
        layout = self.layout() if self._secrets_file.exists() else None
        try:
            edge_states = self._edge_server_states()
        except (httpx.HTTPError, KeyError):
            edge_states = {}
        for part in PART_ORDER:
            entry = parts.get(part)
            url = entry["url"] if entry else self.config.url(_PORT_OF_PART[part])
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
            result.append(PartStatus(part, ref.pid if ref else None, running, url, role))
        return result

    def log_files(self) -> dict[str, Path]:
        pg_logs = (self.state_dir / "pg" / "logs").glob("*.log")
        return {p.stem: p for p in sorted([*self.logs_dir.glob("*.log"), *pg_logs])}

    # ----- fault primitives used by tests and the sandbox chaos driver ------------------------------------------
    def _part_ref(self, part: str) -> ProcessRef:
        state = self._load_state() or {}
        entry = state.get("parts", {}).get(part)
        if not entry or not entry.get("process"):
            raise SandboxError(part, "not started by this sandbox", "run `rxsuite sandbox up`")
        return ProcessRef.from_json(entry["process"])

    def kill_region(self, region: str) -> None:
        """Kill a region's app at once (SIGKILL): the region outage."""
        ref = self._part_ref(region)
        stop(ref, timeout_s=0, sig=signal.SIGKILL)

    def freeze_region(self, region: str) -> None:
        """Stop a region's app without killing it (SIGSTOP): it holds connections but answers nothing."""
        os.kill(self._part_ref(region).pid, signal.SIGSTOP)

    def thaw_region(self, region: str) -> None:
        _thaw(self._part_ref(region))

    def start_region(self, region: str, version: str | None = None) -> None:
        """(Re)start a region's app, optionally as another version, and wait until it is healthy."""
        state = self._load_state() or {}
        entry = state.get("parts", {}).get(region)
        if entry and entry.get("process") and is_running(ProcessRef.from_json(entry["process"])):
            stop(ProcessRef.from_json(entry["process"]))
        self._spawn_part(state, region, self._app_argv(region), self._app_env(region, self._secrets(), version),
                         _quiet)
        self._wait_region_ready(region)

    def set_edge_server(self, region: str, enabled: bool) -> None:
        """Take a region out of (or back into) HAProxy's rotation, e.g. to drill an outage with no backup."""
        haproxy.set_server_enabled(self.config, region, enabled)

    def stop_node(self, node: str, mode: str = "immediate") -> None:
        postgres.stop(self.layout(), node, mode=mode)

    def start_node(self, node: str) -> None:
        postgres.start(self.layout(), node)

    def failover_request(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.failover_url}{path}", json=body or {}, timeout=60)
        if response.status_code != 200:
            raise SandboxError("failover", f"{path} refused: {response.json().get('error')}", "see its status")
        return response.json()

    def iter_log(self, part: str) -> Iterator[str]:
        path = self.log_files().get(part)
        if path is None:
            raise SandboxError(part, "no such log", f"parts with logs: {', '.join(self.log_files()) or 'none'}")
        with open(path, errors="replace") as src:
            yield from src


def _thaw(ref: ProcessRef) -> None:
    if is_running(ref):
        os.kill(ref.pid, signal.SIGCONT)


def _safe(predicate: Callable[[], bool]) -> bool:
    try:
        return predicate()
    except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError):
        return False


def _new_secrets() -> dict[str, Any]:
    jwt_secret = secrets.token_urlsafe(48)
    issued = int(time.time())

    def key(role: str) -> str:
        return jwt.encode({"iss": "rxsuite-sandbox", "role": role, "iat": issued}, jwt_secret, algorithm="HS256")

    return {
        "jwt_secret": jwt_secret,
        "anon_key": key("anon"),
        "service_key": key("service_role"),
        "payment_secret_key": "sk_test_" + secrets.token_hex(24),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "pg_passwords": {name: secrets.token_urlsafe(18) for name in
                         (postgres.SUPERUSER, postgres.APP_USER, postgres.REPLICATION_USER)},
    }


def _config_summary(config: SandboxConfig) -> dict[str, Any]:
    return {"ports": config.ports, "replication": config.replication,
            "failover": vars(config.failover), "edge": vars(config.edge), "seed": vars(config.seed)}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())
