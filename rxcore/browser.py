"""Which Chromium the journeys drive: Playwright's own build when installed, else the system's, else a clear error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

BROWSER_ENV = "RXSUITE_CHROMIUM"
SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Quiet, sandbox-free flags for a distribution Chromium running as root in a container or CI runner.
SYSTEM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
HOW_TO_GET_ONE = (
    "no Chromium found for the journeys: install Playwright's build with `.venv/bin/playwright install chromium`, "
    f"or the system package (`apt-get install chromium`), or set {BROWSER_ENV}=/path/to/chrome"
)


class BrowserMissing(RuntimeError):
    """No usable Chromium on this machine; the message says how to get one."""


def launch_options(bundled_executable: str, *, headed: bool) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``.

    ``bundled_executable`` is ``playwright.chromium.executable_path`` (where Playwright's own build would be).
    """
    chosen = os.environ.get(BROWSER_ENV)
    if chosen:
        if not Path(chosen).is_file():
            raise BrowserMissing(f"{BROWSER_ENV}={chosen}: no such file (point it at a Chromium executable)")
        return {"executable_path": chosen, "args": SYSTEM_ARGS, "headless": not headed}
    if Path(bundled_executable).is_file():
        return {"headless": not headed}
    for name in SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return {"executable_path": found, "args": SYSTEM_ARGS, "headless": not headed}
    raise BrowserMissing(HOW_TO_GET_ONE)
