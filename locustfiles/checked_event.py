"""Checking each response, status and content, before Locust's listeners hear of it.

Locust's usual way to fail a 200 with the wrong body is `catch_response=True`: a ResponseContextManager per
request, built (copying the response), entered, marked and exited before the request event fires. On the
benchmark's probe that machinery was 40 % of what rxsuite adds to a request (bench/recorder_overhead.py).

FastHttpSession reports every request through its `request_event` (a documented constructor argument, kept as a
public attribute; FastHttpUser passes `environment.events.request`) by calling its `fire(**meta)`. A
`CheckedRequestEvent` stands in for that event on one user's session: when the session fires, it checks the
response against what the user's call expects, sets the event's `exception` to the verdict and fires the real
request event through its public `fire`, which calls every listener (Locust's statistics, the recorder, any
other) and reports a failing one as Locust always does. One event per request, already judged, as listeners
would hear it with catch_response. This module imports no Locust, so the tests can drive it without Locust's
monkey-patching.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from locustfiles.checks import Check

__all__ = ["CheckedRequestEvent", "RequestEvent", "WrongAnswer"]


class WrongAnswer(Exception):
    """The platform answered, but not what the contract promises (a status or a body)."""


class RequestEvent(Protocol):
    """What FastHttpSession needs of its `request_event`: Locust's EventHook, or a CheckedRequestEvent."""

    def fire(self, **meta: Any) -> None: ...


class CheckedRequestEvent:
    """The request event of one user's HTTP session.

    A user's requests are sequential, so one expectation at a time: the user sets `expecting` to (check,
    expected statuses, accepted statuses) before a request and reads `body` after it.
    """

    __slots__ = ("_event", "body", "expecting")

    def __init__(self, event: RequestEvent) -> None:
        self._event = event  # the environment's request event: every listener hears the judged request
        # `check` must pass on a status of `expected`; `accepted` maps other correct answers (a declined card, a
        # lost race) to their own check
        self.expecting: tuple[Check | None, tuple[int, ...], dict[int, Check] | None] = (None, (200,), None)
        self.body: Any = None  # the parsed body of the last request, when it was judged right

    def fire(self, **meta: Any) -> None:
        """Called by FastHttpSession once per request, with the fields of Locust's request event."""
        response = meta["response"]
        check, expected, accepted = self.expecting
        self.body = None
        if meta["exception"] is None and response.status_code in expected:
            meta["exception"] = self._verdict(response.content, check)
        else:
            meta["exception"] = self._other_answer(response, meta["exception"], check, expected, accepted)
        self._event.fire(**meta)

    def _verdict(self, content: bytes | None, check: Check | None) -> Exception | None:
        try:
            # bytes straight to orjson: FastResponse.json() would guess the charset of every body first
            body = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            return WrongAnswer("body is not JSON")
        problem = check(body) if check is not None else None
        if problem:
            return WrongAnswer(problem)
        self.body = body
        return None

    def _other_answer(self, response: Any, exception: Exception | None, check: Check | None,
                      expected: tuple[int, ...], accepted: dict[int, Check] | None) -> Exception | None:
        status = response.status_code
        if not status or (exception is not None and status < 400):
            return exception  # no answer, or its body broke off: Locust's own error stands
        if status not in expected:
            if not accepted or status not in accepted:
                return WrongAnswer(f"unexpected HTTP {status}")
            check = accepted[status]
        try:
            content = response.content
        except Exception:  # the body of an error status broke off: Locust's error stands
            return exception
        return self._verdict(content, check)
