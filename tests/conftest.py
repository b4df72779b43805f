"""Shared fixtures: real sandboxes on their own ports, so tests never touch a sandbox a developer is running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rxsuite.environment import PROJECT_ROOT, load_environment
from sandbox.config import SandboxConfig
from sandbox.stack import Sandbox

_TEST_PORT_OFFSET = 1000


def sandbox_config(offset: int, name: str, **changes: object) -> SandboxConfig:
    """The sandbox.yaml settings moved to other ports and another state folder."""
    import dataclasses

    base = load_environment("sandbox").sandbox
    assert base is not None
    config = base.with_port_offset(offset, PROJECT_ROOT / ".rxsuite" / name)
    return dataclasses.replace(config, **changes) if changes else config


def running_sandbox(config: SandboxConfig) -> Iterator[Sandbox]:
    sandbox = Sandbox(config)
    try:
        sandbox.up()
        yield sandbox
    finally:
        sandbox.down()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The shared sandbox for tests that leave it as they found it (contract tests, load, journeys)."""
    yield from running_sandbox(sandbox_config(_TEST_PORT_OFFSET, "test-sandbox"))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT
