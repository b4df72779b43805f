"""Status bands of an SLO objective for readers who do not read confidence intervals (docs/reports.md).

First match wins:
1. Not applicable: the evaluator's verdict is not-applicable (the run has no data of that kind).
2. Insufficient data: verdict insufficient-data (the data cannot tell pass from fail at the spec's confidence).
3. Exhausted: verdict fail, or the error budget is used up (remaining <= 0).
4. At risk: at least AT_RISK_SHARE of the error budget consumed, or a burn-rate alert fired during the data.
5. Healthy: everything else (a pass with most of the budget left and no burn alert).
Objectives without an error budget (RTO, RPO: measured, not sampled) are Healthy on pass, Exhausted on fail.
"""

from __future__ import annotations

from typing import Any

AT_RISK_SHARE = 0.75
HEALTHY, AT_RISK, EXHAUSTED, INSUFFICIENT, NOT_APPLICABLE = (
    "Healthy", "At risk", "Exhausted", "Insufficient data", "Not applicable")
BAND_CSS = {HEALTHY: "ok", AT_RISK: "warn", EXHAUSTED: "bad", INSUFFICIENT: "unknown", NOT_APPLICABLE: "na"}


def band(objective: dict[str, Any]) -> str:
    """The band of one slo.json objective."""
    verdict = objective.get("verdict")
    if verdict == "not-applicable":
        return NOT_APPLICABLE
    if verdict == "insufficient-data":
        return INSUFFICIENT
    budget = objective.get("error_budget") or {}
    remaining = budget.get("remaining")
    if verdict == "fail" or (remaining is not None and remaining <= 0 and budget.get("allowed")):
        return EXHAUSTED
    share = budget.get("consumed_share")
    fired = any(b.get("fired") for b in objective.get("burn_rates") or [])
    if (share is not None and share >= AT_RISK_SHARE) or fired:
        return AT_RISK
    return HEALTHY


def budget_remaining_share(objective: dict[str, Any]) -> float | None:
    """Share of the error budget left (1 = untouched, 0 or less = used up); None without a budget."""
    share = (objective.get("error_budget") or {}).get("consumed_share")
    return None if share is None else 1.0 - share
