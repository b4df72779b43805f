"""`rxsuite load`: a Locust load run against an environment, recorded into a run folder and judged by the SLOs.

Exit codes: 0 the run completed and no SLO failed (slo.json says where data was insufficient); 1 an SLO failed;
2 the run could not start or Locust failed; 3 aborted mid-run (target unreachable, a worker died); 130
interrupted (Ctrl-C). With `--env sandbox` the sandbox must already be running (`rxsuite sandbox up`): a load
run never starts or stops it behind your back.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table

from rxcore import validation
from rxcore.environment import PROJECT_ROOT, Environment, load_environment, platform_target
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode
from rxcore.runfolder import RunFolder
from rxsuite.console import console, fail, interactive

JOB = "load"
_PLAIN_EVERY_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    from locustfiles.profiles import PROFILES

    parser = subparsers.add_parser("load", help="run load against an environment (Locust), record and judge it",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--profile", default="smoke", choices=sorted(PROFILES),
                        help="load shape (default: smoke): " + "; ".join(f"{k}: {v.description}"
                                                                         for k, v in PROFILES.items()))
    parser.add_argument("--duration", help="run length, e.g. 20s, 10m (default: the profile's)")
    parser.add_argument("--users", type=int, help="peak users (closed loop) or the user pool (arrival rate)")
    parser.add_argument("--rate",
                        help="arrival-rate mode: peak task iterations per second; latency counts from the "
                             "intended start, so a stall is not hidden")
    parser.add_argument("--workers", type=int, default=0, help="start a master and N local worker processes")
    parser.add_argument("--tags", help="only tasks with these tags, comma-separated (read, write, payment, ...)")
    parser.add_argument("--raw", action="store_true", help="also keep every sample in raw/*.csv.gz (forensics)")
    parser.add_argument("--steps", type=int, default=5, help="step and capacity profiles: number of steps")
    parser.add_argument("--abort-after", default="30s",
                        help="stop when nothing succeeded for this long (target gone); 0s disables (default 30s)")
    parser.add_argument("--request-timeout", default="30s", help="per-request timeout (default 30s)")
    parser.add_argument("--spec", type=Path, help="SLO spec for the verdict (default: slo/specs/default.yaml)")
    parser.add_argument("--runs-dir", type=Path, default=PROJECT_ROOT / "runs", help="where run folders go")
    parser.add_argument("--allow-production", action="store_true",
                        help="required for an environment of kind production (caps still apply)")
    dist = parser.add_argument_group("distributed runs on machines of your own")
    dist.add_argument("--master", action="store_true", help="run only the master; wait for --expect-workers")
    dist.add_argument("--expect-workers", type=int, default=1, help="workers the master waits for (default 1)")
    dist.add_argument("--worker", action="store_true", help="run only a worker that joins --master-host")
    dist.add_argument("--master-host", default="127.0.0.1", help="the master's address (with --worker)")
    dist.add_argument("--master-port", type=int, default=5557, help="the master's port (default 5557)")
    parser.set_defaults(func=run_load)


def run_load(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
    except RxError as exc:
        fail(str(exc))
        return 2
    return _execute(args, *plan)


def _option_values(args: argparse.Namespace) -> dict[str, Any]:
    """Every typed option checked (rxcore.validation) before the environment or the target is touched; `--rate`
    is replaced by its number."""
    args.rate = validation.option("--rate", validation.rate, args.rate) if args.rate is not None else None
    validation.option("--steps", validation.count, args.steps, 1, 1000)
    if args.users is not None:
        validation.option("--users", validation.count, args.users, 1, 1_000_000)
    return {
        "duration_s": validation.option("--duration", validation.duration, args.duration) if args.duration else None,
        "tags": validation.option("--tags", validation.tags, args.tags, _known_tags()) if args.tags else [],
        "request_timeout_s": validation.option("--request-timeout", validation.duration, args.request_timeout, 0.0,
                                               3600.0),
        "abort_after_s": validation.option("--abort-after", validation.parse_duration, args.abort_after),
    }


def _known_tags() -> set[str]:
    """The tags the load tasks carry (read from locustfiles/users.py's @tag decorators without importing Locust)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("locustfiles.users")
    tree = ast.parse(Path(spec.origin if spec and spec.origin else "").read_text(encoding="utf-8"))
    return {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "tag"
            for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}


def _plan(args: argparse.Namespace) -> tuple[Environment, Any, Any]:
    from locustfiles.config import LoadConfig, parse_user_models
    from locustfiles.launcher import Launch
    from locustfiles.profiles import PROFILES

    if args.master and args.worker:
        raise RxError("--master and --worker: choose one (a process is either the master or a worker)")
    values = _option_values(args)
    env = load_environment(args.env)
    if env.allowed_jobs and JOB not in env.allowed_jobs:
        raise ConfigError(str(env.file), "allowed_jobs", f"{JOB!r} is not allowed in this environment",
                          f"add {JOB} to allowed_jobs if load runs are meant to go there")
    if env.kind == "production" and not args.allow_production:
        raise RxError(f"{env.file}: kind is production: add --allow-production to run load there "
                      "(the file's caps still apply)")
    defaults = PROFILES[args.profile]
    duration = values.pop("duration_s") or defaults.duration_s
    mode = "arrival" if args.rate is not None else "closed"
    users = args.users if args.users is not None else (
        defaults.users if mode == "closed" else max(10, math.ceil((args.rate or 0) * 0.5)))
    _check_caps(env, users, args.rate, args.workers)
    validation.option("--users", validation.count, users, 1, 1_000_000)
    try:
        models = parse_user_models(env.raw.get("users"), str(env.file))
    except ValueError as exc:
        raise RxError(str(exc)) from None
    target = _target(env)
    processes = args.workers if args.workers else (args.expect_workers if args.master else 1)
    config = LoadConfig(base_url=target.base_url, profile=args.profile, mode=mode, users=users, rate=args.rate,
                        duration_s=duration, processes=max(1, processes), user_models=models, raw=args.raw,
                        step_count=args.steps, **values)
    if args.profile == "capacity":
        config.slo = _capacity_slo(args.spec)
    _check_pool(target.credentials_csv, config)
    role = "master" if args.master else "worker" if args.worker else "all"
    launch = Launch(config, target, workers=0 if role != "all" else args.workers, role=role,
                    master_host=args.master_host, master_port=args.master_port if role != "all" else None,
                    expect_workers=args.expect_workers)
    return env, config, launch


def _capacity_slo(spec_path: Path | None) -> Any:
    """What each capacity step must hold: the spec's overall p95 and availability objectives."""
    from locustfiles.config import SloTarget
    from slo.spec import SpecError, load_spec

    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        raise RxError(str(exc)) from None
    target = SloTarget(count_429_as_bad=spec.rate_limited == "bad")
    for objective in spec.objectives:
        overall = objective.requests is None and not objective.per_request
        if objective.kind == "availability" and overall:
            target.max_bad_ratio = 1.0 - objective.target
        elif objective.kind == "latency" and overall and objective.percentile == 95 and objective.threshold:
            target.p95_ms = objective.threshold * 1000.0
    return target


def _check_caps(env: Environment, users: int, rate: float | None, workers: int) -> None:
    caps = env.caps
    max_users, max_rate = caps.get("max_users"), caps.get("max_rate")
    if max_users is not None and users > int(max_users):
        raise ConfigError(str(env.file), "caps.max_users", f"--users {users} is above the cap {max_users}",
                          "lower --users, or raise the cap in the environment file if that is intended")
    if max_rate is not None and rate is not None and rate > float(max_rate):
        raise ConfigError(str(env.file), "caps.max_rate", f"--rate {rate:g} is above the cap {max_rate}",
                          "lower --rate, or raise the cap in the environment file if that is intended")
    if workers < 0:
        raise RxError("--workers must be 0 or more")


def _target(env: Environment) -> Any:
    from locustfiles.launcher import Target

    target = platform_target(env)
    return Target(target.base_url, target.anon_key, target.credentials_csv)


def _check_pool(csv_path: Path, config: Any) -> None:
    """Refuse a run that needs more concurrent logins of a role than the credentials file holds."""
    from locustfiles.credentials import read_credentials

    models = config.user_models
    needs_login = {"patient": "patient", "realtime": "patient", "doctor": "doctor", "pharmacist": "pharmacist"}
    if not any(models[m]["weight"] for m in needs_login):
        return
    try:
        credentials = read_credentials(csv_path)
    except (OSError, ValueError) as exc:
        raise RxError(f"credentials: {exc}") from None
    total_weight = sum(m["weight"] for m in models.values())
    for role in ("patient", "doctor", "pharmacist"):
        share = sum(models[m]["weight"] for m, r in needs_login.items() if r == role) / total_weight
        need = math.ceil(config.users * share)
        have = sum(1 for c in credentials if c.role == role)
        per_process_short = math.ceil(need / config.processes) > have // config.processes
        if share and (need > have or per_process_short):
            raise RxError(f"{csv_path}: {need} concurrent {role} logins needed for {config.users} users but the file "
                          f"has {have}; lower --users or the {role} weight, or add {role} accounts")


def _environment_record(env: Environment) -> dict[str, Any]:
    return {"name": env.name, "kind": env.kind, "file": str(env.file), "base_url": env.base_url,
            "caps": env.caps, "users": env.raw.get("users")}


def _execute(args: argparse.Namespace, env: Environment, config: Any, launch: Any) -> int:
    from locustfiles.launcher import EXIT_OK, run
    from slo.records import too_many_test_errors

    job = JOB if launch.role != "worker" else "load-worker"
    folder = RunFolder.create(args.runs_dir, job, env.name, environment=_environment_record(env),
                              parameters={**config.to_json(), "workers": args.workers, "role": launch.role},
                              project_root=PROJECT_ROOT)
    print(f"run folder {folder.path}", flush=True)
    display = _Display(config)
    try:
        if interactive():
            with Live(display.render(), console=console, refresh_per_second=4) as live:
                outcome = run(launch, folder, on_live=lambda data: live.update(display.render(data)))
        else:
            outcome = run(launch, folder, on_live=display.plain)
    except Exception as exc:
        folder.finish("failed", 2, f"the launcher failed: {exc!r}")
        raise
    exit_code, slo_verdict = outcome.exit_code, None
    if outcome.summary is not None and launch.role != "worker":
        slo_verdict, slo_code = _judge(folder.path, args.spec)
        if outcome.exit_code == EXIT_OK and slo_code is not None:
            exit_code = slo_code
        test_errors = too_many_test_errors((outcome.summary.get("overall") or {}).get("outcomes") or {})
        if test_errors and exit_code in (ExitCode.OK, ExitCode.FAIL):
            fail(test_errors)
            exit_code, slo_verdict = ExitCode.ERROR, "no-verdict"
    folder.finish(outcome.status, exit_code, outcome.reason, mode=config.mode,
                  load_summary="load.json" if outcome.summary else None, slo_verdict=slo_verdict)
    _print_result(folder, outcome, slo_verdict)
    return exit_code


def _judge(run_dir: Path, spec: Path | None) -> tuple[str | None, int | None]:
    """The SLO verdict of the run's record (slo.json); a broken spec is reported, not fatal to the run."""
    try:
        from slo.evaluate import EvaluationError, evaluate_run, write_slo_json
        from slo.spec import SpecError
    except ImportError:
        return None, None
    try:
        evaluation = evaluate_run(run_dir, spec)
    except (EvaluationError, SpecError) as exc:
        fail(f"SLO evaluation: {exc}")
        return "error", 2
    write_slo_json(evaluation, run_dir)
    # insufficient data (a short run cannot show a 99.9% objective either way) does not fail the run
    return evaluation.verdict, 1 if evaluation.verdict == "fail" else 0


def _print_result(folder: RunFolder, outcome: Any, slo_verdict: str | None) -> None:
    print(f"status    {outcome.status} ({outcome.reason})")
    summary = outcome.summary or {}
    overall = summary.get("overall")
    if overall:
        bad = sum(v for k, v in overall["outcomes"].items() if k != "ok")
        print(f"requests  {overall['requests']}  not ok {bad}  p50 {overall['p50_ms']} ms  p95 {overall['p95_ms']} ms"
              f"  p99 {overall['p99_ms']} ms  ({summary.get('mode')} mode)")
    capacity = summary.get("capacity")
    if capacity:
        print(f"capacity  highest sustainable {capacity['highest_sustainable_rps']} req/s "
              f"(broke at level {capacity['broke_at_level']}: {capacity['broke_because']})")
    if slo_verdict:
        print(f"slo       {slo_verdict} (see {folder.path / 'slo.json'})")
    print(f"run       {folder.path}")


class _Display:
    """The live view: a rich table on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._last_plain = 0.0

    def render(self, live: dict[str, Any] | None = None) -> Table:
        live = live or {}
        table = Table(title=f"rxsuite load: {self.config.profile} ({self.config.mode})", title_justify="left")
        for column in ("elapsed", "users", "req/s", "p95", "requests", "errors", "state"):
            table.add_column(column, justify="right")
        failures = live.get("failures", 0)
        table.add_row(f"{live.get('elapsed_s', 0):.0f} / {self.config.duration_s:.0f} s", str(live.get("users", 0)),
                      f"{live.get('rps', 0):.1f}", _ms(live.get("p95_ms")), str(live.get("requests", 0)),
                      f"[red]{failures}[/]" if failures else "0", str(live.get("state", "starting")))
        return table

    def plain(self, live: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last_plain < _PLAIN_EVERY_S:
            return
        self._last_plain = now
        print(f"elapsed {live.get('elapsed_s', 0):.0f}s\tusers {live.get('users', 0)}\treq/s {live.get('rps', 0):.1f}"
              f"\tp95 {_ms(live.get('p95_ms'))}\terrors {live.get('failures', 0)}\tstate {live.get('state')}",
              flush=True)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f} ms"
