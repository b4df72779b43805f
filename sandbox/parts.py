"""The sandbox's parts one by one: how each is started (argv, environment, config files), recorded the moment it
starts (so a crash or Ctrl-C can be cleaned up by pid), and judged healthy."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rxcore.files import write_json_atomic
from rxcore.plugins import StepCallback
from rxcore.processes import ProcessRef, is_running, signals_deferred, spawn, wait_until
from sandbox import haproxy, monitoring, postgres
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.failover import CONFIG_FILE as FAILOVER_CONFIG
from sandbox.failover import TOPOLOGY_FILE
from sandbox.postgres import PgLayout
from sandbox.state import StateFolder

__all__ = ["PART_ORDER", "PORT_OWNER", "REGIONS", "PartStatus", "Parts", "quiet"]

REGIONS = ("region-a", "region-b")
# Start order; `down` stops in reverse, the failover manager first so it does not react to the shutdown.
PART_ORDER = ("fault-proxy", "payments", "pg-a", "pg-b", "region-a", "region-b", "edge", "failover",
              *monitoring.PARTS)
PORT_OF_PART = {"fault-proxy": "fault_api", "payments": "payments", "pg-a": "pg_a", "pg-b": "pg_b",
                "region-a": "region_a", "region-b": "region_b", "edge": "edge", "failover": "failover",
                **monitoring.PORT_OF_PART}
PORT_OWNER = {
    "edge": "edge", "edge_stats": "edge", "region_a": "region-a", "region_b": "region-b", "payments": "payments",
    "failover": "failover", "pg_a": "pg-a", "pg_b": "pg-b", "fault_api": "fault-proxy",
    "proxy_pg_a": "fault-proxy", "proxy_pg_b": "fault-proxy", "proxy_replication": "fault-proxy",
    **{port: part for part, port in monitoring.PORT_OF_PART.items()},
}
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def quiet(part: str, state: str, detail: str) -> None:
    return


@dataclass(frozen=True)
class PartStatus:
    name: str
    pid: int | None
    running: bool
    url: str
    role: str | None = None
    detail: str = ""


class Parts:
    def __init__(self, config: SandboxConfig, folder: StateFolder) -> None:
        self.config = config
        self.folder = folder
        self.monitoring = monitoring.MonitoringFiles(config, folder.path, folder.logs_dir)

    def layout(self, secret: dict[str, Any] | None = None) -> PgLayout:
        secret = secret if secret is not None else self.folder.secrets()
        ports = self.config.ports
        return PgLayout(state_dir=self.folder.path, bin_dir=Path(secret["pg_bin_dir"]),
                        ports={"pg-a": ports["pg_a"], "pg-b": ports["pg_b"]}, passwords=secret["pg_passwords"],
                        replication_proxy_port=ports["proxy_replication"],
                        synchronous=self.config.replication == "sync")

    # ----- processes -----------------------------------------------------------------------------------------------
    def start(self, state: dict[str, Any], part: str, secret: dict[str, Any], on_step: StepCallback,
              version: str | None = None) -> None:
        """Spawn a process part (not a database node) and record it in `state` at once."""
        argv, env = self._command(part, secret, version)
        on_step(part, "starting", "")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with signals_deferred():
            ref = spawn(argv, self.folder.logs_dir / f"{part}.log", env=full_env, cwd=_PROJECT_ROOT)
            state.setdefault("parts", {})[part] = {"process": ref.to_json(), "url": self.url(part)}
            self.folder.save(state)

    def record_node(self, state: dict[str, Any], node: str) -> None:
        state.setdefault("parts", {})[node] = {"process": None, "url": self.url(node)}
        self.folder.save(state)

    def ref(self, part: str) -> ProcessRef:
        entry = ((self.folder.load() or {}).get("parts") or {}).get(part)
        if not entry or not entry.get("process"):
            raise SandboxError(part, "not started by this sandbox", "run `rxsuite sandbox up`")
        return ProcessRef.from_json(entry["process"])

    @staticmethod
    def running(state: dict[str, Any], part: str) -> bool:
        process = ((state.get("parts") or {}).get(part) or {}).get("process")
        return process is not None and is_running(ProcessRef.from_json(process))

    def url(self, part: str) -> str:
        if part in postgres.NODES:
            return f"postgresql://127.0.0.1:{self.config.ports[PORT_OF_PART[part]]}"
        return self.config.url(PORT_OF_PART[part])

    def _command(self, part: str, secret: dict[str, Any], version: str | None) -> tuple[list[str], dict[str, str]]:
        if part in monitoring.PARTS:
            return self.monitoring.command(part, secret)
        if part == "fault-proxy":
            return self._fault_proxy_argv(), {}
        if part == "payments":
            return ([sys.executable, "-m", "sandbox.payments", "--host", "127.0.0.1", "--port",
                     str(self.config.ports["payments"])], self._payments_env(secret))
        if part in REGIONS:
            return self._app_argv(part), self._app_env(part, secret, version)
        if part == "edge":
            return self._edge_argv(), {}
        self.write_failover_files(secret)
        return [sys.executable, "-m", "sandbox.failover", "--state-dir", str(self.folder.path)], {}

    def _fault_proxy_argv(self) -> list[str]:
        ports = self.config.ports
        proxies = [
            {"name": "pg-a", "listen": f"127.0.0.1:{ports['proxy_pg_a']}", "upstream": f"127.0.0.1:{ports['pg_a']}",
             "enabled": True},
            {"name": "pg-b", "listen": f"127.0.0.1:{ports['proxy_pg_b']}", "upstream": f"127.0.0.1:{ports['pg_b']}",
             "enabled": True},
            {"name": "replication", "listen": f"127.0.0.1:{ports['proxy_replication']}",
             "upstream": f"127.0.0.1:{ports[self._primary_port()]}", "enabled": True},
        ]
        config_path = self.folder.path / "faultproxy.json"
        write_json_atomic(config_path, proxies)
        return [sys.executable, "-m", "sandbox.faultproxy", "--host", "127.0.0.1", "--port", str(ports["fault_api"]),
                "--config", str(config_path)]

    def _primary_port(self) -> str:
        """The replication proxy leads to the primary: pg-a at first, whichever the topology says after a failover."""
        try:
            return PORT_OF_PART[self.folder.topology()["primary"]]
        except (OSError, ValueError, KeyError):
            return "pg_a"

    def _payments_env(self, secret: dict[str, Any]) -> dict[str, str]:
        return {"RXSUITE_PAYMENT_SECRET_KEY": secret["payment_secret_key"],
                "RXSUITE_WEBHOOK_SECRET": secret["webhook_secret"],
                "RXSUITE_WEBHOOK_URL": f"{self.config.url('edge')}/functions/v1/payment-webhook"}

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
            "RXSUITE_REGION": region,
            "RXSUITE_VERSION": version or self.config.version,
            "RXSUITE_DATABASE_URL": database_url,
            "RXSUITE_JWT_SECRET": secret["jwt_secret"],
            "RXSUITE_ANON_KEY": secret["anon_key"],
            "RXSUITE_SERVICE_KEY": secret["service_key"],
            "RXSUITE_PAYMENT_URL": self.config.url("payments"),
            "RXSUITE_PAYMENT_SECRET_KEY": secret["payment_secret_key"],
            "RXSUITE_WEBHOOK_SECRET": secret["webhook_secret"],
            "RXSUITE_ACCESS_TOKEN_TTL_S": str(self.config.access_token_ttl_s),
            "RXSUITE_RATE_PER_USER_RPS": str(rate.per_user_rps),
            "RXSUITE_RATE_PER_USER_BURST": str(rate.per_user_burst),
            "RXSUITE_RATE_PER_ADDRESS_RPS": str(rate.per_address_rps),
            "RXSUITE_RATE_PER_ADDRESS_BURST": str(rate.per_address_burst),
            "RXSUITE_SIGN_IN_ACCOUNT_BURST": str(rate.sign_in_account_burst),
            "RXSUITE_SIGN_IN_ACCOUNT_PER_MINUTE": str(rate.sign_in_account_per_minute),
            "RXSUITE_SIGN_IN_ADDRESS_BURST": str(rate.sign_in_address_burst),
            "RXSUITE_SIGN_IN_ADDRESS_PER_MINUTE": str(rate.sign_in_address_per_minute),
            "RXSUITE_ACCESS_LOG": str(self.folder.logs_dir / f"{region}.access.jsonl"),
        }

    def _edge_argv(self) -> list[str]:
        binary = haproxy.find_haproxy()
        path = haproxy.write_config(self.config, self.folder.path / "haproxy.cfg")
        haproxy.check_config(binary, path)
        return [binary, "-db", "-f", str(path)]

    def write_failover_files(self, secret: dict[str, Any]) -> None:
        """The manager's settings, and (only if there is none yet: it records every failover) the topology."""
        failover = self.config.failover
        write_json_atomic(self.folder.path / FAILOVER_CONFIG, {
            "bin_dir": secret["pg_bin_dir"],
            "pg_ports": {"pg-a": self.config.ports["pg_a"], "pg-b": self.config.ports["pg_b"]},
            "passwords": secret["pg_passwords"],
            "replication_proxy_port": self.config.ports["proxy_replication"],
            "synchronous": self.config.replication == "sync",
            "fault_api_url": self.config.url("fault_api"),
            "auto": failover.auto,
            "check_interval_s": failover.check_interval_s,
            "failure_threshold": failover.failure_threshold,
            "http_port": self.config.ports["failover"],
        }, mode=0o600)
        topology = self.folder.path / TOPOLOGY_FILE
        if not topology.exists():
            write_json_atomic(topology, {"primary": "pg-a", "standby": "pg-b", "lost": None, "events": []})

    # ----- health ----------------------------------------------------------------------------------------------------
    def wait(self, predicate: Callable[[], bool], part: str, what: str, timeout_s: float = 30) -> None:
        try:
            wait_until(lambda: _safe(predicate), timeout_s, what=what)
        except TimeoutError as exc:
            raise SandboxError(part, f"{what}: not reached within {timeout_s:g} s", f"see {self.log(part)}") from exc

    def wait_http(self, part: str, url: str, timeout_s: float = 30) -> None:
        ref_raw = (((self.folder.load() or {}).get("parts") or {}).get(part) or {}).get("process")

        def healthy() -> bool:
            if ref_raw and not is_running(ProcessRef.from_json(ref_raw)):
                raise SandboxError(part, "exited during start-up", f"see {self.log(part)}")
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if healthy():
                return
            time.sleep(0.1)
        raise SandboxError(part, f"{url} did not answer 200 within {timeout_s:g} s", f"see {self.log(part)}")

    def wait_region_ready(self, region: str, timeout_s: float = 30) -> None:
        """Healthy and with a working database pool: /health answering alone is not yet serving."""
        url = f"{self.url(region)}/health"
        self.wait_http(region, url, timeout_s)
        self.wait(lambda: httpx.get(url, timeout=1).json()["database"]["reachable"] is True, region,
                  "database reachable from the region", timeout_s)

    def wait_healthy(self, part: str) -> None:
        """The health gate of a process part once started."""
        if part in REGIONS:
            self.wait_region_ready(part)
        elif part == "fault-proxy":
            self.wait_http(part, f"{self.url(part)}/version")
        elif part == "payments":
            self.wait_http(part, f"{self.url(part)}/_control")
        elif part == "failover":
            self.wait_http(part, f"{self.url(part)}/status")
        elif part in monitoring.PARTS:
            self.wait_http(part, f"{self.url(part)}{monitoring.HEALTH_PATHS[part]}")
        else:
            self.wait(lambda: set(self.edge_server_states().values()) == {"UP"}, "edge", "both regions UP in HAProxy")

    def edge_server_states(self) -> dict[str, str]:
        return haproxy.server_states(self.config.url("edge_stats"))

    def log(self, part: str) -> Path:
        return self.folder.logs_dir / f"{part}.log"


def _safe(predicate: Callable[[], bool]) -> bool:
    try:
        return predicate()
    except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError):
        return False
