"""The report as a stakeholder reads it (issue 21), against ground truths the tests create:

- every word of the HTML's visible text is whole in the PDF's extracted text (pdfplumber; Chromium drops glyphs
  outside a clip, so "inside the page" alone proves nothing), for a small, a large (50 request names) and an empty
  input, on A4 and Letter;
- no PDF page is more than 80 % empty except the last; the summary fits the first page; every page's footer
  holds the title and "page N of M";
- every number of the summary page is the one in slo.json or report.json it names;
- at 1280 px and 390 px no element reaches past the viewport.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from reports.browser import MARGINS, PAPERS, visible_text, widest_elements, write_pdf
from reports.builder import generate
from reports.formats import format_figure
from reports.sources import for_run
from slo.evaluate import evaluate_runs, write_slo_json
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
LARGE_NAMES = tuple(f"GET /rest/v1/table_{i}?select=id,name,price_cents&name=ilike.[term]&limit=[n]" for i in range(50))
MOST_EMPTY = 0.80
_MM = 72 / 25.4  # PDF points per millimetre


def _small(root: Path) -> Path:
    report_inputs.drill_run(root, datetime(2026, 8, 1, tzinfo=UTC), score=60.0)
    return report_inputs.composite_run(root, T0)


def _large(root: Path) -> Path:
    """An `rxsuite run` folder with 50 request names, a baseline with the same names, a drill trend, capacity."""
    report_inputs.drill_run(root, datetime(2026, 8, 1, tzinfo=UTC), score=60.0)
    folder = root / f"{T0:%Y%m%dT%H%M%SZ}-run-sandbox"
    folder.mkdir()
    report_inputs.run_json(folder, "run", T0)
    report_inputs.journeys_run(folder, T0)
    load = report_inputs.load_run(folder, T0 + timedelta(seconds=10), seconds=40, rps=500, names=LARGE_NAMES)
    report_inputs.capacity_summary(load)
    report_inputs.drill_run(folder, T0 + timedelta(seconds=50), with_load=True)
    return folder


def _empty(root: Path) -> Path:
    """A load run that recorded nothing (its record file holds no window)."""
    return report_inputs.load_run(root, T0, seconds=0)


INPUTS = {"small": _small, "large": _large, "empty": _empty}


@pytest.fixture(scope="module", params=list(INPUTS))
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with slo.json (as `rxsuite run` writes it), report.html and one PDF per paper size."""
    root = tmp_path_factory.mktemp(request.param)
    folder = INPUTS[request.param](root)
    sources = for_run(folder)
    write_slo_json(evaluate_runs(sources.all_dirs), folder)
    baseline = None
    if request.param == "large":
        baseline = for_run(report_inputs.load_run(root, datetime(2026, 11, 1, tzinfo=UTC), rps=500,
                                                  names=LARGE_NAMES, median_ms=30))
    result = generate(sources, baseline=baseline, runs_root=root, pdf=False)
    for paper in PAPERS:
        write_pdf(result.html, folder / f"report-{paper}.pdf", paper=paper)
    return folder


@functools.cache
def _words(html: Path, selector: str = "body") -> Counter[str]:
    """The words of an element's visible text (print media), counted: a word that is also elsewhere still counts."""
    return Counter(visible_text(html, selector).split())


def _pdf_pages(pdf: Path) -> list[list[str]]:
    with pdfplumber.open(pdf) as doc:
        return [[w["text"] for w in page.extract_words()] for page in doc.pages]


@pytest.mark.parametrize("paper", PAPERS)
def test_every_visible_word_is_whole_in_the_pdf(report: Path, paper: str) -> None:
    html_words = _words(report / "report.html")
    pdf_words = Counter(w for page in _pdf_pages(report / f"report-{paper}.pdf") for w in page)
    assert sum(html_words.values()) > 100
    assert html_words - pdf_words == Counter()  # a word clipped or broken across lines is missing here


@pytest.mark.parametrize("paper", PAPERS)
def test_no_page_but_the_last_is_mostly_empty(report: Path, paper: str) -> None:
    with pdfplumber.open(report / f"report-{paper}.pdf") as doc:
        body_top = float(MARGINS["top"].removesuffix("mm")) * _MM
        body_bottom_margin = float(MARGINS["bottom"].removesuffix("mm")) * _MM
        filled = []
        for page in doc.pages[:-1]:
            body_height = page.height - body_top - body_bottom_margin
            bottoms = [o["bottom"] for o in (*page.chars, *page.images, *page.rects)
                       if o["bottom"] <= page.height - body_bottom_margin]  # the footer does not count
            filled.append((max(bottoms, default=body_top) - body_top) / body_height)
    assert all(share >= 1 - MOST_EMPTY for share in filled), filled


@pytest.mark.parametrize("paper", PAPERS)
def test_summary_fits_the_first_page(report: Path, paper: str) -> None:
    summary = _words(report / "report.html", "div.summary-page")
    first_page = Counter(_pdf_pages(report / f"report-{paper}.pdf")[0])
    assert summary - first_page == Counter()


