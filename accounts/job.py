"""The accounts job's lifecycle: `plan` refuses before any user is touched (environment, synthetic domain,
service key, the CSV that would be overwritten or the rows that would be deleted); `execute` creates or deletes.

Create writes the credentials CSV (email,password,role,user_id; mode 600) even when it is stopped or fails half
way, so every user it made can be deleted; delete removes exactly the users that CSV lists, and the CSV with them.
A user the platform will not hard-delete because rows still reference it (GoTrue: 500 "Database error deleting
user"; the kit's foreign keys keep medical records) is soft-deleted instead: it can never sign in again and its
rows stay, since nothing may delete data nobody asked to delete.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx

from accounts.admin import AdminError, create_user, delete_user, get_user
from rxcore import envvars, validation
from rxcore.credentials import ROLES, Credential, CredentialsError, read_credentials, write_credentials
from rxcore.environment import PROJECT_ROOT, Environment, PlatformKeys, load_environment, platform_keys
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Progress, Result, StopToken, refuse_production

__all__ = ["AccountsPlan", "AccountsRequest", "default_csv", "execute", "plan"]

_ACTIONS = ("create", "delete")
_CREATED = re.compile(r"^rx-(patient|doctor|pharmacist)-[0-9a-f]{6}-[0-9]{4,}@")  # the addresses _create makes
_MAX_COUNT = 10_000
_TIMEOUT_S = 15.0
_DELETED, _SOFT_DELETED, _GONE = "deleted", "soft_deleted", "already_gone"


@dataclass(frozen=True)
class AccountsRequest:
    action: str
    env: str = "sandbox"
    count: int = 0
    roles: str = ",".join(ROLES)
    csv: Path | None = None
    force: bool = False
    allow_production: bool = False
    soft: bool = False  # delete: soft-delete every user, not only those the platform refuses to hard-delete


@dataclass(frozen=True)
class AccountsPlan:
    request: AccountsRequest
    env: Environment
    keys: PlatformKeys
    csv: Path
    domain: str
    roles: tuple[str, ...]
    to_delete: tuple[Credential, ...] = ()


def default_csv(env: Environment) -> Path:
    """The file named by the environment's `credentials_csv_env` variable when set, else one under .rxsuite/."""
    named = env.raw.get("credentials_csv_env")
    value = envvars.getenv(named) if named else None
    return Path(value) if value else PROJECT_ROOT / ".rxsuite" / "accounts" / f"{env.name}.csv"


