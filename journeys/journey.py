"""One journey's browser work: a traced context per user, timed steps, page vitals, and artifacts on failure.

Tests get a ``Journey`` from the ``journey`` fixture, open a page per user (``open`` / ``sign_in``), and wrap
each user-visible action in ``step``. When the test ends the journey reads every visited document's vitals
(``vitals.js``), and on failure saves a screenshot of every open page, each context's Playwright trace and the
console errors; on success traces are discarded, so a passing run stays small.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Response, Route, expect

from journeys.platform import Account, Api, JourneyTarget
from journeys.redact import Redactor

VITALS_SCRIPT = Path(__file__).with_name("vitals.js")
VITALS_KEY = "__rxJourneyVitals"
VITALS_FLUSH = "__rxJourneyVitalsFlush"
FRAME_WAIT_LIMIT_MS = 250  # a hidden page draws no frames: the read waits this long at most
ENTRY_WAIT_LIMIT_MS = 1000  # then up to this long for an interaction's entry (presentation can lag under load)
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
# Header -> text its value must contain ("" = present). The platform contract: CSP, HSTS, nosniff, frame-ancestors,
# Referrer-Policy on every response.
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "strict-transport-security": "max-age=",
    "x-content-type-options": "nosniff",
    "referrer-policy": "",
}
_ID_IN_PATH = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def page_template(path: str) -> str:
    """``/prescriptions/<uuid>`` -> ``/prescriptions/{id}``: page loads are grouped per page, not per row."""
    return _ID_IN_PATH.sub("/{id}", path) or "/"


@dataclass
class _User:
    label: str
    context: BrowserContext
    pages: list[Page] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)


class Journey:
    def __init__(self, name: str, browser: Browser, target: JourneyTarget, artifacts_dir: Path,
                 break_paths: tuple[str, ...] = ()) -> None:
        self.name = name
        self.browser = browser
        self.target = target
        self.api = Api(target)
        self.artifacts_dir = artifacts_dir
        self.break_paths = break_paths
        self.steps: list[dict[str, Any]] = []
        self.page_loads: list[dict[str, Any]] = []
        self.artifacts: list[Path] = []
        self._users: dict[str, _User] = {}
        self._secrets = {target.anon_key}

    # ----- for the tests ------------------------------------------------------------------------------------
    def open(self, label: str) -> Page:
        """A fresh browser context (own cookies, own trace) for one user, and a page in it."""
        if label in self._users:
            raise ValueError(f"journey {self.name}: a user labelled {label!r} is already open")
        context = self.browser.new_context(base_url=self.target.base_url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        context.add_init_script(path=VITALS_SCRIPT)
        context.tracing.start(title=f"{self.name} ({label})", screenshots=False, snapshots=True)
        user = _User(label, context)
        self._users[label] = user
        for path in self.break_paths:
            context.route(_path_is(path), _broken_page)
        context.on("page", lambda page: self._watch(user, page))
        page = context.new_page()
        self._watch(user, page)
        return page

    def sign_in(self, label: str, account: Account, page: Page | None = None) -> Page:
        """Sign ``account`` in through the sign-in form (one timed step), on ``page`` or a new user's page."""
        page = page or self.open(label)
        self._secrets.add(account.password)
        with self.step(f"{label}: sign in"):
            page.goto("/sign-in")
            page.get_by_label("Email").fill(account.email)
            page.get_by_label("Password").fill(account.password)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a user-visible step; a failing step is recorded with ok false and the error re-raised."""
        started_at = time.time()
        started = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.steps.append({"journey": self.name, "step": name, "duration_s": round(time.monotonic() - started, 4),
                               "ok": ok, "started_at": round(started_at, 3)})

    def documents(self, label: str) -> list[dict[str, Any]]:
        """The main-document responses one user received so far (status, URL, headers)."""
        return list(self._users[label].documents)

    def missing_security_headers(self) -> list[str]:
        """Every page this journey received without the platform's security headers (checked after each journey)."""
        return missing_security_headers([d for user in self._users.values() for d in user.documents])

    # ----- for the fixture ----------------------------------------------------------------------------------
    def finish(self, failed: bool) -> None:
        """Collect vitals, save artifacts when the journey failed, and close every context."""
        for user in self._users.values():
            for page in user.pages:
                self._collect_vitals(user, page)
            if failed:
                self._save_failure(user)
            else:
                with contextlib.suppress(Error):
                    user.context.tracing.stop()
            with contextlib.suppress(Error):
                user.context.close()
        if failed:
            self._save_console_errors()
        self.api.close()

    def console_errors(self) -> list[str]:
        redactor = Redactor(self._secrets)
        return [redactor.text(f"{user.label}: {line}") for user in self._users.values() for line in user.console_errors]

    def _watch(self, user: _User, page: Page) -> None:
        if page in user.pages:
            return
        user.pages.append(page)
        page.on("console", lambda message: _console_error(user, message))
        page.on("pageerror", lambda error: user.console_errors.append(f"uncaught: {error}"))
        page.on("response", lambda response: _document(user, page, response))

    def _collect_vitals(self, user: _User, page: Page) -> None:
        for document in read_vitals(page):
            if not document.get("load"):
                continue
            self.page_loads.append({
                "journey": self.name,
                "user": user.label,
                "page": page_template(document.get("url", "/")),
                "url": document.get("url"),
                "load_s": _seconds(document["load"]),
                "vitals": {"lcp_s": _seconds(document.get("lcp")), "inp_s": _seconds(document.get("inp")),
                           "cls": round(float(document.get("cls") or 0.0), 4),
                           "ttfb_s": _seconds(document.get("ttfb")), "fcp_s": _seconds(document.get("fcp"))},
                "interactions": int(document.get("interactions") or 0),
                "started_at": round((document.get("origin") or 0) / 1000.0, 3),
            })

    def _save_failure(self, user: _User) -> None:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(user.pages):
            suffix = "" if index == 0 else f"-{index + 1}"
            shot = self.artifacts_dir / f"screenshot-{user.label}{suffix}.png"
            with contextlib.suppress(Error):
                page.screenshot(path=shot, full_page=True)
                self.artifacts.append(shot)
        trace = self.artifacts_dir / f"trace-{user.label}.zip"
        with contextlib.suppress(Error):
            user.context.tracing.stop(path=trace)
            Redactor(self._secrets).zip(trace)  # typed passwords, cookies, the page's access token
            self.artifacts.append(trace)

    def _save_console_errors(self) -> None:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        path = self.artifacts_dir / "console-errors.txt"
        lines = self.console_errors()
        path.write_text("\n".join(lines) + "\n" if lines else "(no console errors)\n", encoding="utf-8")
        self.artifacts.append(path)


