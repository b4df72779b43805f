"""What a driver action may read or record while a drill runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from chaos.probes import Prober


@dataclass
class DrillContext:
    run_id: str
    prober: Prober | None
    abort: threading.Event
    marks: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
