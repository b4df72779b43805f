"""Short, readable labels for request names: method + route template, so a table column stays narrow and a name
never wraps a character at a time. The full name stays in report.json and on hover in the HTML.

`GET /rest/v1/medications?select=id,name,price_cents&name=ilike.[term]&limit=[n]` becomes
`GET /rest/v1/medications`; names that would share a label keep the query keys that filter rows
(`GET /rest/v1/prescriptions (id)`, `GET /rest/v1/prescriptions (status)`), then a number if still alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

MAX_LABEL = 48
_SHAPING_KEYS = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})


def request_labels(names: Iterable[str]) -> dict[str, str]:
    """A label for each distinct name; distinct names get distinct labels."""
    unique = list(dict.fromkeys(names))
    routes = {name: _route(name) for name in unique}
    labels = {name: _clip(_with_keys(name) if _shared(routes, name) else routes[name]) for name in unique}
    numbered = {name: label for name, label in labels.items() if _shared(labels, name)}
    for n, name in enumerate(numbered):
        labels[name] = f"{_clip(numbered[name], MAX_LABEL - 4)} #{n + 1}"
    return labels


def _with_keys(name: str) -> str:
    keys = _filter_keys(name)
    return f"{_route(name)} ({', '.join(keys)})" if keys else _route(name)


def _route(name: str) -> str:
    """Method and path without the query: `GET /rest/v1/medications`."""
    return name.split("?", 1)[0].strip()


def _filter_keys(name: str) -> list[str]:
    """Query keys that select rows (not the ones that shape the answer: select, order, limit...)."""
    if "?" not in name:
        return []
    keys = [k for k, _ in parse_qsl(name.split("?", 1)[1], keep_blank_values=True)]
    return [k for k in dict.fromkeys(keys) if k not in _SHAPING_KEYS] or list(dict.fromkeys(keys))


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
