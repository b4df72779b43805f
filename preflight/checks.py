"""The pre-flight checks, each through the platform's public API only (what a user's browser or the load users
send), so they answer the same on the sandbox and on a real Supabase project.

A check passes, fails (the run would be wrong or refused: exit 1), warns (could not be proved either way) or is
skipped (an earlier check it needs failed). Secrets (keys, passwords, tokens) never appear in a detail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import httpx

from preflight.schema import USED_COLUMNS
from rxcore.credentials import Credential
from rxcore.supabase_api import SignInError, account_role, api_headers, sign_in

__all__ = ["CHECKS", "QUICK_CHECKS", "CheckOutcome", "CheckedTarget", "Preflight"]

CHECKS = ("reachability", "tls", "clock_skew", "anon_key", "sign_in", "tables", "rls", "rate_limit")
QUICK_CHECKS = ("reachability", "tls", "anon_key", "sign_in")
_READ_PATH = "/rest/v1/medications?select=id&limit=1"
_SIGN_IN_THREADS = 4
_RLS_CANDIDATES = 5
_RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "ratelimit-limit", "ratelimit-remaining",
                 "ratelimit-policy")


@dataclass(frozen=True)
class CheckedTarget:
    """What the checks need of an environment (keys in memory only)."""

    base_url: str
    anon_key: str
    credentials: tuple[Credential, ...]
    kind: str
    max_clock_skew_s: float = 5.0
    rate_probe_requests: int = 20
    planned_rate: float | None = None
    probe_path: str | None = None  # users.probe.path of the environment file, checked like the tables


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    status: str  # pass | fail | warn | skip
    detail: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass
class _State:
    reached: httpx.Response | None = None
    sent_at: float = 0.0
    key_ok: bool = False
    sessions: list[tuple[Credential, dict[str, Any]]] = field(default_factory=list)


class Preflight:
    """Runs the named checks in order against one target over one HTTP client."""

    def __init__(self, target: CheckedTarget, client: httpx.Client) -> None:
        self.target = target
        self.client = client
        self.state = _State()
        self._checks: dict[str, Callable[[bool], tuple[str, str]]] = {
            "reachability": self._reachability, "tls": self._tls, "clock_skew": self._clock_skew,
            "anon_key": self._anon_key, "sign_in": self._sign_in, "tables": self._tables, "rls": self._rls,
            "rate_limit": self._rate_limit}

    def run(self, names: tuple[str, ...] = CHECKS, quick: bool = False) -> list[CheckOutcome]:
        outcomes = []
        for name in names:
            started = time.monotonic()
            status, detail = self._checks[name](quick)
            outcomes.append(CheckOutcome(name, status, detail, time.monotonic() - started))
        return outcomes

    # ----- the network and its security ------------------------------------------------------------------
    def _reachability(self, _quick: bool) -> tuple[str, str]:
        self.state.sent_at = time.time()
        try:
            response = self.client.get("/", headers={"apikey": self.target.anon_key})
        except httpx.HTTPError as exc:
            return "fail", f"{self.target.base_url} cannot be reached: {_one_line(exc)}"
        self.state.reached = response
        if response.status_code >= 500:
            return "fail", f"{self.target.base_url}/ answers HTTP {response.status_code}"
        elapsed = response.elapsed.total_seconds() * 1000
        return "pass", f"HTTP {response.status_code} in {elapsed:.0f} ms"

    def _tls(self, _quick: bool) -> tuple[str, str]:
        url = urlsplit(self.target.base_url)
        if url.scheme == "https":
            if self.state.reached is None:
                return "fail", "no TLS connection could be made (see reachability)"
            return "pass", "certificate verified"
        if _loopback(url.hostname or ""):
            return "pass", "plain HTTP on this machine (loopback): no TLS needed"
        status = "fail" if self.target.kind == "production" else "warn"
        return status, f"plain HTTP to {url.hostname}: keys and passwords would cross the network unencrypted"

    def _clock_skew(self, _quick: bool) -> tuple[str, str]:
        response = self.state.reached
        date = response.headers.get("date") if response is not None else None
        if response is None:
            return "skip", "not reached"
        if not date:
            return "warn", "the server sends no Date header: clock skew not measured"
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return "warn", f"the Date header {date!r} does not parse"
        local = self.state.sent_at + response.elapsed.total_seconds() / 2
        skew = local - (server + 0.5)  # the header is truncated to the second: its middle is the best estimate
        limit = self.target.max_clock_skew_s + 1.0
        detail = f"this clock is {skew:+.1f} s (\u00b11 s, the Date header's resolution) from the server's " \
                 f"(limit {self.target.max_clock_skew_s:g} s)"
        return ("pass" if abs(skew) <= limit else "fail"), detail

    # ----- keys and accounts ------------------------------------------------------------------------------
    def _anon_key(self, _quick: bool) -> tuple[str, str]:
        if self.state.reached is None:
            return "skip", "not reached"
        try:
            response = self.client.get(_READ_PATH, headers=api_headers(self.target.anon_key))
        except httpx.HTTPError as exc:
            return "fail", f"GET {_READ_PATH}: {_one_line(exc)}"
        if response.status_code in (401, 403):
            return "fail", f"the anon key is refused: HTTP {response.status_code} {_error_text(response)} " \
                           "(export the project's anon key in the variable anon_key_env names)"
        self.state.key_ok = True
        return "pass", f"accepted (GET {_READ_PATH}: HTTP {response.status_code})"

    def _sign_in(self, quick: bool) -> tuple[str, str]:
        if not self.state.key_ok:
            return "skip", "the anon key is not accepted"
        rows = self.target.credentials[:1] if quick else self.target.credentials
        if not rows:
            if quick:  # the job checks its own pool (a probe-only load run needs no accounts)
                return "skip", "the credentials file has no accounts"
            return "fail", "the credentials file has no accounts (rxsuite accounts create makes them)"
        with ThreadPoolExecutor(_SIGN_IN_THREADS) as pool:
            results = list(pool.map(self._sign_in_one, rows))
        problems = [problem for problem in results if isinstance(problem, str)]
        self.state.sessions = [(row, s) for row, s in zip(rows, results, strict=True) if isinstance(s, dict)]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            return "fail", f"{len(problems)} of {len(rows)} accounts: " + "; ".join(problems[:3]) + more
        roles = sorted({row.role for row in rows})
        return "pass", f"{len(rows)} account(s) signed in with the role each claims ({', '.join(roles)})"

    def _sign_in_one(self, row: Credential) -> dict[str, Any] | str:
        try:
            session = sign_in(self.client, self.target.anon_key, row.email, row.password)
        except SignInError as exc:
            return f"{row.email} cannot sign in ({exc})"
        except httpx.HTTPError as exc:
            return f"{row.email}: {_one_line(exc)}"
        role = account_role(session)
        if role != row.role:
            return f"{row.email} claims {row.role} but signs in as {role or 'no role (app_metadata.rx_role unset)'}"
        user_id = str((session.get("user") or {}).get("id", ""))
        if row.user_id and user_id != row.user_id:
            return f"{row.email}: user_id {row.user_id} in the file, {user_id} on the platform"
        return session

    # ----- the project's schema and its row rules -------------------------------------------------------------
    def _tables(self, _quick: bool) -> tuple[str, str]:
        if not self.state.sessions:
            return "skip", "no account signed in"
        token = self.state.sessions[0][1]["access_token"]
        probes = [(f"{table}", f"/rest/v1/{table}?select={','.join(columns)}&limit=1")
                  for table, columns in USED_COLUMNS.items()]
        if self.target.probe_path:
            probes.append(("users.probe.path", self.target.probe_path))
        problems = []
        for what, path in probes:
            response = self.client.get(path, headers=api_headers(self.target.anon_key, token))
            if response.status_code != 200:
                problems.append(f"{what}: GET {path.split('?')[0]}: HTTP {response.status_code} "
                                f"{_error_text(response)}")
        if problems:
            return "fail", "; ".join(problems)
        return "pass", f"{', '.join(f'{t} ({len(c)} columns)' for t, c in USED_COLUMNS.items())}" + \
            (" and users.probe.path" if self.target.probe_path else "") + " answer select= probes"

    def _rls(self, _quick: bool) -> tuple[str, str]:
        patients = [(row, s) for row, s in self.state.sessions if row.role == "patient"]
        if len(patients) < 2:
            return "warn", "fewer than two patient accounts signed in: a cross-patient read cannot be tried"
        (reader, reader_session), others = patients[0], patients[1:1 + _RLS_CANDIDATES]
        reader_headers = api_headers(self.target.anon_key, reader_session["access_token"])
        for owner, owner_session in others:
            owner_id = owner_session["user"]["id"]
            path = f"/rest/v1/prescriptions?patient_id=eq.{owner_id}&select=id,patient_id&limit=5"
            own = self.client.get(path, headers=api_headers(self.target.anon_key, owner_session["access_token"]))
            if own.status_code != 200 or not _rows(own):
                continue
            theirs = self.client.get(path, headers=reader_headers)
            if theirs.status_code not in (200, 403, 404):
                return "warn", f"a cross-patient read answers HTTP {theirs.status_code} {_error_text(theirs)}"
            if _rows(theirs):
                return "fail", f"row-level security is off: patient {reader.email} read {len(_rows(theirs))} " \
                               f"prescription(s) of patient {owner.email} (enable RLS on prescriptions)"
            return "pass", f"patient {reader.email} reading patient {owner.email}'s prescriptions gets " \
                           f"{'no rows' if theirs.status_code == 200 else f'HTTP {theirs.status_code}'}"
        return "warn", f"none of {len(others)} other patients has a prescription: a cross-patient read could not " \
                       "be tried"

    def _rate_limit(self, _quick: bool) -> tuple[str, str]:
        count = self.target.rate_probe_requests
        if count == 0:
            return "skip", "checks.rate_probe_requests is 0"
        if not self.state.sessions:
            return "skip", "no account signed in"
        headers = api_headers(self.target.anon_key, self.state.sessions[0][1]["access_token"])
        started = time.monotonic()
        statuses, limits = [], {}
        for _ in range(count):
            response = self.client.get(_READ_PATH, headers=headers)
            statuses.append(response.status_code)
            limits.update({k: v for k, v in response.headers.items() if k.lower() in _RATE_HEADERS})
        rate = count / max(time.monotonic() - started, 1e-6)
        planned = f"planned {self.target.planned_rate:g}/s" if self.target.planned_rate else "no planned rate"
        seen = f"; headers {', '.join(f'{k}: {v}' for k, v in sorted(limits.items()))}" if limits else \
            "; no rate-limit headers"
        if 429 in statuses:
            first = statuses.index(429) + 1
            return "fail", f"HTTP 429 after {first} of {count} back-to-back reads at {rate:.0f}/s ({planned}){seen}"
        return "pass", f"no 429 in {count} back-to-back reads at {rate:.0f}/s by one user ({planned}){seen}"


def _rows(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return []
    return body if isinstance(body, list) else []


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("code", "message", "msg", "error_description") if body.get(k)]
        return "(" + ": ".join(parts) + ")" if parts else ""
    return ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
