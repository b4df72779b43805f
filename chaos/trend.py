"""Trend against earlier drills: the drill.json files in runs/ for the same environment and scenario (or suite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def earlier_drills(runs_dir: Path, env: str, key: str, exclude: Path | None = None) -> list[dict[str, Any]]:
    """Past results for `key` (a scenario name, or "suite:NAME"), oldest first; unreadable files are skipped."""
    found = []
    for path in sorted(runs_dir.glob("*-drill-*/drill.json")):
        if exclude is not None and path.parent.resolve() == exclude.resolve():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("environment") != env or data.get("status") not in ("completed", "aborted"):
            continue
        name = f"suite:{data['suite']}" if data.get("kind") == "suite" else data.get("scenario")
        if name == key:
            found.append({"run": path.parent.name, "started_at": data.get("started_at"), "score": data.get("score"),
                          "verdict": data.get("verdict"), "rto_s": data.get("rto_s"),
                          "rpo_count": data.get("rpo_count"), "time_to_alert_s": data.get("time_to_alert_s"),
                          "time_to_notify_s": data.get("time_to_notify_s")})
    return found


def trend(history: list[dict[str, Any]], score: float | None) -> dict[str, Any]:
    previous = next((h for h in reversed(history) if h.get("score") is not None), None)
    delta = None if previous is None or score is None else round(score - previous["score"], 1)
    return {"earlier_runs": len(history), "previous": previous, "score_delta": delta,
            "history": history[-8:]}
