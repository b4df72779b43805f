"""The plug-in registry (rxcore/plugins.py) and the sandbox's use of it: kinds and drivers come from entry points,
and the sandbox's platform supplies the generic drivers' defaults."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chaos.drivers.select import allowed_drivers, build_drivers
from rxcore import plugins
from rxcore.environment import load_environment, platform_target
from rxcore.errors import ConfigError, RxError

_FAKE_PLUGIN = '''
from pathlib import Path
from rxcore.plugins import Endpoint


class FakePlatform:
    def __init__(self, config):
        self.config = config

    def endpoint(self):
        return Endpoint(self.config["url"], "fake-anon", None, Path(self.config["users"]))


class FakeKind:
    def parse(self, section, file, root):
        return dict(section)

    def platform(self, config):
        return FakePlatform(config)


KIND = FakeKind()
'''


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Entry points are read once per process: forget them before and after a test that installs one."""
    plugins.environment_kinds.cache_clear()
    plugins.chaos_drivers.cache_clear()
    yield
    plugins.environment_kinds.cache_clear()
    plugins.chaos_drivers.cache_clear()


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Iterator[Path]:
    """A distribution on sys.path registering the environment kind `fake` (as `pip install` would)."""
    site = tmp_path / "site"
    info = site / "rxsuite_fake-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rxsuite-fake\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rxsuite.environment_kinds]\nfake = rxsuite_fake_plugin:KIND\n")
    (site / "rxsuite_fake_plugin.py").write_text(_FAKE_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("rxsuite_fake_plugin", None)


def _env_file(tmp_path: Path, **raw: object) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump({"base_url": "http://127.0.0.1:9", **raw}))
    return path


def test_a_kind_registered_by_an_entry_point_parses_its_section_and_gives_the_target(
        fake_plugin: Path, tmp_path: Path) -> None:
    env = load_environment(str(_env_file(tmp_path, kind="fake", fake={"url": "http://127.0.0.1:7/", "users": "u.csv"})))
    assert env.platform_config == {"url": "http://127.0.0.1:7/", "users": "u.csv"}
    assert env.sandbox is None
    target = platform_target(env)
    assert (target.base_url, target.anon_key, target.credentials_csv) == ("http://127.0.0.1:7", "fake-anon",
                                                                          Path("u.csv"))


def test_an_unknown_kind_lists_the_installed_plugin_kinds(fake_plugin: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'nope' is not an environment kind \(use one of staging, production, "
                                          r"preview, .*fake"):
        load_environment(str(_env_file(tmp_path, kind="nope")))


def test_the_sandbox_platform_gives_toxiproxy_and_http_their_defaults() -> None:
    env = load_environment("sandbox")
    config = env.platform_config
    assert allowed_drivers(env) == {"sandbox", "toxiproxy", "http"}
    drivers = build_drivers(env, {"toxiproxy", "http"}, env.platform())
    assert drivers["toxiproxy"].base_url == config.url("fault_api")
    assert drivers["http"].targets == {"edge": config.url("edge"), "payments": config.url("payments"),
                                       "failover": config.url("failover"), "fault_proxy": config.url("fault_api")}


def test_the_sandbox_driver_on_a_remote_platform_is_refused(tmp_path: Path) -> None:
    env = load_environment(str(_env_file(tmp_path, kind="staging", chaos={"drivers": ["sandbox"]})))
    with pytest.raises(RxError, match=r"^the sandbox driver needs a sandbox environment \(kind: sandbox\)"):
        build_drivers(env, {"sandbox"}, env.platform())


def test_a_driver_no_plugin_provides_is_named(tmp_path: Path) -> None:
    env = load_environment(str(_env_file(tmp_path, kind="staging", chaos={"drivers": ["kubectl"]})))
    with pytest.raises(ConfigError, match=r"chaos\.drivers: no driver named 'kubectl' is installed"):
        build_drivers(env, {"kubectl"}, None)
