"""Refusals that protect an environment: production needs its file's consent and an explicit confirmation, and a
scenario may only use the drivers the environment file lists. All happen before anything is touched."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from chaos.context import DrillContext
from chaos.drill import DrillRequest, plan
from chaos.drivers.command import CommandDriver
from chaos.drivers.http import HttpDriver
from rxcore.errors import ConfigError, RxError

_CTX = DrillContext(run_id="test", prober=None, abort=threading.Event())


def _env(tmp_path: Path, kind: str, chaos: dict) -> Path:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump({"name": kind, "kind": kind, "base_url": "https://rx.example",
                                    "anon_key_env": "RX_ANON", "allowed_jobs": ["drill"], "chaos": chaos}))
    return path


def test_production_is_refused_unless_its_file_allows_chaos(tmp_path: Path) -> None:
    env = _env(tmp_path, "production", {"drivers": ["http"]})
    with pytest.raises(ConfigError) as caught:
        plan(DrillRequest(env=str(env), scenario="payment-provider-outage", confirm_production="production"))
    assert caught.value.field == "chaos.allow_production"


def test_production_is_refused_without_the_confirmation_flag(tmp_path: Path) -> None:
    env = _env(tmp_path, "production", {"drivers": ["http"], "allow_production": True})
    with pytest.raises(RxError, match=r"--confirm-production production"):
        plan(DrillRequest(env=str(env), scenario="payment-provider-outage"))


def test_a_driver_the_environment_does_not_list_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, "staging", {"drivers": ["http"]})
    with pytest.raises(ConfigError) as caught:
        plan(DrillRequest(env=str(env), scenario="region-outage"))
    assert caught.value.field == "chaos.drivers"
    assert "sandbox" in str(caught.value)


def test_a_staging_drill_with_its_drivers_listed_is_planned(tmp_path: Path) -> None:
    env = _env(tmp_path, "staging", {"drivers": ["http"], "http": {"allow": ["https://ops.example/"]}})
    scenario = tmp_path / "failover-api.yaml"
    scenario.write_text(yaml.safe_dump({
        "method": [{"driver": "http", "action": "request", "args": {"url": "https://ops.example/failover"},
                    "fault": True}],
        "rollbacks": [{"driver": "http", "action": "request", "args": {"url": "https://ops.example/failback"}}],
        "objectives": [{"metric": "rto_s", "op": "<=", "target": 60, "critical": True}],
    }))
    planned = plan(DrillRequest(env=str(env), scenario=str(scenario), skip_checks=True))  # no target here
    assert [s.drivers for s, _ in planned.scenarios] == [frozenset({"http"})]


def test_command_driver_runs_only_programs_the_environment_allows() -> None:
    driver = CommandDriver(("/bin/true",))
    assert driver.run("run", {"argv": ["/bin/true"]}, _CTX)["exit"] == 0
    with pytest.raises(RxError, match=r"not in the environment.s chaos\.command\.allow"):
        driver.run("run", {"argv": ["/bin/rm", "-rf", "/tmp/x"]}, _CTX)


def test_http_driver_refuses_a_url_outside_the_allowed_prefixes() -> None:
    driver = HttpDriver({}, ("https://ops.example/",))
    with pytest.raises(RxError, match=r"outside the environment.s chaos\.http\.allow"):
        driver.run("request", {"url": "https://elsewhere.example/failover"}, _CTX)
