"""HAProxy as the sandbox's edge: region-a active, region-b backup, both health-checked on /health."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
from pathlib import Path

import httpx

from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError


def find_haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise SandboxError("edge", "HAProxy is not installed", "run `make deps` or `apt-get install haproxy`")
    return found


def admin_socket(config: SandboxConfig) -> Path:
    return config.state_dir.resolve() / "haproxy.sock"


def render_config(config: SandboxConfig) -> str:
    ports = config.ports
    edge = config.edge
    return f"""\
global
    maxconn 4096
    stats socket {admin_socket(config)} mode 600 level admin

defaults
    mode http
    option forwardfor
    option redispatch
    retries 1
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout http-keep-alive 30s

frontend edge
    bind 127.0.0.1:{ports["edge"]}
    default_backend regions

backend regions
    option httpchk GET /health
    http-check expect status 200
    default-server inter {edge.check_interval_ms}ms fastinter {edge.check_interval_ms}ms \
fall {edge.fall} rise {edge.rise} on-marked-down shutdown-sessions
    server region-a 127.0.0.1:{ports["region_a"]} check
    server region-b 127.0.0.1:{ports["region_b"]} check backup

frontend stats
    bind 127.0.0.1:{ports["edge_stats"]}
    stats enable
    stats uri /stats
    stats refresh 5s
    http-request use-service prometheus-exporter if {{ path /metrics }}
"""


def write_config(config: SandboxConfig, path: Path) -> Path:
    path.write_text(render_config(config))
    return path


def check_config(binary: str, path: Path) -> None:
    done = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError("edge", f"HAProxy rejected its configuration: {done.stderr.strip()[-200:]}",
                           f"check {path}")


def server_states(stats_url: str, timeout_s: float = 1.0) -> dict[str, str]:
    """Each region server's state as HAProxy sees it (UP, DOWN, ...), read from the stats CSV."""
    response = httpx.get(f"{stats_url}/stats;csv", timeout=timeout_s)
    response.raise_for_status()
    reader = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
    return {row["svname"]: row["status"] for row in reader
            if row["pxname"] == "regions" and row["svname"] not in ("FRONTEND", "BACKEND")}


def set_server_enabled(config: SandboxConfig, region: str, enabled: bool) -> None:
    """Put a region's server in or out of maintenance through HAProxy's runtime API (no reload, no restart)."""
    command = f"{'enable' if enabled else 'disable'} server regions/{region}\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(str(admin_socket(config)))
        sock.sendall(command.encode())
        reply = sock.recv(4096).decode().strip()
    if reply:
        raise SandboxError("edge", f"HAProxy refused {command.strip()!r}: {reply}", "check the region name")
