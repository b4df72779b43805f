"""deploy/systemd checked offline with `systemd-analyze verify` (systemd's own parser: unknown sections or keys, bad
values, a missing ExecStart), the install prefix /opt/rxsuite mapped to this checkout so the ExecStart binary exists.
verify prints its findings and may still exit 0, so a pass is an exit 0 with nothing said; the check is first shown
to refuse a broken unit. The example secrets file names the variables the production example's file names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "rxsuite-monitor.service"
INSTALL_PREFIX = "/opt/rxsuite"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (Debian package systemd)")


def _verify(text: str, folder: Path, name: str = "rxsuite-monitor.service") -> subprocess.CompletedProcess[str]:
    unit = folder / name
    unit.write_text(text.replace(INSTALL_PREFIX, str(ROOT)))
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)


def test_the_monitor_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    run = _verify(UNIT.read_text(), tmp_path)
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


def test_verify_refuses_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("KillMode=mixed", "KillMode=gently").replace("Restart=always", "Restrat=always")
    run = _verify(broken, tmp_path, "broken.service")
    assert "kill mode" in run.stderr and "Unknown key 'Restrat'" in run.stderr


def test_the_secrets_example_sets_the_variables_the_production_example_names() -> None:
    example = yaml.safe_load((ROOT / "environments" / "production.example.yaml").read_text())
    lines = (ROOT / "deploy" / "systemd" / "rxsuite-monitor.env.example").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert names == {"RXSUITE_MONITOR_ENV", example["anon_key_env"], example["credentials_csv_env"]}
    assert "monitor" in example["allowed_jobs"]
