"""The staging rehearsal: a sandbox is started as "the platform", then forgotten. Every job is a subprocess of the
`rxsuite` CLI pointed at a copy of environments/rehearsal.yaml (kind staging) that knows only the public URL, the
keys' variable names, the fault proxy's Toxiproxy API, the failover manager's HTTP API and the operator's tools
(tests/rehearsal_ops.py, run by the command driver). In order: accounts create, env check, the smoke journeys,
a load run, the staging suite's region-outage, db-primary-loss and backup-restore scenarios, slo evaluate, report,
accounts delete.

Every job process runs under an audit (a sitecustomize on PYTHONPATH) that records any attempt to import `sandbox`
and any open or listing under the sandbox's state folder; a positive control proves the audit sees both. The same
three scenario files then run with an environment of kind sandbox (URL and keys from the plug-in, the same chaos
names), and RTO (within one probe interval), RPO (exactly) and the ledger's lost writes must agree.

Time: the load run is 60 s at 80 iterations a second, enough requests for slo evaluate to show 99.9 %
availability; the drills run without background load with faults held 3 s and a 2 s stability window; the six
drills run as two suites, one process each.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from chaos.sandbox_env import write_sandbox_environment
from chaos.scenario import SCENARIO_DIR
from rxcore.environment import PROJECT_ROOT, load_environment
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.conftest import running_sandbox
from tests.rehearsal_ops import REGION

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the whole rehearsal runs in the first test's setup

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 257  # no port shared with the other test sandboxes
_RATE_HZ = 2.0
_HOLD_S = 3.0
_ACCOUNTS = 42  # the smoke journeys use up to the 12th patient from the end; roles are given in turn
_SCENARIOS = ("region-outage", "db-primary-loss", "backup-restore")
_CLI = [sys.executable, "-m", "rxsuite.cli"]

_AUDIT = '''"""Audit of a rehearsal job process (tests/test_staging_rehearsal.py): one JSON line per process started and
one per attempt to import the sandbox or to open or list a path under its state folder, written at once."""
import json, os, sys

_LOG = os.environ.get("RXSUITE_REHEARSAL_AUDIT")
_STATE = os.environ.get("RXSUITE_REHEARSAL_STATE_DIR", "")
_busy = []


def _note(kind, detail):
    if _busy:
        return
    _busy.append(1)
    try:
        with open(os.path.join(_LOG, f"{os.getpid()}.jsonl"), "a") as out:
            out.write(json.dumps({"kind": kind, "detail": detail, "argv": sys.argv}) + "\\n")
    finally:
        _busy.clear()


class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "sandbox" or name.startswith("sandbox."):
            _note("import", name)
        return None


def _hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if _STATE and (path == _STATE or path.startswith(_STATE + os.sep)):
            _note(event, path)


if _LOG:
    _note("started", os.getpid())
    sys.meta_path.insert(0, _Watch())
    sys.addaudithook(_hook)
'''


@dataclass
class Step:
    name: str
    code: int
    out: str
    err: str

    def run_folder(self) -> Path:
        found = re.findall(r"^(?:run|run folder|journal)\s+(\S+)", self.out, re.M)
        assert found, f"{self.name}: no run folder in its output:\n{self.out}\n{self.err}"
        path = Path(found[-1])
        return path.parent if path.name == "drill.json" else path


@dataclass
class Rehearsal:
    steps: dict[str, Step] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    control: list[dict[str, Any]] = field(default_factory=list)
    referenced: int = -1  # created accounts that rows of the platform reference (GoTrue keeps those)
    remaining: int = -1  # created accounts that should be gone after `accounts delete` (_still_there)


@pytest.fixture(scope="module")
def platform() -> Iterator[Sandbox]:
    """The platform's edge checks its regions every 250 ms (the sandbox's default is 500 ms), so when it notices a
    frozen region varies by half a probe interval: the probes that show recovery in two runs go out on the same
    tick or on neighbouring ones, never two apart."""
    config = sandbox_variant(_OFFSET, f"test-rehearsal-{_OFFSET}")
    yield from running_sandbox(dataclasses.replace(config, edge=dataclasses.replace(config.edge,
                                                                                    check_interval_ms=250)))


def _rehearsal_env(sandbox: Sandbox, sandbox_env: Path, path: Path) -> Path:
    """environments/rehearsal.yaml on this sandbox's ports, with absolute paths, naming the current primary's
    proxy: all a job may know of the platform. The region's tools become the signals they send (SIGSTOP, SIGCONT
    to its pid): RTO counts from the start of the fault step, and the Python tool's own start-up (0.9 to 2.6 s on
    a busy machine) would move the fault's moment by more than a probe interval between two runs."""
    default = load_environment("sandbox").sandbox.ports
    ports = {str(port): str(sandbox.config.ports[name]) for name, port in default.items()}
    text = (PROJECT_ROOT / "environments" / "rehearsal.yaml").read_text()
    text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[m.group(1)]}", text)
    text = (text.replace(".venv/bin/python", sys.executable)
            .replace("tests/rehearsal_ops.py", str(PROJECT_ROOT / "tests" / "rehearsal_ops.py"))
            .replace("environments/sandbox.yaml", str(sandbox_env)))
    raw = yaml.safe_load(text)
    raw["chaos"]["toxiproxy"]["proxies"]["database-primary"] = sandbox.topology()["primary"]
    region = next(str(part.pid) for part in sandbox.status() if part.name == REGION)
    raw["chaos"]["command"]["templates"].update(
        {"region-down": ["/bin/kill", "-STOP", region], "region-up": ["/bin/kill", "-CONT", region]})
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _short(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """A scenario shortened for the rehearsal: no background load, faults held _HOLD_S, waits of 1.5 s, probes
    at _RATE_HZ with a 2 s stability window. In db-primary-loss the failover webhook is called 1.5 s after the cut
    and its probes time out at 0.8 s, so the outage shows in every run instead of hiding in slow answers."""
    timeout = 0.8 if name == "db-primary-loss" else 2
    raw = {**raw, "name": name, "probes": {"rate_hz": _RATE_HZ, "timeout_s": timeout, "stability_s": 2}}
    raw.pop("load", None)
    for step in raw["method"]:
        if step.get("duration_s"):
            step["duration_s"] = min(step["duration_s"], _HOLD_S)
        if step.get("action") == "wait":
            step["args"] = {"seconds": 1.5}
        if step.get("args", {}).get("target") == "db-failover":
            step["after_s"] = 1.5  # the team's monitoring calls the webhook: the outage always outlasts a probe
    return raw


def _suite(tmp: Path) -> Path:
    """The staging suite's three scenarios, shortened: run once through the rehearsal's environment and once with
    a sandbox environment, the same files."""
    folder = tmp / "staging-suite"
    folder.mkdir()
    for name in _SCENARIOS:
        raw = _short(yaml.safe_load((SCENARIO_DIR / "staging" / f"{name}.yaml").read_text()), name)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    suite = folder / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "rehearsal", "scenarios": [
        {"scenario": str(folder / f"{name}.yaml")} for name in _SCENARIOS]}))
    return suite


