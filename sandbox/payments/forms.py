"""Stripe's form encoding: `metadata[k]=v`, `payment_method_data[card][number]=...`, `list[]=a` as nested values."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from sandbox.payments.errors import invalid_request

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")

Params = dict[str, Any]


def decode(body: bytes) -> tuple[Params, tuple[tuple[str, str], ...]]:
    """Nested params and the sorted raw pairs (the request's fingerprint for idempotency)."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise invalid_request("Invalid request body: expected application/x-www-form-urlencoded UTF-8.") from None
    params: Params = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise invalid_request(f"Invalid parameter name: {key}.", code="parameter_invalid_empty", param=key)
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _assign(params, path, value, key)
    return params, tuple(sorted(pairs))


def _assign(target: Params, path: list[str], value: str, key: str) -> None:
    node: Any = target
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if part == "":  # `list[]=value`
            if not isinstance(node, list) or not last:
                raise invalid_request(f"Invalid array parameter: {key}.", param=key)
            node.append(value)
            return
        if not isinstance(node, dict):
            raise invalid_request(f"Invalid parameter: {key} mixes a value and nested keys.", param=key)
        if last:
            node[part] = value
        else:
            default: Any = [] if path[index + 1] == "" else {}
            node = node.setdefault(part, default)
