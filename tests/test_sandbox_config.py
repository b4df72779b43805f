"""Environment and sandbox settings: bad input is refused with the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxcore.environment import load_environment
from rxcore.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return path


def test_shipped_sandbox_environment_loads() -> None:
    env = load_environment("sandbox")
    assert env.is_sandbox
    assert env.sandbox is not None
    assert env.base_url == f"http://127.0.0.1:{env.sandbox.ports['edge']}"


def test_unknown_sandbox_field_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: sandbox\nbase_url: http://127.0.0.1:1\nsandbox:\n  replicaton: sync\n")
    with pytest.raises(ConfigError, match=r"env\.yaml: sandbox\.replicaton: unknown field \(allowed: .*replication"):
        load_environment(str(path))


def test_port_out_of_range_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: sandbox\nbase_url: http://127.0.0.1:1\nsandbox:\n  ports:\n    edge: 80\n")
    with pytest.raises(ConfigError, match=r"sandbox\.ports\.edge: 80 is not a port"):
        load_environment(str(path))


def test_two_parts_on_one_port_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: sandbox\nbase_url: http://127.0.0.1:1\nsandbox:\n  ports:\n    edge: 18101\n")
    with pytest.raises(ConfigError, match=r"sandbox\.ports: port\(s\) \[18101\] used twice"):
        load_environment(str(path))


def test_bad_replication_mode_names_the_choices(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: sandbox\nbase_url: http://127.0.0.1:1\nsandbox:\n  replication: semi\n")
    expected = r"sandbox\.replication: 'semi' is not a replication mode \(use async or sync\)"
    with pytest.raises(ConfigError, match=expected):
        load_environment(str(path))


def test_negative_interval_is_refused(tmp_path: Path) -> None:
    text = "kind: sandbox\nbase_url: http://127.0.0.1:1\nsandbox:\n  failover:\n    check_interval_s: -1\n"
    with pytest.raises(ConfigError, match=r"sandbox\.failover\.check_interval_s: -1 must be positive"):
        load_environment(str(_write(tmp_path, text)))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: sandbox\nbase_url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"env\.yaml:\d+: \(file\): not valid YAML"):
        load_environment(str(path))


def test_missing_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no such environment file \(known environments: .*sandbox"):
        load_environment("no-such-env")
