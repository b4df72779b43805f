"""Error budgets, burn rates, sample sufficiency and per-step series: the budget side of an objective.

All take per-step arrays of valid and bad events (slo.aggregate.StepData steps) or totals, never raw samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from slo.aggregate import StepData
from slo.durations import format_duration
from slo.spec import Spec
from slo.stats import samples_needed


def sufficiency(bad_share: float, target: float, confidence: float, have: int) -> dict[str, Any]:
    """Samples needed to settle the verdict if the run goes on at its observed bad share, and how many more."""
    needed = samples_needed(bad_share, target, confidence)
    return {
        "needed": needed,
        "have": have,
        "more": None if needed is None else max(0, needed - have),
        "to_show": "pass" if bad_share < 1.0 - target else "fail",
        "assumes_bad_share": bad_share,
    }


def error_budget(target: float, total: int, bad: int) -> dict[str, Any]:
    """Bad events the target allows among `total`, against those that happened."""
    allowed = (1.0 - target) * total
    return {
        "allowed": allowed,
        "consumed": bad,
        "remaining": allowed - bad,
        "consumed_share": bad / allowed if allowed > 0 else None,
    }


def burn_rates(spec: Spec, steps: StepData, valid: npt.NDArray[Any], bad: npt.NDArray[Any],
               budget_share: float) -> list[dict[str, Any]]:
    """Multiwindow burn rates (SRE workbook): at the end of the data, and whether the alert ever fired."""
    ends = steps.step_start + steps.step_s
    cum_valid = np.concatenate([[0], np.cumsum(valid, dtype=np.float64)])
    cum_bad = np.concatenate([[0], np.cumsum(bad, dtype=np.float64)])
    span = steps.data_end - steps.data_start
    out = []
    for window in spec.burn_windows:
        entry: dict[str, Any] = {"long": format_duration(window.long_s), "short": format_duration(window.short_s),
                                 "factor": window.factor}
        if span + 1e-9 < window.long_s or ends.size == 0:
            entry |= {"evaluated": False, "reason": f"data spans {format_duration(round(span))}, "
                                                    f"less than the long window"}
            out.append(entry)
            continue

        def rate(width: float) -> npt.NDArray[np.float64]:
            first = np.searchsorted(steps.step_start, ends - width - 1e-9, side="left")
            last = np.arange(1, ends.size + 1)
            v = cum_valid[last] - cum_valid[first]
            b = cum_bad[last] - cum_bad[first]
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(v > 0, b / v / budget_share, np.nan)

        long_rate, short_rate = rate(window.long_s), rate(window.short_s)
        eligible = ends - np.floor(steps.data_start / steps.step_s) * steps.step_s >= window.long_s - 1e-9
        firing = eligible & (np.nan_to_num(long_rate) > window.factor) & (np.nan_to_num(short_rate) > window.factor)
        entry |= {
            "evaluated": True,
            "long_rate": _finite(long_rate[-1]),
            "short_rate": _finite(short_rate[-1]),
            "firing_at_end": bool(firing[-1]),
            "fired": bool(firing.any()),
            "first_fired_at": float(ends[firing][0]) if firing.any() else None,
            "peak_long_rate": _finite(np.nanmax(np.where(eligible, long_rate, np.nan)))
            if np.isfinite(np.where(eligible, long_rate, np.nan)).any() else None,
        }
        out.append(entry)
    return out


def step_series(steps: StepData, valid: npt.NDArray[Any], bad: npt.NDArray[Any]) -> dict[str, Any]:
    """Per-step counts and SLI for charts (steps without data are absent, not zero)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sli = np.where(valid > 0, 1.0 - bad / np.maximum(valid, 1), np.nan)
    return {
        "step_s": steps.step_s,
        "t": steps.step_start.tolist(),
        "valid": np.asarray(valid).astype(int).tolist(),
        "bad": np.asarray(bad).astype(int).tolist(),
        "sli": [None if math.isnan(v) else v for v in sli],
    }


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