def plan(request: AccountsRequest) -> AccountsPlan:
    if request.action not in _ACTIONS:
        raise RxError(f"accounts {request.action!r}: use create or delete")
    env = load_environment(request.env)
    refuse_production(env, f"accounts {request.action}", request.allow_production, "--allow-production")
    domain = env.raw.get("synthetic_domain")
    if not domain:
        raise ConfigError(str(env.file), "synthetic_domain", "no synthetic e-mail domain is declared",
                          "add synthetic_domain: <a domain only synthetic accounts use>, e.g. synthetic.rx.test")
    roles = tuple(r.strip() for r in request.roles.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise RxError(f"--roles {request.roles!r}: use a comma-separated list of {', '.join(ROLES)}")
    csv = request.csv or default_csv(env)
    if request.action == "create":
        validation.option("--count", validation.count, request.count, 1, _MAX_COUNT, "number of accounts")
        if csv.exists() and not request.force:
            raise RxError(f"{csv}: already exists; delete its accounts first (rxsuite accounts delete), "
                          "or pass --force to replace the file (its accounts stay on the platform)")
        return AccountsPlan(request, env, platform_keys(env, need_service_key=True), csv, domain, roles)
    rows = _rows_to_delete(csv, domain)
    return AccountsPlan(request, env, platform_keys(env, need_service_key=True), csv, domain, roles, rows)


def _rows_to_delete(csv: Path, domain: str) -> tuple[Credential, ...]:
    """Every row of the CSV, each with a user id and an e-mail under the synthetic domain, or nothing is deleted."""
    if not csv.is_file():
        raise RxError(f"{csv}: no such credentials file; name the CSV `accounts create` wrote with --csv")
    try:
        rows = read_credentials(csv)
    except CredentialsError as exc:
        raise RxError(str(exc)) from None
    for line, row in enumerate(rows, start=2):
        if not row.user_id:
            raise RxError(f"{csv}:{line}: no user_id; delete removes only users whose id the CSV records "
                          "(the CSV `accounts create` wrote)")
        if _domain_of(row.email) != domain:
            raise RxError(f"{csv}:{line}: {row.email} is not under the synthetic domain {domain}; "
                          "delete refuses every account it did not create")
        if not _CREATED.match(row.email):
            raise RxError(f"{csv}:{line}: {row.email} was not made by `rxsuite accounts create` (its addresses are "
                          "rx-<role>-<batch>-<n>@...); delete refuses every account it did not create")
    return tuple(rows)


def _domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def execute(accounts_plan: AccountsPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    """One admin call per account, in order; the outcome is shown by the caller (`rxsuite accounts`)."""
    stop = stop or StopToken()
    with httpx.Client(base_url=accounts_plan.keys.base_url, timeout=_TIMEOUT_S) as client:
        if accounts_plan.request.action == "create":
            return _create(accounts_plan, client, stop)
        return _delete(accounts_plan, client, stop)


def _create(accounts_plan: AccountsPlan, client: httpx.Client, stop: StopToken) -> Result:
    request, key = accounts_plan.request, accounts_plan.keys.service_key or ""
    batch = secrets.token_hex(3)
    created: list[Credential] = []
    error = ""
    try:
        for index in range(request.count):
            if stop.is_set():
                break
            role = accounts_plan.roles[index % len(accounts_plan.roles)]
            email = f"rx-{role}-{batch}-{index + 1:04d}@{accounts_plan.domain}"
            password = secrets.token_urlsafe(18)
            try:
                user_id = create_user(client, key, email, password, role)
            except (AdminError, httpx.HTTPError) as exc:
                error = f"creating {email}: {exc}"
                break
            created.append(Credential(email, password, role, user_id))
    finally:
        if created:
            write_credentials(accounts_plan.csv, created, overwrite=request.force)
    details = {"created": len(created), "requested": request.count, "csv": str(accounts_plan.csv),
               "roles": {r: sum(c.role == r for c in created) for r in accounts_plan.roles}}
    if stop.is_set():
        return Result(stop.exit_code, stop.status, None, None, f"{stop.describe()} after {len(created)} accounts",
                      details)
    if error:
        return Result(ExitCode.ERROR, "failed", None, None, error, details)
    return Result(ExitCode.OK, "completed", None, None, f"{len(created)} accounts created", details)


def _delete(accounts_plan: AccountsPlan, client: httpx.Client, stop: StopToken) -> Result:
    key, always_soft = accounts_plan.keys.service_key or "", accounts_plan.request.soft
    counts = {_DELETED: 0, _SOFT_DELETED: 0, _GONE: 0}
    errors: list[str] = []
    for row in accounts_plan.to_delete:
        if stop.is_set():
            break
        try:
            counts[_delete_user(client, key, row.user_id, always_soft)] += 1
        except (AdminError, httpx.HTTPError) as exc:
            errors.append(f"{row.email}: {exc}")
    deleted, soft, absent = counts[_DELETED] + counts[_SOFT_DELETED], counts[_SOFT_DELETED], counts[_GONE]
    done = deleted + absent == len(accounts_plan.to_delete)
    if done:
        accounts_plan.csv.unlink()
    details = {"deleted": deleted, "soft_deleted": soft, "already_gone": absent, "failed": len(errors),
               "csv": str(accounts_plan.csv), "csv_removed": done, "errors": errors[:20]}
    if stop.is_set():
        return Result(stop.exit_code, stop.status, None, None, f"{stop.describe()} after {deleted} deletions", details)
    if errors:
        return Result(ExitCode.FAIL, "failed", None, None, f"{len(errors)} accounts not deleted: {errors[0]}", details)
    why = "as --soft asks" if always_soft else "platform rows reference them"
    kept = f" ({soft} soft-deleted: {why})" if soft else ""
    return Result(ExitCode.OK, "completed", None, None, f"{deleted} accounts deleted{kept}, {absent} already gone",
                  details)


def _delete_user(client: httpx.Client, key: str, user_id: str, always_soft: bool) -> str:
    """Hard delete; when the platform refuses it with a 500 (GoTrue's "Database error deleting user": rows still
    reference the user), a soft delete. A 500 of another cause most likely fails the soft delete too, reported
    with both answers; at worst the user is soft- rather than hard-deleted, which deletes nothing more. A user
    that does not exist, or was soft-deleted by an earlier run (GoTrue answers its soft delete 200 again, so the
    admin API's `deleted_at` tells), is already gone."""
    refused: AdminError | None = None
    if not always_soft:
        try:
            return _DELETED if delete_user(client, key, user_id) else _GONE
        except AdminError as exc:
            if exc.status != 500:
                raise
            refused = exc
    user = get_user(client, key, user_id)
    if user is None or user.get("deleted_at"):
        return _GONE
    try:
        return _SOFT_DELETED if delete_user(client, key, user_id, soft=True) else _GONE
    except AdminError as exc:
        if refused is None:
            raise
        raise AdminError(exc.status, f"{exc.message} (soft delete, after the hard delete's {refused})") from None
