"""A throwaway Prometheus holding exactly the samples of an OpenMetrics file: the tests' and benchmarks' ground truth
for SLIs read from Prometheus (`promtool tsdb create-blocks-from openmetrics`, then a server that scrapes nothing)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from rxcore.processes import spawn, stop, wait_until

__all__ = ["holding"]


@contextmanager
def holding(root: Path, series: Path, port: int, *, blocks_timeout_s: float, ready_timeout_s: float) -> Iterator[str]:
    """Write `series` into blocks under `root`, serve them on 127.0.0.1:`port`, yield the URL, stop the server."""
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(series), str(root / "data")],
                   check=True, capture_output=True, timeout=blocks_timeout_s)
    (root / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    ref = spawn(["prometheus", f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
                 "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
                root / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url), ready_timeout_s, 0.2, "prometheus ready")
        yield url
    finally:
        stop(ref)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
