"""The load benchmarks' trivial endpoint: every GET gets the same small JSON array, as cheaply as possible.

HAProxy answers from its own config (`http-request return`), in C, so the load generator is the bottleneck and
its costs are what a benchmark measures. Without HAProxy the Python endpoint of the tests stands in (slower: on
two cores it takes a share of the CPU from the generator). Either way the process is started here (rxcore.processes:
remembered by pid and start time) and stopped by its pid when the block ends, whatever happens.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from locustfiles.launcher import free_port  # noqa: E402
from rxcore.processes import is_running, port_is_open, spawn, stop, wait_until  # noqa: E402
from sandbox.errors import SandboxError  # noqa: E402
from sandbox.haproxy import find_haproxy  # noqa: E402

BODY = '[{"id":"1","name":"amoxicillin"}]'


def _haproxy_config(port: int) -> str:
    escaped = BODY.replace('"', '\\"')
    return (f"global\n  nbthread 1\ndefaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n"
            f"  timeout connect 5s\nfrontend trivial\n  bind 127.0.0.1:{port}\n"
            f'  http-request return status 200 content-type application/json string "{escaped}"\n')


@contextmanager
def trivial_endpoint(cpu: int | None = None) -> Iterator[tuple[str, str]]:
    """Yields (base URL, what serves it); `cpu` pins the endpoint to that CPU, away from the load generator."""
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
        log = Path(tmp) / "endpoint.log"
        ref = spawn(argv, log)
        try:
            if cpu is not None:
                os.sched_setaffinity(ref.pid, {cpu})
            wait_until(lambda: port_is_open(port, timeout_s=0.2) or not is_running(ref), 10.0,
                       what=f"the trivial endpoint listening on 127.0.0.1:{port}")
            if not is_running(ref):
                raise RuntimeError(f"the trivial endpoint ({kind}) exited before listening:\n{log.read_text()}")
            yield f"http://127.0.0.1:{port}", kind
        finally:
            stop(ref)
