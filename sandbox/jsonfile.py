"""JSON files written atomically (write a temporary file, then rename), so a reader never sees half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True, default=str)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.chmod(mode)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path) as src:
        return json.load(src)
