"""Short, readable labels for request names: method + route template, so a table column stays narrow and a name
never wraps a character at a time. The full name stays in report.json and on hover in the HTML.

`GET /rest/v1/medications?select=id,name,price_cents&name=ilike.[term]&limit=[n]` becomes
`GET /rest/v1/medications`; names that would share a label keep the query keys that filter rows
(`GET /rest/v1/prescriptions (id)`, `GET /rest/v1/prescriptions (status)`), then all their query keys
(`... (status, select, limit)`, `... (status, order, limit)`), then a number if still alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

MAX_LABEL = 60
_SHAPING_KEYS = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})


def request_labels(names: Iterable[str]) -> dict[str, str]:
    """A label for each distinct name; distinct names get distinct labels."""
    unique = list(dict.fromkeys(names))
    labels = {name: _clip(_route(name)) for name in unique}
    for keys in (_filter_keys, _all_keys):  # names still alike show more of their query
        alike = [name for name in unique if _shared(labels, name)]
        labels |= {name: _clip(_with_keys(name, keys(name))) for name in alike}
    numbered = {name: label for name, label in labels.items() if _shared(labels, name)}
    for n, name in enumerate(numbered):
        labels[name] = f"{_clip(numbered[name], MAX_LABEL - 4)} #{n + 1}"
    return labels


def _with_keys(name: str, keys: list[str]) -> str:
    return f"{_route(name)} ({', '.join(keys)})" if keys else _route(name)


def _all_keys(name: str) -> list[str]:
    return list(dict.fromkeys(k for k, _ in parse_qsl(name.split("?", 1)[1], keep_blank_values=True))) \
        if "?" in name else []


def _route(name: str) -> str:
    """Method and path without the query: `GET /rest/v1/medications`."""
    return name.split("?", 1)[0].strip()


def _filter_keys(name: str) -> list[str]:
    """Query keys that select rows (not the ones that shape the answer: select, order, limit...)."""
    return [k for k in _all_keys(name) if k not in _SHAPING_KEYS] or _all_keys(name)


def _shared(labels: dict[str, str], name: str) -> bool:
    return sum(1 for other in labels.values() if other == labels[name]) > 1


def _clip(label: str, limit: int = MAX_LABEL) -> str:
    """At most `limit` characters, cut at a word or path boundary where there is one."""
    if len(label) <= limit:
        return label
    head = label[:limit - 1]
    cut = max(head.rfind(" "), head.rfind("/"))
    return (head[:cut] if cut > limit // 2 else head) + "…"


__all__ = ["MAX_LABEL", "request_labels"]
