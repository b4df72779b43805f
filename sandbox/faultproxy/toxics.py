"""Toxic definitions: the Toxiproxy JSON shape, defaults and validation for the supported types.

A toxic is immutable once built; an update builds a new revision (new `serial`), so every open connection
re-rolls its toxicity and restarts its timers for it, as Toxiproxy restarts a toxic's pipe on update.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from sandbox.faultproxy.errors import ApiError, bad_request

STREAMS = ("upstream", "downstream")

# Attribute names and defaults per supported toxic type (Toxiproxy's zero values).
_ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "bandwidth": {"rate": 0},
}

_serials = itertools.count(1)


@dataclass(frozen=True)
class Toxic:
    """One toxic revision on one proxy."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]
    serial: int = field(default_factory=lambda: next(_serials), compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }

    def updated(self, body: dict[str, Any]) -> Toxic:
        """A new revision with the attributes and toxicity of an update body merged over this one."""
        attributes = dict(self.attributes)
        attributes.update(_attributes(self.type, body.get("attributes", {})))
        toxicity = _toxicity(body.get("toxicity", self.toxicity))
        return Toxic(self.name, self.type, self.stream, toxicity, attributes)


def toxic_from_json(body: Any) -> Toxic:
    """Build a new toxic from a create body, applying Toxiproxy's defaults (downstream, toxicity 1.0)."""
    if not isinstance(body, dict):
        raise bad_request("bad request body: expected a JSON object")
    stream = body.get("stream") or "downstream"
    if stream not in STREAMS:
        raise ApiError("stream was invalid, can be either upstream or downstream", 400)
    toxic_type = body.get("type")
    if toxic_type not in _ATTRIBUTES:
        raise ApiError("invalid toxic type", 400)
    name = body.get("name") or f"{toxic_type}_{stream}"
    if not isinstance(name, str):
        raise bad_request("bad request body: name must be a string")
    attributes = dict(_ATTRIBUTES[toxic_type])
    attributes.update(_attributes(toxic_type, body.get("attributes", {})))
    return Toxic(name, toxic_type, stream, _toxicity(body.get("toxicity", 1.0)), attributes)


def _attributes(toxic_type: str, raw: Any) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request("bad request body: attributes must be a JSON object")
    known = _ATTRIBUTES[toxic_type]
    result: dict[str, int] = {}
    for key, value in raw.items():
        if key not in known:
            continue  # Toxiproxy's JSON decoding ignores unknown attributes; so do we.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad_request(f"bad request body: attribute {key} must be a number")
        if value < 0:
            raise bad_request(f"bad request body: attribute {key} must not be negative")
        result[key] = int(value)
    return result


def _toxicity(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 <= raw <= 1.0:
        raise bad_request("bad request body: toxicity must be a number between 0 and 1")
    return float(raw)
