"""report.html through Chromium: the PDF for stakeholders, and a rendering check (sections, console errors, images,
requests leaving the page) for the tests. The browser is found by `rxcore.browser` (one home for that)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rxcore.browser import BrowserMissing, launch_options

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

PDF_FILE = "report.pdf"
PAPERS = ("A4", "Letter")
MARGINS = {"top": "12mm", "bottom": "16mm", "left": "12mm", "right": "12mm"}
_TIMEOUT_MS = 30_000
_FOOTER = ('<div style="font-size:8px; color:#5f6b7a; width:100%; margin:0 12mm; display:flex;'
           ' justify-content:space-between;"><span class="title"></span>'
           '<span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>')
_OVERFLOWING = """width => [...document.querySelectorAll("body *")].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5);
}).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""))"""


@dataclass
class RenderCheck:
    sections_missing: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    requests_outside: list[str] = field(default_factory=list)  # anything but the file itself and data: URIs

    @property
    def ok(self) -> bool:
        return not (self.sections_missing or self.console_errors or self.broken_images or self.requests_outside)


@contextmanager
def _page(html_path: Path, viewport: ViewportSize) -> Iterator[tuple[Any, RenderCheck]]:
    from playwright.sync_api import sync_playwright

    check = RenderCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw.chromium.executable_path, headed=False))
        try:
            page = browser.new_page(viewport=viewport)
            page.on("console", lambda m: check.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: check.console_errors.append(str(e)))
            page.on("request", lambda req: None if req.url.startswith(("data:", "file:"))
                    else check.requests_outside.append(req.url))
            page.goto(html_path.resolve().as_uri(), wait_until="load", timeout=_TIMEOUT_MS)
            yield page, check
        finally:
            browser.close()


def check_render(html_path: Path, sections: Sequence[str], screenshot: Path | None = None,
                 viewport: ViewportSize | None = None) -> RenderCheck:
    """Open the report, find every section, every image decoded (naturalWidth > 0), no console error."""
    with _page(html_path, viewport or {"width": 1200, "height": 900}) as (page, check):
        for section in sections:
            if page.locator(f"section#{section}").count() != 1:
                check.sections_missing.append(section)
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0}))")
        check.images = len(images)
        check.broken_images = [i["alt"] for i in images if not i["ok"]]
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    return check


def write_pdf(html_path: Path, pdf_path: Path | None = None, paper: str = "A4") -> Path:
    """Print the report to PDF with Chromium on A4 or Letter: backgrounds kept (the answer keeps its colour), the
    report's title and "page N of M" in every page's footer."""
    if paper not in PAPERS:
        raise ValueError(f"paper {paper!r}: use one of {', '.join(PAPERS)}")
    pdf_path = pdf_path or html_path.with_name(PDF_FILE)
    with _page(html_path, {"width": 1100, "height": 900}) as (page, _):
        page.emulate_media(media="print")
        page.pdf(path=str(pdf_path), format=paper, print_background=True, display_header_footer=True,
                 header_template="<span></span>", footer_template=_FOOTER, margin=MARGINS)
    return pdf_path


def visible_text(html_path: Path, selector: str = "body", media: str = "print") -> str:
    """The text a reader sees (innerText) of an element with the given media: the words the PDF must hold."""
    with _page(html_path, {"width": 1100, "height": 900}) as (page, _):
        page.emulate_media(media=media)
        return page.inner_text(selector)


def widest_elements(html_path: Path, width: int) -> tuple[int, list[str]]:
    """At a viewport `width`: the page's scroll width and the elements reaching past the viewport (tag.class)."""
    with _page(html_path, {"width": width, "height": 900}) as (page, _):
        scroll_width = int(page.evaluate("document.documentElement.scrollWidth"))
        over = page.evaluate(_OVERFLOWING, width)
    return scroll_width, list(over)


__all__ = ["MARGINS", "PAPERS", "PDF_FILE", "BrowserMissing", "RenderCheck", "check_render", "visible_text",
           "widest_elements", "write_pdf"]
