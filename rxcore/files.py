"""Files that readers may open at any moment: written beside their place, synced, then renamed over it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic"]


def write_json_atomic(path: Path, data: Any, durable: bool = True, mode: int = 0o644) -> None:
    """Write JSON next to `path`, fsync, then rename over it: readers see the old or the new file, never half.

    `durable=False` skips the fsync, for files rewritten every second whose loss in a crash costs nothing;
    `mode` 0o600 keeps secrets to their owner from the first byte. NaN and infinities are refused (ValueError,
    the old file stays): JSON has no such numbers, and one written as `Infinity` breaks every later reader."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            try:
                json.dump(data, out, indent=2, sort_keys=False, default=str, allow_nan=False)
            except ValueError as exc:
                raise ValueError(f"{path}: not written: {exc} (NaN or an infinity; the value should have been "
                                 "refused or left out where it was made)") from None
            out.write("\n")
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
