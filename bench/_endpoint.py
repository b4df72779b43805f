"""The load benchmarks' trivial endpoint: every GET gets the same small JSON array, as cheaply as possible.

HAProxy answers from its own config (`http-request return`), in C, so the load generator is the bottleneck and
its costs are what a benchmark measures. Without HAProxy the Python endpoint of the tests stands in (slower: on
two cores it takes a share of the CPU from the generator). Either way the process is started here and stopped
by its pid when the block ends, whatever happens.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.errors import SandboxError  # noqa: E402
from sandbox.haproxy import find_haproxy  # noqa: E402

BODY = '[{"id":"1","name":"amoxicillin"}]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _haproxy_config(port: int) -> str:
    escaped = BODY.replace('"', '\\"')
    return (f"global\n  nbthread 1\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n"
            f"  timeout connect 5s\nfrontend trivial\n  bind 127.0.0.1:{port}\n"
            f'  http-request return status 200 content-type application/json string "{escaped}"\n')


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the trivial endpoint exited with code {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the trivial endpoint did not listen on 127.0.0.1:{port} within {timeout_s:g} s")


@contextmanager
def trivial_endpoint() -> Iterator[tuple[str, str]]:
    """Yields (base URL, what serves it)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rx-endpoint-") as tmp:
        try:
            binary = find_haproxy()
        except SandboxError:
            binary = None
        if binary is not None:
            config = Path(tmp) / "haproxy.cfg"
            config.write_text(_haproxy_config(port))
            argv, kind = [binary, "-db", "-f", str(config)], "HAProxy http-request return"
        else:
            fallback = ROOT / "tests" / "trivial_server.py"
            argv, kind = [sys.executable, str(fallback), str(port)], "tests/trivial_server.py"
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port, proc)
            yield f"http://127.0.0.1:{port}", kind
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