@pytest.mark.parametrize("paper", PAPERS)
def test_every_page_footer_has_the_title_and_its_number(report: Path, paper: str) -> None:
    title = json.loads((report / "report.json").read_text())["title"]
    with pdfplumber.open(report / f"report-{paper}.pdf") as doc:
        pages = len(doc.pages)
        for number, page in enumerate(doc.pages, start=1):
            footer = page.crop((0, page.height - float(MARGINS["bottom"].removesuffix("mm")) * _MM,
                                page.width, page.height)).extract_text()
            assert " ".join(title.split()) in " ".join(footer.split())
            assert f"page {number} of {pages}" in footer


class _Summary(HTMLParser):
    """The <data> figures of section#summary, and its text outside figures and names."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, Any]] = []
        self.loose_text: list[str] = []
        self._depth = 0  # inside section#summary
        self._skip: list[str] = []  # open <data> and name elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id") == "summary":
            self._depth = 1
            return
        if not self._depth:
            return
        self._depth += 1
        if tag == "data":
            self.figures.append({"value": a["value"], "unit": a["data-unit"], "from": json.loads(a["data-from"] or ""),
                                 "text": ""})
            self._skip.append(tag)
        elif "label" in (a.get("class") or "").split() or self._skip:
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1
            if self._skip:
                self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._depth:
            return
        if self._skip and self._skip[0] == "data":
            self.figures[-1]["text"] += data
        elif not self._skip:
            self.loose_text.append(data)


def _resolve(documents: dict[str, Any], path: list[Any]) -> Any:
    """A figure's source: ["slo.json", "objectives", {"name": "availability"}, "measured"]."""
    node = documents[path[0]]
    for step in path[1:]:
        if isinstance(step, dict):
            (key, wanted), = step.items()
            matches = [item for item in node if item.get(key) == wanted]
            assert len(matches) == 1, (path, step)
            node = matches[0]
        else:
            node = node[step]
    return node


def test_summary_numbers_are_those_of_report_and_slo_json(report: Path) -> None:
    _check_summary_figures(report)


def _check_summary_figures(report: Path) -> None:
    documents = {name: json.loads((report / name).read_text()) for name in ("report.json", "slo.json")}
    parser = _Summary()
    parser.feed((report / "report.html").read_text())
    assert parser.figures
    for figure in parser.figures:
        value = _resolve(documents, figure["from"])
        unit = None if figure["unit"] == "None" else figure["unit"]
        assert figure["value"] == str(value), figure
        assert figure["text"] == format_figure(value, unit), figure
    assert not re.search(r"\d", "".join(parser.loose_text))  # no number on the summary that is not a figure


def test_summary_answer_follows_the_slo_verdict(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0, seconds=60, rps=300, error_share=0.05)
    write_slo_json(evaluate_runs([folder]), folder)
    generate(for_run(folder), pdf=False)
    slo = json.loads((folder / "slo.json").read_text())
    summary = json.loads((folder / "report.json").read_text())["summary"]
    availability = next(o for o in slo["objectives"] if o["name"] == "availability")
    assert (slo["verdict"], availability["verdict"]) == ("fail", "fail")
    assert summary["answer_words"] == "Do not release"
    first = summary["findings"][0]["parts"]
    assert first[0]["name"] == "availability"
    assert [p["value"] for p in first if "value" in p] == [availability["measured"], availability["target"]]


@pytest.mark.parametrize("width", [1280, 390])
def test_no_element_is_wider_than_the_viewport(report: Path, width: int) -> None:
    scroll_width, past_the_edge = widest_elements(report / "report.html", width)
    assert past_the_edge == []
    assert scroll_width <= width


def test_trend_compares_with_the_last_comparable_run(tmp_path: Path) -> None:
    older = report_inputs.load_run(tmp_path, T0 - timedelta(days=2), median_ms=20, seed=4)
    earlier = report_inputs.load_run(tmp_path, T0 - timedelta(days=1), median_ms=30, seed=5)
    report_inputs.journeys_run(tmp_path, T0 - timedelta(hours=1))  # another job: not comparable
    current = report_inputs.load_run(tmp_path, T0, median_ms=40, seed=6)
    for folder in (older, earlier, current):
        write_slo_json(evaluate_runs([folder]), folder)
    generate(for_run(current), runs_root=tmp_path, pdf=False)
    report = json.loads((current / "report.json").read_text())
    then, now = (json.loads((f / "slo.json").read_text()) for f in (earlier, current))
    assert report["previous_run"]["folder"] == earlier.name
    figures = [p for p in report["summary"]["trend"] if "value" in p]
    expected = [next(o["measured"] for o in doc["objectives"] if o["name"] == name)
                for name in ("availability", "latency-p95") for doc in (then, now)]
    assert [f["value"] for f in figures] == expected
    _check_summary_figures(current)
