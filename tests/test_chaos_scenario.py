"""Scenario files are refused whole, before any fault, with the file, the field and the fix named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chaos.sandbox_env import write_sandbox_environment
from chaos.scenario import known_scenarios, load_scenario
from chaos.suite import load_suite
from rxcore.errors import ConfigError
from rxsuite.cli import main
from sandbox.variant import sandbox_variant

_VALID = {
    "name": "t",
    "method": [{"driver": "sandbox", "action": "kill_region", "args": {"region": "region-a"}, "fault": True}],
    "rollbacks": [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}],
    "objectives": [{"metric": "rto_s", "op": "<=", "target": 10, "critical": True}],
}


def _write(tmp_path: Path, scenario: dict) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(scenario))))  # no shared objects: anchors are refused
    return path


def _refusal(tmp_path: Path, **changes: object) -> ConfigError:
    path = _write(tmp_path, {**_VALID, **changes})
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert str(path) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("name", known_scenarios())
def test_every_shipped_scenario_loads(name: str) -> None:
    assert load_scenario(name).name == name


def test_the_quarterly_suite_names_every_shipped_sandbox_scenario() -> None:
    assert {s.name for s, _ in load_suite("quarterly").scenarios} == {
        n for n in known_scenarios() if "/" not in n}


def test_the_staging_suite_names_every_portable_scenario_and_uses_only_generic_drivers() -> None:
    scenarios = [s for s, _ in load_suite("quarterly-staging").scenarios]
    assert {s.name for s in scenarios} == {n for n in known_scenarios() if n.startswith("staging/")}
    assert set().union(*(s.drivers for s in scenarios)) == {"toxiproxy", "http", "command"}
    assert {c.kind for s in scenarios for c in s.checks} == {"http", "availability"}


def test_unknown_driver_is_named_with_the_drivers_allowed(tmp_path: Path) -> None:
    error = _refusal(tmp_path, method=[{"driver": "kubectl", "action": "kill_region"}])
    assert error.field == "method[0].driver"
    assert "use one of" in str(error) and "sandbox" in str(error)


def test_missing_action_argument_is_named(tmp_path: Path) -> None:
    error = _refusal(tmp_path, method=[{"driver": "sandbox", "action": "kill_region", "fault": True}])
    assert error.field == "method[0].args.region"
    assert "needs region" in str(error)


def test_argument_outside_its_choices_lists_them(tmp_path: Path) -> None:
    error = _refusal(tmp_path, method=[{"driver": "sandbox", "action": "stop_node", "args": {"node": "pg-z"}}])
    assert error.field == "method[0].args.node"
    assert "primary" in str(error)


def test_unknown_objective_metric_is_named(tmp_path: Path) -> None:
    error = _refusal(tmp_path, objectives=[{"metric": "uptime", "target": 1}])
    assert error.field == "objectives[0].metric"
    assert "rto_s" in str(error)


def test_two_fault_steps_are_refused(tmp_path: Path) -> None:
    step = {"driver": "sandbox", "action": "kill_region", "args": {"region": "region-a"}, "fault": True}
    error = _refusal(tmp_path, method=[step, step])
    assert error.field == "method[1].fault"


def test_rto_objective_without_a_fault_step_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, method=[{"driver": "drill", "action": "wait", "args": {"seconds": 1}}])
    assert error.field == "method"
    assert "fault: true" in str(error)


def test_expected_failure_must_say_what_it_shows(tmp_path: Path) -> None:
    error = _refusal(tmp_path, expect="fail")
    assert error.field == "designed_to_show"


def test_cli_refuses_a_broken_scenario_before_touching_the_sandbox(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = sandbox_variant(6900, "test-drill-refused")
    env_file = write_sandbox_environment(config, tmp_path / "env.yaml")
    broken = _write(tmp_path, {**_VALID, "safeguards": [{"availability_below": 0.5}]})
    code = main(["drill", "--env", str(env_file), "--scenario", str(broken), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(broken) in err and "safeguards[0]" in err and "set both" in err
    assert not config.state_dir.exists()
    assert not (tmp_path / "runs").exists()