def missing_security_headers(documents: list[dict[str, Any]]) -> list[str]:
    """One line per document response lacking a security header (or with a weak value)."""
    problems = []
    for document in documents:
        headers = document["headers"]
        absent = [name for name, must_contain in SECURITY_HEADERS.items()
                  if name not in headers or must_contain not in headers[name]]
        if absent:
            problems.append(f"{document['url']} (HTTP {document['status']}): missing or weak {', '.join(absent)}")
    return problems


def read_vitals(page: Page) -> list[dict[str, Any]]:
    """Every document's vitals this page's tab recorded (``vitals.js``), oldest first; [] when unreadable.

    The current document's observers are flushed first, and again one frame later (an animation frame, then a
    task): entries of the last interaction or paint are dispatched only after the next frame is presented, so a
    read without the wait could miss them. While an interaction still waits for its entry the read flushes again
    every 25 ms, up to ENTRY_WAIT_LIMIT_MS.
    """
    try:
        raw = page.evaluate(_READ_VITALS)
    except Error:
        return []  # closed, crashed, or on a page without storage: vitals are best effort
    return sorted((json.loads(raw) if raw else {}).values(), key=lambda d: d.get("origin") or 0)


_READ_VITALS = f"""async () => {{
  const flush = window.{VITALS_FLUSH};
  const sleep = ms => new Promise(done => setTimeout(done, ms));
  if (flush) {{
    flush();
    await Promise.race([new Promise(done => requestAnimationFrame(() => setTimeout(done, 0))),
                        sleep({FRAME_WAIT_LIMIT_MS})]);
    for (let waited = 0; flush() && waited < {ENTRY_WAIT_LIMIT_MS}; waited += 25) {{
      await sleep(25);
    }}
  }}
  return window.sessionStorage && sessionStorage.getItem({json.dumps(VITALS_KEY)});
}}"""


def _seconds(ms: Any) -> float | None:
    return None if ms is None else round(float(ms) / 1000.0, 4)


def _console_error(user: _User, message: ConsoleMessage) -> None:
    if message.type == "error":
        location = message.location or {}
        where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})" if location.get("url") else ""
        user.console_errors.append(f"{message.text}{where}")


def _document(user: _User, page: Page, response: Response) -> None:
    request = response.request
    if request.resource_type == "document" and request.frame == page.main_frame:
        user.documents.append({"url": response.url, "status": response.status, "headers": response.headers})


def _path_is(path: str) -> Callable[[str], bool]:
    """A route predicate: the URL's path, or its page template, is `path`."""
    return lambda url: path in (urlparse(url).path, page_template(urlparse(url).path))


def _broken_page(route: Route) -> None:
    """The deliberately broken page (``--break-page``): proves that a failure leaves diagnosable artifacts."""
    route.fulfill(status=500, content_type="text/html",
                  body="<!doctype html><title>Broken</title><h1>Deliberately broken page</h1>")