def _sandbox_env(sandbox: Sandbox, rehearsal_env: Path, path: Path) -> Path:
    """A sandbox environment (kind sandbox: the plug-in gives URL and keys) with the rehearsal's chaos names, so
    the same scenario files run with --env of a sandbox."""
    write_sandbox_environment(sandbox.config, path, "rehearsal-sandbox")
    raw = yaml.safe_load(path.read_text())
    chaos = yaml.safe_load(rehearsal_env.read_text())["chaos"]
    chaos["toxiproxy"]["proxies"]["database-primary"] = sandbox.topology()["primary"]
    raw["chaos"] = {**chaos, "drivers": ["sandbox", "command"]}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _seed_prescriptions(base_url: str, anon_key: str, accounts: Path) -> None:
    """The synthetic data a team keeps on staging: one requested prescription per patient, through the public API
    (the smoke journeys open a patient's prescription)."""
    with httpx.Client(base_url=base_url, timeout=15) as client, open(accounts, newline="") as src:
        medication = None
        for row in csv.DictReader(src):
            if row["role"] != "patient":
                continue
            token = client.post("/auth/v1/token", params={"grant_type": "password"}, headers={"apikey": anon_key},
                                json={"email": row["email"], "password": row["password"]}).json()["access_token"]
            headers = {"apikey": anon_key, "Authorization": f"Bearer {token}"}
            medication = medication or client.get("/rest/v1/medications", params={"select": "id", "limit": "1"},
                                                   headers=headers).json()[0]["id"]
            created = client.post("/rest/v1/prescriptions", json={"medication_id": medication, "quantity": 1},
                                  headers=headers)
            assert created.status_code == 201, created.text


