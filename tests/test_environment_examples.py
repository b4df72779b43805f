"""The shipped example environment files: each loads through the one schema (rxcore/envschema.py), names its
secrets by variable only, and documents every field it sets with a comment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rxcore.environment import PROJECT_ROOT, load_environment
from rxcore.envschema import REMOTE_KINDS

EXAMPLES = sorted((PROJECT_ROOT / "environments").glob("*.example.yaml"))


def test_there_is_one_example_per_remote_kind() -> None:
    assert sorted(p.name.removesuffix(".example.yaml") for p in EXAMPLES) == sorted(REMOTE_KINDS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_as_its_kind(path: Path) -> None:
    env = load_environment(str(path))
    assert env.kind == path.name.removesuffix(".example.yaml") == env.name
    assert env.raw["synthetic_domain"] == "synthetic.rx.test"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_names_secrets_by_variable_only(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    keys = {k for k in _keys(raw) if "key" in k or "password" in k or "secret" in k or "token" in k}
    assert keys and all(k.endswith("_env") for k in keys), keys
    assert all(str(raw[k]).startswith("RXSUITE_") for k in keys if k in raw)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_field_line_is_commented(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    bare = [line for line in lines if "#" not in line and not line.lstrip().startswith(("patient:", "doctor:",
                                                                                         "pharmacist:", "realtime:",
                                                                                         "probe:", "- "))]
    assert bare == [], f"{path.name}: comment these fields: {bare}"


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    return set()
