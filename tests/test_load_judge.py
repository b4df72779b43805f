"""The response judge: the verdict it writes into Locust's request event, for every kind of answer.

Driven with stand-in responses (status and body) and a list of listeners standing in for Locust's hook; no
Locust import here (the one test of the users' Locust side runs in a child process).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from locustfiles.checks import fields, non_empty_str, rows
from locustfiles.judge import ResponseJudge, WrongAnswer

ROOT = Path(__file__).resolve().parent.parent


class _Response:
    def __init__(self, status: int, content: bytes | None = b"", broken: bool = False) -> None:
        self.status_code = status
        self._content = content
        self._broken = broken

    @property
    def content(self) -> bytes | None:
        if self._broken:
            raise ConnectionResetError(104, "Connection reset by peer")
        return self._content


@pytest.fixture
def fired() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def failures() -> list[Exception]:
    return []


@pytest.fixture
def listeners(fired: list[dict[str, Any]]) -> list[Callable[..., None]]:
    return [lambda **meta: fired.append(meta)]


@pytest.fixture
def judge(listeners: list[Callable[..., None]], failures: list[Exception]) -> ResponseJudge:
    return ResponseJudge(listeners, failures.append)


def _fire(judge: ResponseJudge, response: _Response, exception: Exception | None = None) -> None:
    """As FastHttpSession fires: Locust has set `exception` for an error status or a failed transfer."""
    judge.fire(request_type="GET", name="/x", response_time=1.0, response_length=0, response=response,
               exception=exception, context={}, start_time=1.0, url="http://127.0.0.1/x")


_ROWS = rows(required=("id",))


def test_a_right_answer_passes_on_without_exception_and_hands_back_the_body(judge: ResponseJudge,
                                                                           fired: list[dict[str, Any]]) -> None:
    judge.expecting = (_ROWS, (200,), None)
    _fire(judge, _Response(200, b'[{"id": "a"}]'))
    assert fired[0]["exception"] is None
    assert judge.body == [{"id": "a"}]
    assert set(fired[0]) == {"request_type", "name", "response_time", "response_length", "response", "exception",
                             "context", "start_time", "url"}


@pytest.mark.parametrize(("response", "message"), [
    (_Response(200, b'[{"name": "a"}]'), "a row lacks one of id"),
    (_Response(200, b"<html>"), "body is not JSON"),
    (_Response(200, b'{"id": "a"}'), "body is not a JSON array"),
    (_Response(201, b'[{"id": "a"}]'), "unexpected HTTP 201"),
])
def test_a_wrong_answer_fails_with_what_is_wrong(judge: ResponseJudge, fired: list[dict[str, Any]],
                                                 response: _Response, message: str) -> None:
    judge.expecting = (_ROWS, (200,), None)
    _fire(judge, response)
    assert isinstance(fired[0]["exception"], WrongAnswer)
    assert str(fired[0]["exception"]) == message
    assert judge.body is None


def test_an_accepted_error_status_is_a_right_answer_when_its_own_check_passes(
        judge: ResponseJudge, fired: list[dict[str, Any]]) -> None:
    declined = fields(code=non_empty_str)
    judge.expecting = (_ROWS, (200,), {402: declined})
    _fire(judge, _Response(402, b'{"code": "card_declined"}'), exception=RuntimeError("HTTP 402"))
    _fire(judge, _Response(402, b'{"message": "no code"}'), exception=RuntimeError("HTTP 402"))
    assert fired[0]["exception"] is None and judge.body is None  # the body of the second, wrong, answer
    assert str(fired[1]["exception"]) == "field code is missing or wrong"


def test_an_unexpected_error_status_is_named(judge: ResponseJudge, fired: list[dict[str, Any]]) -> None:
    judge.expecting = (_ROWS, (200,), {402: _ROWS})
    _fire(judge, _Response(503, b"down"), exception=RuntimeError("HTTP 503"))
    assert str(fired[0]["exception"]) == "unexpected HTTP 503"


def test_no_answer_or_a_broken_body_keeps_locusts_own_error(judge: ResponseJudge,
                                                            fired: list[dict[str, Any]]) -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    reset = ConnectionResetError(104, "Connection reset by peer")
    judge.expecting = (_ROWS, (200,), {402: _ROWS})
    _fire(judge, _Response(0, None), exception=refused)
    _fire(judge, _Response(200, broken=True), exception=reset)
    _fire(judge, _Response(402, broken=True), exception=reset)
    assert [meta["exception"] for meta in fired] == [refused, reset, reset]


def test_listeners_added_or_removed_after_the_judge_was_built_count_at_once(
        judge: ResponseJudge, listeners: list[Callable[..., None]], fired: list[dict[str, Any]]) -> None:
    late: list[dict[str, Any]] = []
    listeners.append(lambda **meta: late.append(meta))
    _fire(judge, _Response(200, b"[]"))
    listeners.pop()
    _fire(judge, _Response(200, b"[]"))
    assert (len(fired), len(late)) == (2, 1)


def test_a_failing_listener_is_reported_and_the_others_still_hear_the_event(
        judge: ResponseJudge, listeners: list[Callable[..., None]], fired: list[dict[str, Any]],
        failures: list[Exception]) -> None:
    broken = ValueError("listener bug")

    def failing(**_: Any) -> None:
        raise broken

    listeners.insert(0, failing)
    _fire(judge, _Response(200, b"[]"))
    assert failures == [broken]
    assert len(fired) == 1


def test_a_listener_may_remove_itself_while_the_event_is_heard(
        judge: ResponseJudge, listeners: list[Callable[..., None]], fired: list[dict[str, Any]]) -> None:
    def once(**_: Any) -> None:
        listeners.remove(once)

    listeners.insert(0, once)
    _fire(judge, _Response(200, b"[]"))
    assert listeners and once not in listeners
    assert len(fired) == 1


_LISTENER_FAILED = """
import sys
from locust import log
from locust.exception import StopUser
from locustfiles.users import _listener_failed
try:
    _listener_failed(StopUser())
except StopUser:
    pass
else:
    sys.exit("StopUser was swallowed")
try:
    raise ValueError("listener bug")
except ValueError as exc:
    _listener_failed(exc)
print(log.unhandled_greenlet_exception)
"""


def test_the_users_report_a_failing_listener_as_locusts_hook_does() -> None:
    # in a child: importing Locust monkey-patches the process
    done = subprocess.run([sys.executable, "-c", _LISTENER_FAILED], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # Locust exits non-zero at the end of such a run
    assert "Uncaught exception in event handler" in done.stderr and "ValueError: listener bug" in done.stderr
