"""Reading the YAML files users write, safely: strict UTF-8, bounded size and depth, no anchors or aliases.

PyYAML's safe loader still expands aliases (a few lines can stand for billions of nodes) and recurses once per
nesting level; a file that does either is refused here with a line, before anything builds on it. Every node's
line is kept so a later check can point into the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rxcore.errors import ConfigError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YamlDocument", "field_name", "read_text", "read_yaml", "read_yaml_all"]

MAX_BYTES = 1_000_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document's data and the line of every node in it (keyed by the path of keys and indexes)."""

    path: Path
    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def line(self, where: tuple[Any, ...]) -> int | None:
        """The line of `where`, or of its nearest ancestor the file has."""
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where)

    def error(self, where: tuple[Any, ...], problem: str, fix: str) -> ConfigError:
        return ConfigError(str(self.path), field_name(where), problem, fix, line=self.line(where))


def field_name(where: tuple[Any, ...]) -> str:
    """('method', 2, 'args') -> 'method[2].args'."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def read_text(path: Path) -> str:
    """The file as text; a missing, oversized or non-UTF-8 file is a ConfigError naming the line of the bad byte."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read ({exc.strerror})", "check the path and permissions") \
            from None
    if len(data) > MAX_BYTES:
        raise ConfigError(str(path), "(file)", f"{len(data)} bytes is more than the {MAX_BYTES} allowed",
                          "a configuration file this large is a mistake; split it or trim it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(str(path), "(file)", f"byte 0x{data[exc.start]:02x} is not UTF-8",
                          "save the file as UTF-8", line=line) from None


def read_yaml(path: Path) -> YamlDocument:
    """The file's single YAML document (an empty file gives data None)."""
    docs = read_yaml_all(path)
    if len(docs) > 1:
        raise ConfigError(str(path), "(file)", "holds several YAML documents (---)", "keep one document",
                          line=docs[1].line(()))
    return docs[0] if docs else YamlDocument(Path(path), None)


def read_yaml_all(path: Path) -> list[YamlDocument]:
    """Every YAML document in the file, with node lines; a ConfigError for anything unsafe or malformed."""
    text = read_text(path)
    _check_flow_depth(text, str(path))
    loader: _Loader | None = None
    docs = []
    try:
        loader = _Loader(text, str(path))  # the reader refuses control characters here
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said a node follows
            lines: dict[tuple[Any, ...], int] = {}
            _collect_lines(node, (), lines)
            docs.append(YamlDocument(Path(path), loader.construct_document(node), lines))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), "(file)", f"not valid YAML: {problem}", "fix the YAML syntax",
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ConfigError(str(path), "(file)", "nested too deeply", f"keep nesting under {MAX_DEPTH} levels") \
            from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(str(path), "(file)", f"a value cannot be read ({exc})", "write a number of sane size") \
            from None
    finally:
        if loader is not None:
            loader.dispose()
    return docs


def _check_flow_depth(text: str, name: str) -> None:
    """Refuse deeply nested [ and { before PyYAML's scanner, which looks ahead through the whole nest (quadratic
    time: thousands of brackets took seconds). Brackets inside quoted strings count too; no sane file has 64."""
    depth = 0
    for bracket in re.sub(r"[^\[\]{}]", "", text):
        depth = depth + 1 if bracket in "[{" else max(0, depth - 1)
        if depth >= MAX_DEPTH:
            raise ConfigError(name, "(file)", "nested too deeply", f"keep nesting under {MAX_DEPTH} levels")


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases at the event that carries them."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self._name = name
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # types-PyYAML leaves Parser.peek_event unannotated; it returns the next Event
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError(self._name, "(file)", "YAML anchors and aliases (&name, *name) are not allowed",
                              "write each value out in full", line=event.start_mark.line + 1)
        if self._depth >= MAX_DEPTH:
            raise ConfigError(self._name, "(file)", "nested too deeply", f"keep nesting under {MAX_DEPTH} levels",
                              line=event.start_mark.line + 1)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _collect_lines(node: yaml.Node, where: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            label = key.value if isinstance(key, yaml.ScalarNode) else repr(key.value)
            _collect_lines(value, (*where, label), out)
            out[(*where, label)] = key.start_mark.line + 1  # a field's line is its key's line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, (*where, i), out)
