"""The fault primitives of a running sandbox, used by tests and the sandbox chaos driver: kill, freeze and restart a
region, take it out of the edge's rotation, stop a database node, ask the failover manager."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx

from rxcore.processes import ProcessRef, is_running, stop
from sandbox import haproxy, postgres
from sandbox.errors import SandboxError
from sandbox.parts import Parts, quiet

__all__ = ["Faults", "thaw"]


class Faults:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def kill_region(self, region: str) -> None:
        """Kill a region's app at once (SIGKILL): the region outage."""
        stop(self.parts.ref(region), timeout_s=0, sig=signal.SIGKILL)

    def freeze_region(self, region: str) -> None:
        """Stop a region's app without killing it (SIGSTOP): it holds connections but answers nothing."""
        os.kill(self.parts.ref(region).pid, signal.SIGSTOP)

    def thaw_region(self, region: str) -> None:
        thaw(self.parts.ref(region))

    def start_region(self, region: str, version: str | None = None) -> None:
        """(Re)start a region's app, optionally as another version, and wait until it is healthy."""
        state = self.parts.folder.load() or {}
        if Parts.running(state, region):
            stop(self.parts.ref(region))
        self.parts.start(state, region, self.parts.folder.secrets(), quiet, version)
        self.parts.wait_region_ready(region)

    def set_edge_server(self, region: str, enabled: bool) -> None:
        """Take a region out of (or back into) HAProxy's rotation, e.g. to drill an outage with no backup."""
        haproxy.set_server_enabled(self.parts.config, region, enabled)

    def stop_node(self, node: str, mode: str = "immediate") -> None:
        postgres.stop(self.parts.layout(), node, mode=mode)

    def failover_request(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.parts.url('failover')}{path}", json=body or {}, timeout=60)
        if response.status_code != 200:
            raise SandboxError("failover", f"{path} refused: {response.json().get('error')}", "see its status")
        answer: dict[str, Any] = response.json()
        return answer


def thaw(ref: ProcessRef) -> None:
    if is_running(ref):
        os.kill(ref.pid, signal.SIGCONT)
