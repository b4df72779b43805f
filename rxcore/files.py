"""Files that readers may open at any moment: written beside their place, synced, then renamed over it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: Path, text: str, durable: bool = True, mode: int = 0o644) -> None:
    """Write `text` next to `path`, fsync, then rename over it: readers see the old or the new file, never half.

    `durable=False` skips the fsync, for files rewritten every second whose loss in a crash costs nothing;
    `mode` 0o600 keeps secrets to their owner from the first byte. On any failure the temporary file is removed
    and the old file stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, durable: bool = True, mode: int = 0o644, indent: int = 2) -> None:
    """`data` as JSON through write_text_atomic. NaN and infinities are refused (ValueError, the old file stays):
    JSON has no such numbers, and one written as `Infinity` breaks every later reader."""
    try:
        text = json.dumps(data, indent=indent, sort_keys=False, default=str, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not written: {exc} (NaN or an infinity; the value should have been "
                         "refused or left out where it was made)") from None
    write_text_atomic(path, text + "\n", durable=durable, mode=mode)
