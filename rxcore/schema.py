"""Checking a YAML document against a pydantic model, so every file kind refuses the same way: the first bad
field, its line in the file, what was found and the fix, as one ConfigError (exit 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rxcore.yamlfile import YamlDocument

__all__ = ["Strict", "validate_document"]

M = TypeVar("M", bound=BaseModel)

_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it, or check its spelling",
    "literal_error": "use one of the values named",
    "finite_number": "write a finite number",
}


class Strict(BaseModel):
    """A file's block: no unknown fields, no coercion (a string is never read as a number), immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def validate_document(model: type[M], doc: YamlDocument, fix: str,
                      fixes: Mapping[tuple[Any, ...], str] | None = None) -> M:
    """`doc` as `model`; else a ConfigError for the first bad field. `fixes` overrides the fix for a field that is
    missing; `fix` is the fallback hint (where to find a complete example)."""
    if not isinstance(doc.data, dict):
        raise doc.error((), f"expected a mapping of fields ({', '.join(model.model_fields)})", "write key: value pairs")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = tuple(first["loc"])
        missing = first["type"] == "missing"
        given = "" if missing else f" (found {_short(first.get('input'))})"
        hint = (fixes or {}).get(where) if missing else None
        raise doc.error(where, f"{first['msg']}{given}", hint or _FIXES.get(first["type"], fix)) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
