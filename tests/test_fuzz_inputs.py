"""Property-based fuzzing of every file kind a user writes and of the CLI's typed values: each case ends in
success or a clear error (one line, exit 2, no traceback), never a traceback, never a hang (pytest-timeout).

In-process and bounded (max_examples, deadline); a few cases also go through the real `rxsuite` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.scenario import load_scenario
from chaos.suite import load_suite
from rxcore.environment import PROJECT_ROOT, load_environment
from rxsuite.cli import main
from slo.evaluate import evaluate_run
from slo.histogram import Histogram
from slo.records import RecordWriter, WindowRecord
from slo.spec import load_spec
from tests.fuzzing import TALLY, TRACEBACKS, documents, hostile_values, latency_lines, outcome, texts

_FUZZ = settings(max_examples=150, deadline=2000, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_ENV = {"name": "fuzz", "kind": "staging", "base_url": "https://rx.example", "anon_key_env": "RX_FUZZ_ANON",
        "allowed_jobs": ["load", "drill"], "caps": {"max_users": 50, "max_rate": 100},
        "chaos": {"drivers": ["toxiproxy"], "toxiproxy": {"url": "http://127.0.0.1:1"}},
        "users": {"patient": {"weight": 6, "wait": [1, 3]}, "doctor": {"weight": 2, "wait": [1, 3]}}}


def _shipped(relative: str, all_docs: bool = False) -> Any:
    text = (PROJECT_ROOT / relative).read_text()
    return list(yaml.safe_load_all(text)) if all_docs else yaml.safe_load(text)


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    """Counts per file kind and outcome, printed with -s (the figures of the final report)."""
    yield
    for (kind, seen), n in sorted(TALLY.items()):
        print(f"fuzz {kind:10s} {seen:9s} {n}")


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
    return path


@pytest.mark.timeout(120)
@_FUZZ
@given(data=texts(_ENV))
def test_environment_files(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "env.yaml", data)
    assert outcome("environment", lambda: load_environment(str(path))) != "traceback", TRACEBACKS[-1]


@pytest.mark.timeout(120)
@settings(_FUZZ, max_examples=100)
@given(data=documents(_shipped("environments/sandbox.yaml")))
def test_sandbox_environment_files(tmp_path: Path, data: Any) -> None:
    path = _write(tmp_path, "env.yaml", yaml.safe_dump(data))
    assert outcome("sandbox-env", lambda: load_environment(str(path))) != "traceback", TRACEBACKS[-1]


@pytest.mark.timeout(120)
@_FUZZ
@given(data=texts(_shipped("slo/specs/default.yaml")))
def test_slo_specs(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "spec.yaml", data)
    assert outcome("spec", lambda: load_spec(path)) != "traceback", TRACEBACKS[-1]


@pytest.mark.timeout(120)
@_FUZZ
@given(docs=st.lists(documents(_shipped("slo/specs/openslo-example.yaml", all_docs=True)[1]), min_size=1,
                     max_size=2), sli=documents(_shipped("slo/specs/openslo-example.yaml", all_docs=True)[0]))
def test_openslo_documents(tmp_path: Path, docs: list[Any], sli: Any) -> None:
    path = _write(tmp_path, "openslo.yaml", yaml.safe_dump_all([sli, *docs]))
    assert outcome("openslo", lambda: load_spec(path)) != "traceback", TRACEBACKS[-1]


@pytest.mark.timeout(120)
@_FUZZ
@given(data=texts(_shipped("chaos/scenarios/region-outage.yaml")))
def test_scenario_files(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "scenario.yaml", data)
    assert outcome("scenario", lambda: load_scenario(str(path))) != "traceback", TRACEBACKS[-1]


@pytest.mark.timeout(120)
@settings(_FUZZ, max_examples=60)
@given(data=texts(_shipped("chaos/suites/quarterly.yaml")))
def test_suite_files(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "suite.yaml", data)
    assert outcome("suite", lambda: load_suite(str(path))) != "traceback", TRACEBACKS[-1]


def _valid_windows() -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(("GET /a", "GET /b", "GET /a")):
        histogram = Histogram()
        for value_us in (1200, 3400, 56000):
            histogram.record(value_us)
        record = WindowRecord(start=1_790_000_000.0 + i, duration_s=1.0, name=name,
                              outcomes={"ok": 3, "http_5xx": i}, histogram=histogram)
        rows.append(json.loads(record.to_line()))
    return rows


_WINDOWS = _valid_windows()


@pytest.mark.timeout(120)
@_FUZZ
@given(body=latency_lines(_WINDOWS))
def test_latency_records(tmp_path_factory: pytest.TempPathFactory, body: str) -> None:
    run_dir = tmp_path_factory.mktemp("run")
    RecordWriter(run_dir).close()  # the header line
    with open(run_dir / "latency.jsonl", "ab") as f:
        f.write(body.encode("utf-8", "surrogateescape"))
    assert outcome("latency", lambda: evaluate_run(run_dir)) != "traceback", TRACEBACKS[-1]


_OPTIONS = {
    "load": ["--rate", "--duration", "--request-timeout", "--abort-after", "--tags", "--users", "--steps"],
    "run": ["--duration", "--users"],
    "report": ["--period", "--since"],
}


@pytest.mark.timeout(180)
@settings(_FUZZ, max_examples=200)
@given(command=st.sampled_from(sorted(_OPTIONS)), data=st.data(),
       value=st.one_of(hostile_values.map(str), st.text(max_size=400)))
def test_cli_values(tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], command: str,
                    data: st.DataObject, value: str) -> None:
    """Each value goes to an environment file that does not exist, so a valid one ends in a clear refusal too."""
    option = data.draw(st.sampled_from(_OPTIONS[command]))
    where = tmp_path_factory.mktemp("cli")
    argv = [command, f"{option}={value}", "--runs-dir", str(where)]
    if command != "report":
        argv += ["--env", str(where / "missing.yaml")]
    seen = outcome("cli", lambda: main(argv))
    err = capsys.readouterr().err
    assert seen != "traceback", TRACEBACKS[-1]
    assert "Traceback" not in err
    if seen == "clear" and not err.startswith("usage:"):
        assert len(err.strip().splitlines()) == 1, err


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("command", "name", "text"), [
    ("load", "env.yaml", b"name: x\nkind: staging\nbase_url: https://rx.example\ncaps: {max_rate: .nan}\n"),
    ("load", "env.yaml", b"a: &a [*a]\nkind: staging\n"),
    ("drill", "scenario.yaml", b"name: x\nmethod: [{driver: [sandbox], action: kill_region}]\n"),
    ("drill", "scenario.yaml", b"name: caf\xe9\n"),
])
def test_the_real_process_answers_in_one_line(tmp_path: Path, command: str, name: str, text: bytes) -> None:
    path = _write(tmp_path, name, text)
    option = "--env" if name == "env.yaml" else "--scenario"
    done = subprocess.run([sys.executable, "-m", "rxsuite.cli", command, option, str(path), "--runs-dir",
                           str(tmp_path / "runs")], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(path) in done.stderr
