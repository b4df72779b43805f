"""INP of journeys/vitals.js beside Google's web-vitals library, on the same page loads.

    npm pack web-vitals@4 && tar xzf web-vitals-4.*.tgz   # package/dist/web-vitals.iife.js
    .venv/bin/python bench/inp_reference.py --web-vitals package/dist/web-vitals.iife.js --repeats 5

Each load of the busy-wait pages of tests/inp_pages.py runs both scripts (web-vitals' `onINP` with
`durationThreshold: 16` and `reportAllChanges`), then leaves the page, so both report on `pagehide`. Printed per
scenario: loads, loads where either script reported no INP, how many agree exactly and within 8 ms (of the loads
both reported), the largest difference, and what the old rule (the slowest interaction) would have said. Not a
timing benchmark: a check of the definition against the reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journeys.journey import VITALS_SCRIPT, read_vitals
from rxcore.browser import launch_options
from tests.inp_pages import serving

DEFAULT_REFERENCE = Path("package/dist/web-vitals.iife.js")  # where `npm pack` + `tar xzf` leave it
_REFERENCE_HOOK = """
webVitals.onINP(metric => sessionStorage.setItem("reference:" + location.pathname, String(metric.value)),
                {reportAllChanges: true, durationThreshold: 16});
"""
_SIXTY = [20] * 60
_SIXTY[10], _SIXTY[30], _SIXTY[50] = 200, 130, 60
SCENARIOS = {
    "1 click": ("/click", [100]),
    "10 clicks": ("/click", [30, 60, 200, 120, 90, 40, 30, 30, 30, 30]),
    "60 key presses": ("/type", _SIXTY),
    "click that navigates away": ("/leave", [150]),
}


def _interact(page: Page, path: str, durations: list[int]) -> None:
    page.goto(f"{path}?d={','.join(map(str, durations))}")
    if path == "/type":
        page.locator("#field").press_sequentially("x" * len(durations), delay=40)
    elif path == "/leave":
        page.click("#go")
        page.wait_for_url("**/next")
        return
    else:
        for _ in durations:
            page.click("#go")
    read_vitals(page)  # waits for the last interaction's entries, as a journey's read does
    slowest = max(_latencies(page.evaluate("entries()")), default=None)
    page.evaluate(f"sessionStorage.setItem('slowest', {json.dumps(slowest)})")
    page.goto("/next")  # leave the page: both scripts report on pagehide


def _latencies(entries: list[list[float]]) -> list[float]:
    longest: dict[float, float] = {}
    for interaction_id, duration in entries:
        longest[interaction_id] = max(longest.get(interaction_id, 0.0), duration)
    return list(longest.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--web-vitals", type=Path, default=DEFAULT_REFERENCE,
                        help=f"web-vitals' dist/web-vitals.iife.js (default {DEFAULT_REFERENCE})")
    parser.add_argument("--repeats", type=int, default=5, help="loads per scenario")
    args = parser.parse_args()
    if not args.web_vitals.is_file():
        print(f"skipped: no {args.web_vitals}; get it with `npm pack web-vitals@4 && tar xzf web-vitals-4.*.tgz` "
              "and pass --web-vitals package/dist/web-vitals.iife.js")
        return 0
    reference_script = args.web_vitals.read_text(encoding="utf-8") + _REFERENCE_HOOK  # one script: webVitals is its var
    print(f"{'scenario':28} loads  rxsuite none  web-vitals none  equal  within 8 ms  max diff ms  "
          "rxsuite INP ms (each load) / web-vitals / old rule (the slowest)")
    with serving() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(pw.chromium.executable_path, headed=False))
        try:
            for name, (path, durations) in SCENARIOS.items():
                ours, reference, slowest = [], [], []
                for _ in range(args.repeats):
                    context = browser.new_context(base_url=base)
                    context.add_init_script(path=VITALS_SCRIPT)
                    context.add_init_script(script=reference_script)
                    page = context.new_page()
                    _interact(page, path, durations)
                    (document,) = [d for d in read_vitals(page) if d["url"] == path]
                    ours.append(document["inp"])
                    value = page.evaluate(f"sessionStorage.getItem('reference:{path}')")
                    reference.append(None if value is None else float(value))
                    stored = page.evaluate("sessionStorage.getItem('slowest')")
                    slowest.append(None if stored in (None, "null") else float(stored))
                    context.close()
                pairs = [(a, b) for a, b in zip(ours, reference, strict=True) if a is not None and b is not None]
                diffs = [abs(a - b) for a, b in pairs]
                print(f"{name:28} {len(ours):5}  {ours.count(None):12}  {reference.count(None):15}  "
                      f"{sum(d == 0 for d in diffs):5}  {sum(d <= 8 for d in diffs):11}  "
                      f"{max(diffs, default=float('nan')):11g}  {ours} / {reference} / {slowest}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
