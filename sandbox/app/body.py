"""Untrusted request bodies and frames: bounded reading, bounded JSON nesting, strict UTF-8 text.

Python's JSON parser recurses once per nesting level, so a body of a few hundred kilobytes of ``[`` overflows the
stack; JSON's ``\\ud800`` escape yields a lone surrogate that no UTF-8 encoder (PostgreSQL's included) accepts;
PostgreSQL text refuses NUL; an integer of more than 4300 digits does not convert, ``1e999`` overflows and ``NaN``
is not JSON. All are the client's mistake: a 400 here, never a 500 further in.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from sandbox.app.errors import ApiError, bad_request

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "JsonRefused", "check_json", "parse_json", "read_body"]

MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
_LONE_SURROGATE = "text is not valid Unicode: it holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"


class JsonRefused(ValueError):
    """A JSON document the app will not process; the message says why, for the client."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read in chunks and refused with a 413 as soon as it exceeds ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit() or len(declared) > 12):
        raise bad_request("the Content-Length header is not a byte count", code="PGRST100")
    if declared is not None and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "PGRST413", f"request body too large (limit {limit} bytes)")


def parse_json(raw: bytes | str) -> Any:
    """The document in ``raw``; JsonRefused if it is not UTF-8 JSON, nests too deeply or holds unusable text."""
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # malformed, not UTF-8, NaN/Infinity, or an integer of more than 4300 digits
        raise JsonRefused(f"malformed JSON: {exc}") from None
    check_json(document)
    return document


def check_json(document: Any) -> None:
    """Raise JsonRefused on nesting deeper than MAX_JSON_DEPTH, a string (key or value) that is not storable text or
    a number that overflowed to infinity.

    Iterative, so checking cannot itself overflow the stack.
    """
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise JsonRefused("a number is too large to represent (it overflows to infinity)")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JsonRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is not None:
                    _check_text(key)
                pending.append((item, depth + 1))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise JsonRefused("text must not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonRefused(_LONE_SURROGATE) from None
