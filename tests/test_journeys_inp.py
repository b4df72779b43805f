"""INP as the web-vitals standard defines it, against pages whose interactions have known costs (tests/inp_pages).

Ground truth: the page's own record of its interactions (Event Timing entries grouped by interaction id here, in
Python; for a click that leaves the page before any entry, the time to the first frame after it or to the page
hiding). The standard's rule applied to those latencies (longest first, skip one for every 50 interactions)
predicts the INP; vitals.js must agree within 8 ms. The busy-wait durations check that the rule picked the
interaction it should have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from journeys.journey import VITALS_SCRIPT, read_vitals
from rxcore.browser import launch_options
from tests.inp_pages import serving

TOLERANCE_MS = 8.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(**launch_options(pw.chromium.executable_path, headed=False))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    with serving() as base:
        context = browser.new_context(base_url=base)
        context.add_init_script(path=VITALS_SCRIPT)
        try:
            yield context.new_page()
        finally:
            context.close()


def predicted_inp(latencies: list[float]) -> float:
    """The standard's rule: the longest interaction after skipping one for every 50 interactions."""
    longest_first = sorted(latencies, reverse=True)
    return longest_first[min(len(longest_first) - 1, len(latencies) // 50)]


def interaction_latencies(entries: list[list[float]]) -> list[float]:
    """Event Timing entries [interactionId, duration] -> one latency per interaction (its longest entry)."""
    longest: dict[float, float] = {}
    for interaction_id, duration in entries:
        longest[interaction_id] = max(longest.get(interaction_id, 0.0), duration)
    return list(longest.values())


def _vitals(page: Page, path: str) -> dict[str, Any]:
    (document,) = [d for d in read_vitals(page) if d["url"] == path]
    return document


def _query(durations: list[int]) -> str:
    return ",".join(map(str, durations))


def _clicks(page: Page, durations: list[int]) -> tuple[dict[str, Any], list[float]]:
    page.goto(f"/click?d={_query(durations)}")
    for _ in durations:
        page.click("#go")
    vitals = _vitals(page, "/click")  # read at once: the read flushes and waits a frame
    return vitals, interaction_latencies(page.evaluate("entries()"))


def test_one_click_gives_its_own_latency(page: Page) -> None:
    vitals, latencies = _clicks(page, [100])
    assert vitals["interactions"] == 1 and len(latencies) == 1
    assert vitals["inp"] == pytest.approx(latencies[0], abs=TOLERANCE_MS)
    assert latencies[0] >= 100


def test_ten_clicks_give_the_slowest(page: Page) -> None:
    vitals, latencies = _clicks(page, [30, 60, 200, 120, 90, 40, 30, 30, 30, 30])
    assert vitals["interactions"] == 10 and len(latencies) == 10
    assert predicted_inp(latencies) == max(latencies) >= 200
    assert vitals["inp"] == pytest.approx(predicted_inp(latencies), abs=TOLERANCE_MS)


def test_sixty_key_presses_skip_the_slowest(page: Page) -> None:
    durations = [20] * 60
    durations[10], durations[30], durations[50] = 200, 130, 60  # 60 interactions: the second longest counts
    page.goto(f"/type?d={_query(durations)}")
    page.locator("#field").press_sequentially("x" * 60, delay=40)
    vitals = _vitals(page, "/type")
    latencies = interaction_latencies(page.evaluate("entries()"))
    assert vitals["interactions"] == 60 and len(latencies) == 60
    assert predicted_inp(latencies) == sorted(latencies)[-2] >= 130  # the slowest is skipped
    assert vitals["inp"] == pytest.approx(predicted_inp(latencies), abs=TOLERANCE_MS)


def test_a_click_that_navigates_away_is_counted(page: Page) -> None:
    page.goto(f"/leave?d={_query([150])}")
    page.click("#go")
    page.wait_for_url("**/next")
    vitals = _vitals(page, "/leave")
    truth = json.loads(page.evaluate("sessionStorage.getItem('truth')"))
    latencies = interaction_latencies(truth["entries"]) or [truth["frame"]]
    assert vitals["interactions"] == 1
    assert vitals["inp"] == pytest.approx(latencies[0], abs=TOLERANCE_MS)
    assert latencies[0] >= 150
