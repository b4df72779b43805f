"""PostgREST's HTTP conventions around a query: ``Prefer``, ``Accept`` (singular objects, stripped nulls),
``Accept-Profile``/``Content-Profile``, the ``Range`` header and ``Content-Range`` with counts.

They follow PostgREST 12 as supabase-js (postgrest-js) and supabase-py (postgrest-py) use it, so code written
against a real Supabase project gets the same statuses, headers and error bodies from the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import Response

from sandbox.app.errors import ApiError, bad_request

__all__ = [
    "OBJECT_MEDIA",
    "Preferences",
    "Shape",
    "check_profile",
    "content_range",
    "negotiate",
    "preferences",
    "range_status",
    "requested_range",
    "respond",
    "singular_error",
]

OBJECT_MEDIA = "application/vnd.pgrst.object+json"
_ARRAY_MEDIA = "application/vnd.pgrst.array+json"
SCHEMA = "public"
_COUNTS = ("exact", "planned", "estimated")
_RESOLUTIONS = ("merge-duplicates", "ignore-duplicates")
_RANGE = re.compile(r"^\s*(\d+)-(\d*)\s*$")


@dataclass(frozen=True)
class Preferences:
    """The ``Prefer`` header's parts this API honours; unknown preferences are ignored, as PostgREST does."""

    representation: bool = False
    count: str | None = None
    resolution: str | None = None

    def applied(self) -> str:
        parts = []
        if self.resolution:
            parts.append(f"resolution={self.resolution}")
        if self.representation:
            parts.append("return=representation")
        if self.count:
            parts.append(f"count={self.count}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Shape:
    """What the ``Accept`` header asks for: one object instead of an array, and/or null-valued keys left out."""

    single: bool = False
    strip_nulls: bool = False


def preferences(headers: Mapping[str, str]) -> Preferences:
    """Parse ``Prefer`` (clients append several: ``count=exact, return=representation``)."""
    representation, count, resolution = False, None, None
    for part in headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "return":
            representation = value == "representation"
        elif name == "count" and value in _COUNTS:
            count = value
        elif name == "resolution" and value in _RESOLUTIONS:
            resolution = value
    return Preferences(representation, count, resolution)


def negotiate(headers: Mapping[str, str]) -> Shape:
    """The first media type of ``Accept`` this API can produce; none of them is a 406 (PostgREST's PGRST107)."""
    accept = headers.get("accept", "").strip()
    if not accept:
        return Shape()
    for item in accept.split(","):
        media, *params = (piece.strip() for piece in item.split(";"))
        strip = "nulls=stripped" in params
        if media in (OBJECT_MEDIA, "application/vnd.pgrst.object"):
            return Shape(single=True, strip_nulls=strip)
        if media in (_ARRAY_MEDIA, "application/vnd.pgrst.array"):
            return Shape(strip_nulls=strip)
        if media in ("application/json", "application/*", "*/*"):
            return Shape()
    raise ApiError(406, "PGRST107", f"None of these media types are available: {accept}")


def check_profile(headers: Mapping[str, str], method: str) -> None:
    """Only the ``public`` schema is exposed; naming another one is PostgREST's PGRST106."""
    name = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
    profile = headers.get(name)
    if profile is not None and profile != SCHEMA:
        raise ApiError(
            406, "PGRST106", f"Invalid schema: {profile}", hint=f"Only the following schemas are exposed: {SCHEMA}"
        )


def requested_range(headers: Mapping[str, str], offset: int, limit: int) -> tuple[int, int]:
    """The rows asked for by ``offset``/``limit`` narrowed by a ``Range: first-last`` header (items)."""
    raw = headers.get("range")
    if raw is None:
        return offset, limit
    unit = headers.get("range-unit", "items")
    match = _RANGE.match(raw.removeprefix(f"{unit}="))
    if match is None:
        raise bad_request(f"invalid Range header {raw!r}", code="PGRST103", hint="write it as first-last, e.g. 0-9")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else None
    if last is not None and last < first:
        raise ApiError(416, "PGRST103", "Requested range not satisfiable", details=f"the range {raw} is empty")
    start = max(offset, first)
    end = offset + limit if last is None else min(offset + limit, last + 1)
    return start, max(0, end - start)


def content_range(lower: int, returned: int, total: int | None) -> str:
    """PostgREST's ``Content-Range``: ``0-9/123``; ``*/0`` when nothing came back; ``/*`` without a count."""
    upper = lower + returned - 1
    span = f"{lower}-{upper}" if total != 0 and lower <= upper else "*"
    return f"{span}/{'*' if total is None else total}"


def range_status(lower: int, returned: int, total: int | None) -> int:
    """200, or 206 when a known total has more rows than came back (an offset past the end is a 416)."""
    if total is None:
        return 200
    if lower > total:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            details=f"An offset of {lower} was requested, but there are only {total} rows.",
        )
    return 206 if returned < total else 200


def singular_error(rows: int) -> ApiError:
    """``.single()`` on anything but exactly one row: 406 with PostgREST's exact body."""
    return ApiError(
        406,
        "PGRST116",
        "JSON object requested, multiple (or no) rows returned",
        details=f"The result contains {rows} rows",
    )


def respond(
    body: str | None,
    *,
    rows: int,
    shape: Shape,
    status: int,
    headers: dict[str, str],
    prefs: Preferences,
) -> Response:
    """The response for a JSON array ``body`` of ``rows`` rows, unwrapped to its one object when ``shape.single``."""
    if shape.single:
        if rows != 1:
            raise singular_error(rows)
        if body is not None:
            body = body[body.index("{") : body.rindex("}") + 1]
    applied = prefs.applied()
    if applied:
        headers = {**headers, "preference-applied": applied}
    if body is None:
        return Response(status_code=status, headers=headers)
    media = OBJECT_MEDIA if shape.single else "application/json"
    return Response(body, status_code=status, headers=headers, media_type=f"{media}; charset=utf-8")
