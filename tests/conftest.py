"""Shared fixtures: real sandboxes on their own ports, so tests never touch a sandbox a developer is running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rxcore.environment import PROJECT_ROOT
from sandbox.config import SandboxConfig
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant

# Developers running several test sessions at once give each its own offset (and so its own ports and folder).
_TEST_PORT_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))


def running_sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    """A fresh sandbox: `up` keeps what an earlier session left (it never wipes), so tests reset theirs first."""
    sandbox = Sandbox(config)
    try:
        sandbox.reset()
        sandbox.up()
        yield sandbox
    finally:
        sandbox.down()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The shared sandbox for tests that leave it as they found it (contract tests, load, journeys)."""
    yield from running_sandbox(sandbox_variant(_TEST_PORT_OFFSET, f"test-sandbox-{_TEST_PORT_OFFSET}"))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT
