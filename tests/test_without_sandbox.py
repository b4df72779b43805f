"""The proof that the sandbox is a plug-in: the project installed WITHOUT its `sandbox` extra runs every job (load,
journeys, a drill through the generic `http` and `toxiproxy` drivers, a monitor round, SLO evaluation, the report)
against a platform started from the development venv, and none of those processes imports, or even tries to import, the
sandbox package (an import hook in the installed venv records every attempt, checked against a positive control).

The bare venv is built fast: the project's wheel is installed with `--no-deps`, and its dependencies, minus every
distribution only the sandbox extra needs, are linked from the development venv; `pip check` then proves the
install complete without the extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from rxcore.environment import PROJECT_ROOT
from sandbox.stack import Sandbox

pytestmark = pytest.mark.slow
_NOT_SOURCE = (".git", ".venv", ".rxsuite", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache",
               ".ruff_cache", ".hypothesis")

_WATCH = '''"""Records, per process, every attempt to import the sandbox (tests/test_without_sandbox.py)."""
import atexit, json, os, sys

_LOG = os.environ.get("RXSUITE_IMPORT_LOG")


class _Watch:
    attempts = []

    def find_spec(self, name, path=None, target=None):
        if name == "sandbox" or name.startswith("sandbox."):
            self.attempts.append(name)
        return None


def _write():
    loaded = sorted(m for m in sys.modules if m == "sandbox" or m.startswith("sandbox."))
    with open(os.path.join(_LOG, f"{os.getpid()}.json"), "w") as out:
        json.dump({"argv": sys.argv, "attempted": _Watch.attempts, "loaded": loaded}, out)


if _LOG:
    sys.meta_path.insert(0, _Watch())
    atexit.register(_write)
'''


def _requirements(dist: Distribution, extras: tuple[str, ...] = ("",)) -> list[Requirement]:
    found = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in extras):
            found.append(req)
    return found


def _closure(requirements: list[Requirement]) -> set[str]:
    """The installed distributions these need, transitively, with the extras each requirement asks for."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    names: set[str] = set()
    todo = list(requirements)
    while todo:
        req = todo.pop()
        key = (req.name.lower().replace("_", "-"), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue
        names.add(key[0])
        todo += _requirements(dist, ("", *req.extras))
    return names


def _link_dependencies(site: Path) -> None:
    """Link every distribution the project needs without its sandbox extra from this venv into `site`."""
    main_site = Path(sysconfig.get_paths()["purelib"])
    for name in _closure(_requirements(distribution("rxsuite"))):
        for top in {Path(str(f)).parts[0] for f in distribution(name).files or [] if not str(f).startswith("..")}:
            source, target = main_site / top, site / top
            if source.exists() and not target.exists():
                target.symlink_to(source)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project without the sandbox extra, and the import watch."""
    root = tmp_path_factory.mktemp("bare")
    source, wheels = root / "source", root / "wheels"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))  # the build leaves build/
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                   check=True, capture_output=True, timeout=300)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    _link_dependencies(site)
    (site / "_rxsuite_import_watch.py").write_text(_WATCH)
    (site / "_rxsuite_import_watch.pth").write_text("import _rxsuite_import_watch\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", *wheels.glob("*.whl")], check=True,
                   capture_output=True, timeout=300)
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    return venv


@pytest.fixture(scope="module")
def remote_environment(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """The running sandbox seen as a remote platform: a `staging` environment file, keys in variables."""
    folder = tmp_path_factory.mktemp("remote")
    env_file = folder / "remote.yaml"
    env_file.write_text(yaml.safe_dump({
        "name": "remote", "kind": "staging", "base_url": sandbox.edge_url, "anon_key_env": "RX_TEST_ANON_KEY",
        "credentials_csv_env": "RX_TEST_CREDENTIALS", "allowed_jobs": ["load", "journeys", "drill", "report",
                                                                                    "monitor"],
        "chaos": {"drivers": ["http", "toxiproxy"], "toxiproxy": {"url": sandbox.fault_proxy_url},
                  "http": {"targets": {"edge": sandbox.edge_url}},
                  "ledger_service_key_env": "RX_TEST_SERVICE_KEY"},
    }))
    variables = {"RX_TEST_ANON_KEY": sandbox.anon_key, "RX_TEST_CREDENTIALS": str(sandbox.credentials_file),
                 "RX_TEST_SERVICE_KEY": sandbox.service_key}
    yield env_file, variables


def _scenario(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "name": "remote-latency", "description": "300 ms on the primary's proxy, judged through the edge only",
        "steady_state": {"checks": [{"check": "http", "path": "/health", "status": 200}], "after_timeout_s": 20},
        "probes": {"rate_hz": 5, "timeout_s": 3, "stability_s": 2},
        "method": [
            {"name": "edge answers", "driver": "http", "action": "request",
             "args": {"target": "edge", "path": "/health", "method": "GET", "expect_status": 200}, "at_s": 0},
            {"name": "300 ms on pg-a", "driver": "toxiproxy", "action": "add_toxic", "fault": True,
             "args": {"proxy": "pg-a", "type": "latency", "name": "bare-latency", "stream": "downstream",
                      "attributes": {"latency": 300}}, "duration_s": 3},
        ],
        "rollbacks": [{"name": "remove the latency", "driver": "toxiproxy", "action": "remove_toxic",
                       "args": {"proxy": "pg-a", "name": "bare-latency", "missing_ok": True}}],
        "objectives": [{"metric": "rto_s", "op": "<=", "target": 30, "critical": True},
                       {"metric": "rpo_count", "op": "==", "target": 0, "critical": True}],
    }))
    return path


def _run(venv: Path, argv: list[str], env_vars: dict[str, str], log_dir: Path, cwd: Path,
         timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(env_vars, RXSUITE_IMPORT_LOG=str(log_dir), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s,
                          stdin=subprocess.DEVNULL)


def _records(log_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(log_dir.glob("*.json"))]


def test_the_import_watch_sees_an_import_of_the_sandbox(bare_venv: Path, tmp_path: Path) -> None:
    result = _run(bare_venv, [str(bare_venv / "bin" / "python"), "-c", "import sandbox"], {}, tmp_path / "log",
                  tmp_path)
    assert result.returncode == 1
    assert "ImportError: the sandbox needs its extra" in result.stderr
    assert "pip install -e '.[sandbox]'" in result.stderr
    [record] = _records(tmp_path / "log")
    assert record["attempted"] == ["sandbox"]


def test_every_job_runs_without_the_sandbox_extra(bare_venv: Path, remote_environment: tuple[Path, dict],
                                                  tmp_path: Path) -> None:
    env_file, variables = remote_environment
    rxsuite, runs = str(bare_venv / "bin" / "rxsuite"), tmp_path / "runs"
    steps = {
        "load": [rxsuite, "load", "--env", str(env_file), "--profile", "smoke", "--duration", "6s", "--users", "2",
                 "--runs-dir", str(runs)],
        "journeys": [rxsuite, "journeys", "--env", str(env_file), "--runs-dir", str(runs), "--retries", "0"],
        "drill": [rxsuite, "drill", "--env", str(env_file), "--scenario", str(_scenario(tmp_path / "drill.yaml")),
                  "--no-load", "--runs-dir", str(runs)],
        "monitor": [rxsuite, "monitor", "--env", str(env_file), "--checks", "api", "--count", "1", "--runs-dir",
                    str(runs)],
    }
    logs = {}
    for name, argv in steps.items():
        logs[name] = tmp_path / "imports" / name
        result = _run(bare_venv, argv, variables, logs[name], tmp_path)
        assert result.returncode == 0, f"{name}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    [load_run] = runs.glob("*-load-remote")
    for name, argv in {"slo": [rxsuite, "slo", "evaluate", str(load_run)],
                       "report": [rxsuite, "report", str(load_run), "--no-pdf"]}.items():
        logs[name] = tmp_path / "imports" / name
        result = _run(bare_venv, argv, variables, logs[name], tmp_path)
        assert result.returncode in (0, 3), f"{name}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    [drill_run] = runs.glob("*-drill-remote")
    drill = json.loads((drill_run / "drill.json").read_text())
    assert (drill["status"], drill["verdict"]) == ("completed", "pass")
    assert [a["driver"] for a in drill["actions"]] == ["http", "toxiproxy", "toxiproxy"]
    assert (load_run / "report.html").is_file()
    for name, log_dir in logs.items():
        records = _records(log_dir)
        assert any(Path(r["argv"][0]).name == "rxsuite" for r in records), f"{name}: the main process left no record"
        assert [(r["argv"][:2], r["attempted"], r["loaded"]) for r in records if r["attempted"] or r["loaded"]] == []


def test_a_sandbox_environment_names_the_extra_to_install(bare_venv: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.yaml"
    env_file.write_text(yaml.safe_dump({"kind": "sandbox", "base_url": "http://127.0.0.1:9", "sandbox": {}}))
    for argv in (["load", "--env", str(env_file), "--runs-dir", str(tmp_path)], ["sandbox", "status", "--env",
                                                                                 str(env_file)]):
        result = _run(bare_venv, [str(bare_venv / "bin" / "rxsuite"), *argv], {}, tmp_path / "log", tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            "error: the sandbox plug-in (rxsuite.environment_kinds) cannot be loaded: the sandbox needs its extra "
            "(fastapi, psycopg, psycopg-pool, pyjwt, python-multipart, uvicorn not installed): "
            "pip install -e '.[sandbox]' (make venv does)"), argv
