"""report.html in a real Chromium: every section, no console error, every image decoded; a screenshot is kept in
the run folder. Also the phone layout and the PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.browser import check_render, write_pdf
from reports.builder import generate
from reports.render import SECTIONS
from reports.sources import for_run
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
SCREENSHOT = "report-screenshot.png"


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A composite run (journeys, load, drill with background load) with capacity and a drill trend."""
    root = tmp_path_factory.mktemp("runs")
    report_inputs.drill_run(root, datetime(2026, 8, 1, tzinfo=UTC), score=60.0)
    folder = report_inputs.composite_run(root, T0)
    report_inputs.capacity_summary(next(folder.glob("*-load-sandbox")))
    baseline = report_inputs.load_run(root, datetime(2026, 11, 1, tzinfo=UTC), median_ms=30)
    generate(for_run(folder), baseline=for_run(baseline), runs_root=root, pdf=False)
    return folder / "report.html"


def test_report_renders_every_section_without_errors_or_broken_images(full_report: Path) -> None:
    screenshot = full_report.parent / SCREENSHOT
    check = check_render(full_report, SECTIONS, screenshot=screenshot)
    assert check.sections_missing == []
    assert check.console_errors == []
    assert check.broken_images == []
    assert check.images == 7  # latency, throughput, budget, drill timeline, drill latency, trend, capacity
    assert check.requests_outside == []
    assert screenshot.stat().st_size > 50_000


def test_report_fits_a_phone_without_sideways_scrolling(full_report: Path) -> None:
    from playwright.sync_api import sync_playwright

    from rxcore.browser import launch_options

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw.chromium.executable_path, headed=False))
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(full_report.as_uri())
            page_width = page.evaluate("document.documentElement.scrollWidth")
            widest_image = page.evaluate("Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))")
        finally:
            browser.close()
    assert page_width <= 390
    assert widest_image <= 390


def test_pdf_is_printed_by_chromium(full_report: Path) -> None:
    pdf = write_pdf(full_report)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 50_000
