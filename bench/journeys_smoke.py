"""Smoke journeys wall time: `rxsuite journeys --tag smoke` end to end, as CI runs it on every deploy.

Starts its own sandbox on other ports (offset 7700), then times, in the same process tree:
  - reference: a bare browser start and one sign-in page load (the floor any browser job pays);
  - the smoke set through the CLI (child process, pytest, browser, every smoke journey, run folder).
Target (issue 5): the smoke set under 60 s wall time on this 2-core machine. Prints the ratios, asserts nothing.

    .venv/bin/python bench/journeys_smoke.py [--runs 1] [--reuse-sandbox]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from rxcore.browser import launch_options
from rxcore.environment import PROJECT_ROOT
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant

_OFFSET = 7700
_TARGET_S = 60.0


def _reference(base_url: str) -> float:
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(playwright.chromium.executable_path, headed=False))
        page = browser.new_page()
        page.goto(f"{base_url}/sign-in")
        browser.close()
    return time.monotonic() - started


def _smoke(sandbox: Sandbox, runs_dir: Path) -> tuple[float, int, dict[str, int]]:
    env = {**os.environ, "RXSUITE_SANDBOX_ANON_KEY": sandbox.anon_key,
           "RXSUITE_CREDENTIALS_CSV": str(sandbox.credentials_file)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "rxsuite.cli", "journeys", "--env", "sandbox", "--base-url",
                           sandbox.edge_url, "--tag", "smoke", "--runs-dir", str(runs_dir)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    wall = time.monotonic() - started
    run_dir = sorted(runs_dir.iterdir())[-1]
    summary = json.loads((run_dir / "journeys.json").read_text())["summary"]
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
    return wall, done.returncode, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="smoke runs to time (default 1)")
    parser.add_argument("--reuse-sandbox", action="store_true", help="leave the bench sandbox running after")
    args = parser.parse_args()
    sandbox = Sandbox(sandbox_variant(_OFFSET, "bench-journeys"))
    try:
        sandbox.up()
        reference = _reference(sandbox.edge_url)
        with tempfile.TemporaryDirectory(prefix="rx-bench-journeys-") as tmp:
            walls = []
            for index in range(args.runs):
                wall, code, summary = _smoke(sandbox, Path(tmp) / f"runs-{index}")
                walls.append(wall)
                print(f"smoke run {index + 1}: {wall:.1f} s wall, exit {code}, {summary}")
        best, worst = min(walls), max(walls)
        print(f"reference (browser start + one page): {reference:.2f} s")
        print(f"smoke set wall time: best {best:.1f} s, worst {worst:.1f} s (target < {_TARGET_S:.0f} s)")
        print(f"ratio worst / target: {worst / _TARGET_S:.2f}   ratio best / reference: {best / reference:.1f}x")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        if not args.reuse_sandbox:
            sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
