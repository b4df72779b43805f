"""A throwaway one-region app stack (tests/app_harness.py's DevStack) on this session's offset ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.app_harness import DevStack

__all__ = ["offset_dev_stack"]

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))


@contextlib.contextmanager
def offset_dev_stack(slot: int, **app_env: str) -> Iterator[DevStack]:
    """Start PostgreSQL, the payment stub and the app on ports 9400 + 10 * slot (+ the offset); stop them after."""
    base = 9400 + 10 * slot + _OFFSET
    workdir = Path(tempfile.mkdtemp(prefix=f"rx-app-{slot}-"))
    stack = DevStack(workdir, pg_port=base, app_port=base + 1, payments_port=base + 2, app_env=app_env)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
