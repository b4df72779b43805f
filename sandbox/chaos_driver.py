"""The `sandbox` chaos driver: processes, edge and database nodes of the embedded platform, through Sandbox's public
fault primitives. Node names may be symbolic (primary, standby, lost), resolved from the failover manager's
topology at the moment the action runs."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from rxcore.plugins import DriverContext
from sandbox import haproxy, pitr, postgres
from sandbox.errors import SandboxError
from sandbox.stack import REGIONS, Sandbox

__all__ = ["SandboxDriver"]

READ_PATH = "/rest/v1/medications?select=id&limit=1"  # a database read through the region's REST API


class SandboxDriver:
    name = "sandbox"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, action: str, args: dict[str, Any], ctx: DriverContext) -> dict[str, Any]:
        return getattr(self, f"_{action}")(ctx=ctx, **args) or {}

    # ----- regions and edge ------------------------------------------------------------------------------------
    def _kill_region(self, region: str, ctx: DriverContext) -> None:
        self.sandbox.faults.kill_region(region)

    def _freeze_region(self, region: str, ctx: DriverContext) -> None:
        self.sandbox.faults.freeze_region(region)

    def _thaw_region(self, region: str, ctx: DriverContext) -> None:
        self.sandbox.faults.thaw_region(region)

    def _start_region(self, region: str, ctx: DriverContext, version: str | None = None) -> dict[str, Any]:
        self.sandbox.faults.start_region(region, version=version)
        return {"version": version or self.sandbox.config.version}

    def _ensure_region(self, region: str, ctx: DriverContext) -> dict[str, Any]:
        """Idempotent rollback: the region runs, unfrozen, at the configured version."""
        with contextlib.suppress(SandboxError):
            self.sandbox.faults.thaw_region(region)
        if self._region_version(region) == self.sandbox.config.version:
            return {"changed": False}
        self.sandbox.faults.start_region(region)
        return {"changed": True, "version": self.sandbox.config.version}

    def _wait_region_ready(self, region: str, ctx: DriverContext, timeout_s: float = 60) -> dict[str, Any]:
        """A deploy's readiness gate: the region itself (not the edge) answers a database read."""
        url = f"{self.sandbox.region_urls[region]}{READ_PATH}"
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            try:
                if httpx.get(url, headers={"apikey": self.sandbox.anon_key}, timeout=3).status_code == 200:
                    return {"ready_after_s": round(time.monotonic() - started, 2)}
            except httpx.HTTPError:
                pass
            if ctx.abort.wait(0.2):
                break
        raise SandboxError(region, f"not ready (database read) within {timeout_s:g} s", "see its log")

    def _region_version(self, region: str) -> str | None:
        try:
            response = httpx.get(f"{self.sandbox.region_urls[region]}/health", timeout=1.5)
            return response.json().get("version") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def _set_edge_server(self, region: str, enabled: bool, ctx: DriverContext) -> None:
        self.sandbox.faults.set_edge_server(region, enabled)

    # ----- database ----------------------------------------------------------------------------------------------
    def resolve_node(self, node: str) -> str:
        if node in postgres.NODES:
            return node
        resolved = self.sandbox.topology().get(node)
        if resolved is None:
            raise SandboxError("failover", f"the topology has no {node} node now", "run ensure_standby first")
        return str(resolved)

    def _stop_node(self, node: str, ctx: DriverContext, mode: str = "immediate") -> dict[str, Any]:
        resolved = self.resolve_node(node)
        self.sandbox.faults.stop_node(resolved, mode=mode)
        return {"node": resolved}

    def _set_auto_failover(self, enabled: bool, ctx: DriverContext) -> None:
        self.sandbox.faults.failover_request("/auto", {"enabled": enabled})

    def _ensure_standby(self, ctx: DriverContext, timeout_s: float = 60) -> dict[str, Any]:
        """Idempotent rollback: rebuild a lost node as a standby (the manager returns once it streams)."""
        started = time.monotonic()
        rebuilt = self.sandbox.topology().get("lost")
        if rebuilt is not None:
            self.sandbox.faults.failover_request("/rebuild")
        while time.monotonic() - started < timeout_s:
            topology = self.sandbox.topology()
            status = postgres.node_status(self.sandbox.layout(), topology["primary"])
            if topology.get("standby") and topology["standby"] in status.streaming_to:
                return {"rebuilt": rebuilt, "primary": topology["primary"], "standby": topology["standby"],
                        "waited_s": round(time.monotonic() - started, 2)}
            time.sleep(0.2)
        raise SandboxError("failover", f"no streaming standby within {timeout_s:g} s", "see the pg logs")

    def _set_synchronous(self, enabled: bool, ctx: DriverContext) -> dict[str, Any]:
        primary = self.sandbox.topology()["primary"]
        postgres.set_synchronous(self.sandbox.layout(), primary, enabled)
        return {"node": primary}

    # ----- payment provider --------------------------------------------------------------------------------------
    def _payments_control(self, ctx: DriverContext, **settings: Any) -> dict[str, Any]:
        url = f"{self.sandbox.payments_url}/_control" + ("" if settings else "/reset")
        response = httpx.post(url, json=settings, timeout=5)
        response.raise_for_status()
        return {"sent": settings or "reset"}

    # ----- point-in-time restore ----------------------------------------------------------------------------------
    def _restore_to_mark(self, mark: str, ctx: DriverContext, timeout_s: float = 90) -> dict[str, Any]:
        """Restore the base backup + archived WAL to the marked time on a spare port, then check the ledger:
        every write acknowledged before the target is there, none sent after it is."""
        if mark not in ctx.marks:
            raise SandboxError("drill", f"no mark named {mark!r} was set before the restore",
                               "add a drill.mark step before restore_to_mark")
        target = ctx.marks[mark]
        layout = self.sandbox.layout()
        started = time.monotonic()
        pitr.archive_current_wal(layout, self.sandbox.topology()["primary"])
        restored = pitr.restore_to_time(layout, datetime.fromtimestamp(target, UTC), timeout_s=timeout_s)
        try:
            duration = time.monotonic() - started
            with psycopg.connect(restored.conninfo) as conn:
                rows = conn.execute("SELECT seq FROM probe_writes WHERE run_id = %s", (ctx.run_id,)).fetchall()
        finally:
            pitr.discard(restored)
        present = {row[0] for row in rows}
        writes = ctx.prober.samples("write") if ctx.prober else []
        acked_before = {s.seq for s in writes if s.ok and s.done <= target}
        sent_after = {s.seq for s in writes if s.sent > target}
        missing = sorted(acked_before - present)
        late = sorted(sent_after & present)
        ctx.metrics.update(restore_duration_s=round(duration, 3), restore_missing_before_target=len(missing),
                           restore_present_after_target=len(late))
        return {"target": datetime.fromtimestamp(target, UTC).isoformat(), "restore_duration_s": round(duration, 3),
                "acknowledged_before_target": len(acked_before), "present_in_restore": len(present),
                "missing_before_target": missing, "present_after_target": late,
                "recovery_wait_s": round(restored.recovery_s, 3)}

    # ----- steady state --------------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What differs from a healthy sandbox as it was started (empty when healthy)."""
        found = [f"{p.name} is not running" for p in self.sandbox.status() if not p.running]
        try:
            states = haproxy.server_states(self.sandbox.stats_url)
            found += [f"edge sees {name} {state}" for name, state in states.items() if state != "UP"]
        except (httpx.HTTPError, KeyError) as exc:
            found.append(f"edge stats unreadable: {exc}")
        topology = self.sandbox.topology()
        if topology.get("lost") or not topology.get("standby"):
            found.append(f"database: no standby (lost: {topology.get('lost')})")
        else:
            status = postgres.node_status(self.sandbox.layout(), topology["primary"])
            if topology["standby"] not in status.streaming_to:
                found.append(f"database: {topology['standby']} is not streaming from {topology['primary']}")
        for region in REGIONS:
            version = self._region_version(region)
            if version != self.sandbox.config.version:
                found.append(f"{region} answers version {version}, expected {self.sandbox.config.version}")
        found += self._fault_proxy_problems()
        found += self._payments_problems()
        return found

    def _payments_problems(self) -> list[str]:
        try:
            state = httpx.get(f"{self.sandbox.payments_url}/_control", timeout=2).json()
        except (httpx.HTTPError, ValueError) as exc:
            return [f"payment provider control unreadable: {exc}"]
        return ["payment provider is in outage mode"] if isinstance(state, dict) and state.get("outage") else []

    def _fault_proxy_problems(self) -> list[str]:
        try:
            proxies = httpx.get(f"{self.sandbox.fault_proxy_url}/proxies", timeout=2).json()
        except (httpx.HTTPError, ValueError) as exc:
            return [f"fault proxy unreadable: {exc}"]
        found = []
        for name, proxy in proxies.items():
            if not proxy.get("enabled", True):
                found.append(f"fault proxy {name} is disabled")
            if proxy.get("toxics"):
                found.append(f"fault proxy {name} has toxics: {[t.get('name') for t in proxy['toxics']]}")
        return found