def _audit_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def rehearsal(platform: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    tmp = tmp_path_factory.mktemp("rehearsal")
    audit_dir, log_dir, runs = tmp / "audit", tmp / "audit-log", tmp / "runs"
    audit_dir.mkdir()
    log_dir.mkdir()
    (audit_dir / "sitecustomize.py").write_text(_AUDIT)
    tools_env = write_sandbox_environment(platform.config, tmp / "tools.yaml", "rehearsal-tools")
    env_file = _rehearsal_env(platform, tools_env, tmp / "rehearsal.yaml")
    accounts = tmp / "accounts.csv"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RXSUITE_", "RX_"))}
    audited = {**base, "PYTHONPATH": str(audit_dir), "RXSUITE_REHEARSAL_AUDIT": str(log_dir),
               "RXSUITE_REHEARSAL_STATE_DIR": str(platform.config.state_dir.resolve()),
               "RXSUITE_REHEARSAL_ANON_KEY": platform.anon_key, "RXSUITE_REHEARSAL_SERVICE_KEY": platform.service_key,
               "RXSUITE_REHEARSAL_CREDENTIALS_CSV": str(accounts)}
    result = Rehearsal()

    def job(name: str, *args: str, env: dict[str, str] = audited, timeout: float = 300) -> Step:
        done = subprocess.run([*_CLI, *args], capture_output=True, text=True, cwd=tmp, env=env, timeout=timeout)
        result.steps[name] = Step(name, done.returncode, done.stdout, done.stderr)
        return result.steps[name]

    control = tmp / "control-log"
    control.mkdir()
    state_file = str(platform.config.state_dir / "state.json")
    subprocess.run([sys.executable, "-c", f"import sandbox.stack; open({state_file!r})"],
                   env={**audited, "RXSUITE_REHEARSAL_AUDIT": str(control)}, check=True, timeout=60)
    result.control = _audit_records(control)

    rxenv = str(env_file)
    if job("accounts create", "accounts", "create", "--env", rxenv, "--count", str(_ACCOUNTS), "--csv",
           str(accounts)).code == 0:
        _seed_prescriptions(platform.edge_url, platform.anon_key, accounts)
    job("env check", "env", "check", "--env", rxenv)
    job("env check, wrong key", "env", "check", "--env", rxenv,
        env={**audited, "RXSUITE_REHEARSAL_ANON_KEY": platform.anon_key[:-4] + "AAAA"})
    job("journeys", "journeys", "--env", rxenv, "--tag", "smoke", "--runs-dir", str(runs))
    job("load", "load", "--env", rxenv, "--profile", "baseline", "--users", "20", "--rate", "80", "--duration", "60s",
        "--runs-dir", str(runs))
    suite = str(_suite(tmp))
    job("drill staging", "drill", "--env", rxenv, "--suite", suite, "--no-load", "--runs-dir", str(runs))
    sandbox_env = _sandbox_env(platform, env_file, tmp / "sandbox.yaml")
    job("drill sandbox", "drill", "--env", str(sandbox_env), "--suite", suite, "--no-load",
        "--runs-dir", str(runs / "sandbox"), env=base)
    if result.steps["load"].code == 0:
        load_run = str(result.steps["load"].run_folder())
        job("slo evaluate", "slo", "evaluate", load_run, "--format", "plain")
        job("report", "report", load_run, "--no-pdf")
    ids = [row["user_id"] for row in csv.DictReader(accounts.open(newline=""))] if accounts.is_file() else []
    job("accounts delete", "accounts", "delete", "--env", rxenv, "--csv", str(accounts))
    result.referenced, result.remaining = _still_there(platform, ids)
    result.audit = _audit_records(log_dir)
    return result


def _still_there(platform: Sandbox, ids: list[str]) -> tuple[int, int]:
    """Ground truth from the platform's database (the test knows it; the jobs do not): how many of `ids` rows
    reference, and how many users of `ids` exist that should not: one not soft-deleted (`deleted_at` unset, it
    could still sign in), or one soft-deleted although no row references it (it should have been deleted)."""
    references = ("SELECT patient_id AS u FROM prescriptions UNION SELECT doctor_id FROM prescriptions"
                  " UNION SELECT actor_id FROM prescription_events UNION SELECT patient_id FROM payments")
    with psycopg.connect(platform.layout().conninfo(platform.topology()["primary"])) as conn:
        referenced = conn.execute(f"SELECT count(DISTINCT u) FROM ({references}) AS r WHERE u = ANY(%s::uuid[])",
                                  (ids,)).fetchone()
        remaining = conn.execute(
            f"SELECT count(*) FROM auth.users WHERE id = ANY(%s::uuid[])"
            f" AND (deleted_at IS NULL OR id NOT IN (SELECT u FROM ({references}) AS r WHERE u IS NOT NULL))",
            (ids,)).fetchone()
    return int(referenced[0]) if referenced else 0, int(remaining[0]) if remaining else 0


def _passed(rehearsal: Rehearsal, name: str, codes: tuple[int, ...] = (0,)) -> Step:
    step = rehearsal.steps.get(name)
    assert step is not None, f"{name} did not run (an earlier step failed)"
    assert step.code in codes, f"{name} exited {step.code}:\n{step.out[-3000:]}\n{step.err[-3000:]}"
    return step


def _scenarios(rehearsal: Rehearsal, name: str) -> dict[str, dict[str, Any]]:
    folder = _passed(rehearsal, name).run_folder()
    return {n: json.loads((folder / "scenarios" / n / "drill.json").read_text()) for n in _SCENARIOS}


def test_accounts_are_created_and_the_environment_checks_pass(rehearsal: Rehearsal) -> None:
    assert f"{_ACCOUNTS} accounts created" in _passed(rehearsal, "accounts create").out
    checks = _passed(rehearsal, "env check").out
    assert re.findall(r"^(\w+)\tpass", checks, re.M) == ["reachability", "tls", "clock_skew", "anon_key", "sign_in",
                                                          "tables", "rls", "rate_limit", "rehearsal"]


def test_env_check_with_a_wrong_key_fails_naming_the_key(rehearsal: Rehearsal) -> None:
    """RLS off and a missing table are tests/test_preflight.py's (the platform here has neither)."""
    out = _passed(rehearsal, "env check, wrong key", (1,)).out
    assert re.search(r"^anon_key\tfail\t.*(401|403)", out, re.M), out


def test_a_load_run_its_slo_evaluation_and_its_report(rehearsal: Rehearsal) -> None:
    folder = _passed(rehearsal, "load").run_folder()
    overall = json.loads((folder / "load.json").read_text())["overall"]
    assert overall["requests"] > 0 and overall["outcomes"]["ok"] == overall["requests"]
    # 3: objectives of requests a user makes once (sign-in, Realtime join) cannot be shown in 60 s; the headline
    # objectives, on which a release decision rests, can
    slo = _passed(rehearsal, "slo evaluate", (0, 3)).out
    assert re.search(r"^availability\tpass\t", slo, re.M) and re.search(r"^latency-p95\tpass\t", slo, re.M), slo
    assert json.loads((folder / "slo.json").read_text())["release_verdict"] == "pass"
    _passed(rehearsal, "report", (0, 3))  # the report carries the same verdict as slo evaluate
    assert (folder / "report.html").is_file()


def test_the_smoke_journeys_pass(rehearsal: Rehearsal) -> None:
    folder = _passed(rehearsal, "journeys").run_folder()
    journeys = json.loads((folder / "journeys.json").read_text())
    assert journeys["summary"]["failed"] == 0 and journeys["summary"]["passed"] >= 4


def test_the_staging_scenarios_end_as_designed(rehearsal: Rehearsal) -> None:
    for name, drill in _scenarios(rehearsal, "drill staging").items():
        assert drill["as_expected"], f"{name}: {drill['verdict']} {drill.get('reason')}"
        assert {a["driver"] for a in drill["actions"]} <= {"toxiproxy", "http", "command", "drill"}


def _recovering_answer_s(folder: Path, drill: dict[str, Any]) -> float:
    """How long the probe whose answer marks recovery took to be answered (from the scenario's probe file)."""
    fault_at = next(t["unix"] for t in drill["timeline"] if t["event"] == "fault_injected")
    recovered = fault_at + drill["rto_s"]
    samples = [json.loads(line) for line in (folder / "probes.jsonl").read_text().splitlines()]
    found = min((s for s in samples if s["ok"]), key=lambda s: abs(s["done"] - recovered))
    assert abs(found["done"] - recovered) < 0.01, (found, recovered)
    return float(found["done"] - found["sent"])


def test_rto_rpo_and_ledger_agree_with_the_same_scenarios_run_with_a_sandbox_environment(
        rehearsal: Rehearsal) -> None:
    """RTO within one probe interval. The drill sets its probe clock at the fault (chaos.probes.Prober.align), so
    both runs send their probes on the same ticks relative to it: the probes that show recovery go out on the same
    tick, or on neighbouring ticks when the platform's recovery falls near one. RTO is read at that probe's answer,
    so the two answers' own times are added to the bound (milliseconds, or the wait of a probe the app held while
    its database came back)."""
    staging, sandbox = _scenarios(rehearsal, "drill staging"), _scenarios(rehearsal, "drill sandbox")
    folders = {run: _passed(rehearsal, run).run_folder() / "scenarios" for run in ("drill staging", "drill sandbox")}
    for name in ("region-outage", "db-primary-loss"):
        assert sandbox[name]["as_expected"], f"{name} on the sandbox: {sandbox[name].get('reason')}"
        assert staging[name]["rto_s"] > 0 and sandbox[name]["rto_s"] > 0, name  # the outage showed in both
        answers = [_recovering_answer_s(folders[run] / name, drill)
                   for run, drill in (("drill staging", staging[name]), ("drill sandbox", sandbox[name]))]
        tolerance = 1 / _RATE_HZ + abs(answers[0] - answers[1])
        difference = abs(staging[name]["rto_s"] - sandbox[name]["rto_s"])
        assert difference <= tolerance, f"{name}: RTO {staging[name]['rto_s']} vs {sandbox[name]['rto_s']}"
        assert (staging[name]["rpo_count"], staging[name]["rpo_s"]) == (sandbox[name]["rpo_count"],
                                                                         sandbox[name]["rpo_s"]), name
        assert staging[name]["ledger"]["lost"] == sandbox[name]["ledger"]["lost"], name
    restore = [{k: run["backup-restore"]["metrics"][k] for k in
                ("restore_missing_before_target", "restore_present_after_target")} for run in (staging, sandbox)]
    assert restore[0] == restore[1] == {"restore_missing_before_target": 0, "restore_present_after_target": 0}
    assert staging["backup-restore"]["ledger"]["lost"] == sandbox["backup-restore"]["ledger"]["lost"] == 0


def test_accounts_delete_deletes_every_account_and_soft_deletes_the_referenced_ones(rehearsal: Rehearsal) -> None:
    """The seeded prescriptions and the load run's writes reference some accounts; GoTrue refuses to hard-delete
    those unless the foreign keys cascade (the sandbox's do not), so `accounts delete` soft-deletes them and exits
    0. No account is left that is neither gone nor soft-deleted, and none is soft-deleted that no row references;
    as every referenced account still exists (the foreign keys), the soft-deleted ones are exactly the referenced."""
    step = _passed(rehearsal, "accounts delete")
    assert rehearsal.remaining == 0 < rehearsal.referenced
    assert step.out.startswith(f"completed: {_ACCOUNTS} accounts deleted ({rehearsal.referenced} soft-deleted: "
                               "platform rows reference them), 0 already gone"), step.out


def test_no_job_process_imports_the_sandbox_or_reads_its_state(rehearsal: Rehearsal) -> None:
    assert {r["kind"] for r in rehearsal.control} >= {"import", "open"}  # the audit sees both
    started = [r for r in rehearsal.audit if r["kind"] == "started"]
    assert len(started) >= 8  # every CLI job, plus the Locust and journey processes they start
    assert [r for r in rehearsal.audit if r["kind"] != "started"] == []
