"""`rxsuite drill --dry-run` prints every check, step, probe, safeguard and rollback with its resolved URL or
command, and touches nothing: the target, the Toxiproxy API and the webhooks are one recording server that must
see no request, and every command template would create a file that must not exist afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from rxsuite.cli import main
from tests.local_http import serving

_SEEN: list[str] = []


class _Recorder(BaseHTTPRequestHandler):
    def _any(self) -> None:
        _SEEN.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST = do_DELETE = _any

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[str]:
    _SEEN.clear()
    with serving(_Recorder) as url:
        yield url


def _env(tmp_path: Path, url: str, templates: dict[str, list[str]]) -> Path:
    path = tmp_path / "staging.yaml"
    path.write_text(yaml.safe_dump({
        "name": "staging-dry", "kind": "staging", "base_url": url, "anon_key_env": "RX_DRY_ANON",
        "allowed_jobs": ["drill"],
        "chaos": {"drivers": ["toxiproxy", "http", "command"], "ledger_service_key_env": "RX_DRY_SERVICE",
                  "toxiproxy": {"url": f"{url}/toxiproxy", "proxies": {"database-primary": "pg-real"}},
                  "http": {"targets": {"db-failover": f"{url}/ops/promote", "db-rebuild": f"{url}/ops/rebuild",
                                       "payments-outage-on": f"{url}/pay", "payments-outage-off": f"{url}/pay"}},
                  "command": {"templates": templates}}}))
    return path


def _templates(tmp_path: Path) -> dict[str, list[str]]:
    return {"region-down": ["/usr/bin/touch", str(tmp_path / "down")],
            "region-up": ["/usr/bin/touch", str(tmp_path / "up")],
            "restore-pitr": ["/usr/bin/touch", str(tmp_path / "restored-{target_unix}-{run_id}")]}


def test_dry_run_of_the_staging_suite_resolves_every_step_and_touches_nothing(
        tmp_path: Path, recorder: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = _env(tmp_path, recorder, _templates(tmp_path))
    code = main(["drill", "--env", str(env), "--suite", "quarterly-staging", "--dry-run", "--runs-dir",
                 str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0
    assert _SEEN == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staging.yaml"]
    for line in (
            f"-> /usr/bin/touch {tmp_path / 'down'}",
            f"-> /usr/bin/touch {tmp_path / 'up'}",
            f"-> /usr/bin/touch '{tmp_path}/restored-<unix time of mark restore-target>-<run id>'",
            f'-> POST {recorder}/toxiproxy/proxies/pg-real {{"enabled": false}}',
            f"-> DELETE {recorder}/toxiproxy/proxies/pg-real/toxics/drill-latency",
            f"-> POST {recorder}/ops/promote",
            f"-> POST {recorder}/ops/rebuild",
            f'-> POST {recorder}/pay {{"outage": true}}',
            f"probes   ledger POST {recorder}/rest/v1/probe_writes (service key from RX_DRY_SERVICE)",
            f"steady   http GET {recorder}/health answers 200",
            "guard    abort when the method runs past 60 s",
            "at 0 s, holds 8 s, the fault (RTO/RPO from here)"):
        assert line in out, line
    assert out.count("\nscenario staging/") == 5


def test_dry_run_names_a_template_the_environment_lacks(tmp_path: Path, recorder: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    templates = _templates(tmp_path)
    del templates["restore-pitr"]
    env = _env(tmp_path, recorder, templates)
    code = main(["drill", "--env", str(env), "--scenario", "staging/backup-restore", "--dry-run"])
    captured = capsys.readouterr()
    assert code == 1
    assert "PROBLEM: command template 'restore-pitr' is not defined" in captured.out
    assert "restore to the target time" in captured.err
    assert _SEEN == []
