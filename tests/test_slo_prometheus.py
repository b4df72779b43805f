"""Prometheus as an SLI source, against a real Prometheus whose series the test wrote with known counts.

The series go in through `promtool tsdb create-blocks-from openmetrics` (Debian's prometheus package), so the
ground truth is exact: every increment, reset and gap is the test's own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rxcore.processes import port_is_free
from slo.prometheus import PrometheusClient, PrometheusError, bucket_bounds, counter_steps, threshold_buckets
from tests.prometheus_blocks import holding

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                                reason="needs Debian's prometheus package (make deps installs it)")

_PORT = 19090 + int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))
_SCRAPE_S = 15
_START = 1_790_000_000 // 3600 * 3600  # a whole hour, well inside the retention the fixture sets
_HOURS = 6


@dataclass(frozen=True)
class Truth:
    """Per-minute events as scraped: `ok[i]` and `bad[i]` are the increments the scrapes of minute i show."""

    ok: np.ndarray
    bad: np.ndarray


def _scrapes() -> dict[str, list[tuple[int, int]]]:
    """(time, value) of each series: a 200 series with steady traffic whose process restarts at 3 h (the counter
    starts again from 7), and a 500 series born at 1 h holding 4 events whose scrapes pause for 20 min in hour 4
    (stale), its events meanwhile showing at the first scrape after the pause."""
    ok: list[tuple[int, int]] = []
    bad: list[tuple[int, int]] = []
    value_ok, value_bad = 0, 0
    for k in range(1, _HOURS * 3600 // _SCRAPE_S + 1):
        t = _START + k * _SCRAPE_S
        value_ok = 7 if t - _START == 3 * 3600 else value_ok + 5 + k % 3
        ok.append((t, value_ok))
        if t - _START >= 3600:
            value_bad += 4 if not bad and value_bad == 0 else (1 if k % 8 == 0 else 0)
            if not 4 * 3600 <= t - _START < 4 * 3600 + 20 * 60:
                bad.append((t, value_bad))
    return {"200": ok, "500": bad}


def _per_minute(samples: list[tuple[int, int]]) -> np.ndarray:
    """What each minute's scrapes show: the rise since the previous scrape, or the whole value after a reset."""
    minutes = np.zeros(_HOURS * 60, dtype=np.int64)
    previous = 0
    for t, value in samples:
        minutes[(t - _START - 1) // 60] += value - previous if value >= previous else value
        previous = value
    return minutes


def _openmetrics(scrapes: dict[str, list[tuple[int, int]]]) -> str:
    lines = ["# HELP rx_requests Requests served.", "# TYPE rx_requests counter"]
    for code, samples in scrapes.items():
        lines += [f'rx_requests_total{{code="{code}"}} {value} {t}' for t, value in samples]
    lines += ["# HELP rx_latency_seconds Request latency.", "# TYPE rx_latency_seconds histogram"]
    for le, count in (("0.5", 800), ("1.0", 900), ("2.5", 970), ("5.0", 990), ("+Inf", 1000)):
        lines.append(f'rx_latency_seconds_bucket{{le="{le}"}} {count} {_START + 60}')
    lines += [f"rx_latency_seconds_count 1000 {_START + 60}", f"rx_latency_seconds_sum 700 {_START + 60}", "# EOF"]
    return "\n".join(lines) + "\n"


@contextmanager
def serving(root: Path, openmetrics: str, port: int) -> Iterator[PrometheusClient]:
    """A throwaway Prometheus on `port` holding exactly the samples of `openmetrics` (no scraping)."""
    if not port_is_free(port):
        pytest.fail(f"port {port} is taken: set RXSUITE_TEST_PORT_OFFSET to free ports")
    (root / "series.om").write_text(openmetrics)
    with holding(root, root / "series.om", port, blocks_timeout_s=120, ready_timeout_s=60) as url:
        yield PrometheusClient(url)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusClient, Truth]]:
    scrapes = _scrapes()
    truth = Truth(_per_minute(scrapes["200"]), _per_minute(scrapes["500"]))
    with serving(tmp_path_factory.mktemp("prometheus"), _openmetrics(scrapes), _PORT) as client:
        yield client, truth



def test_per_minute_counts_equal_the_written_increments_through_a_reset(prometheus) -> None:
    client, truth = prometheus
    counts = counter_steps(client, 'rx_requests_total{code="200"}', _START, _START + _HOURS * 3600, 60)
    assert counts.tolist() == truth.ok.tolist()


@pytest.mark.parametrize("fraction", [0.0004, 0.0006, 0.25])
def test_a_window_starting_between_milliseconds_counts_the_same_steps(prometheus, fraction: float) -> None:
    """The API answers at whole milliseconds: a start of .0006 s must not shift every sample to the next step."""
    client, truth = prometheus
    counts = counter_steps(client, 'rx_requests_total{code="200"}', _START + fraction, _START + 3600 + fraction, 60)
    assert counts.tolist() == truth.ok[:60].tolist()


def test_a_series_born_mid_window_and_a_stale_gap_count_every_event_once(prometheus) -> None:
    client, truth = prometheus
    hourly = counter_steps(client, 'rx_requests_total{code="500"}', _START, _START + _HOURS * 3600, 3600)
    assert hourly.tolist() == truth.bad.reshape(_HOURS, 60).sum(axis=1).tolist()
    assert int(hourly.sum()) == int(truth.bad.sum())


def test_all_series_of_a_selector_add_up(prometheus) -> None:
    client, truth = prometheus
    total = counter_steps(client, "rx_requests_total", _START, _START + _HOURS * 3600, 1800)
    assert int(total.sum()) == int(truth.ok.sum() + truth.bad.sum())


def test_a_window_longer_than_one_query_range_is_read_in_chunks(prometheus) -> None:
    client, truth = prometheus
    client.queries = 0
    counts = counter_steps(client, 'rx_requests_total{code="200"}', _START, _START + _HOURS * 3600, 1)
    assert client.queries == 3  # 21,600 one-second steps: two ranges of 11,000 points at most, and the reset's step
    assert int(counts.sum()) == int(truth.ok.sum())


def test_bucket_boundaries_tell_whether_a_threshold_is_resolved(prometheus) -> None:
    client, _ = prometheus
    bounds = bucket_bounds(client, "rx_latency_seconds_bucket", _START + 120)
    assert bounds == [0.5, 1.0, 2.5, 5.0, float("inf")]
    assert threshold_buckets(bounds, 1.0) == (1.0, 1.0)
    assert threshold_buckets(bounds, 3.0) == (2.5, 5.0)


def test_a_query_prometheus_refuses_names_the_query_and_its_message(prometheus) -> None:
    client, _ = prometheus
    with pytest.raises(PrometheusError, match=r"refused `count by \(le\) \(rx_latency_seconds_bucket\{\)`: bad_data"):
        bucket_bounds(client, "rx_latency_seconds_bucket{", _START)


def test_an_expression_is_refused_where_a_counter_selector_is_needed() -> None:
    with pytest.raises(PrometheusError, match="not a series selector"):
        counter_steps(PrometheusClient("http://127.0.0.1:9"), "sum(rate(rx_requests_total[5m]))", 0, 60, 60)


def test_an_unreachable_server_is_one_clear_error() -> None:
    client = PrometheusClient(f"http://127.0.0.1:{_PORT + 1}", timeout_s=2)
    with pytest.raises(PrometheusError, match=r"did not answer `rx_requests_total`"):
        counter_steps(client, "rx_requests_total", _START, _START + 60, 60)
