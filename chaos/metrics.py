"""The names a scenario's objectives may measure, with what each one means (one list, used by the parser,
the runner and docs/drills.md)."""

from __future__ import annotations

import operator
from collections.abc import Callable

METRICS: dict[str, str] = {
    "rto_s": "fault injection -> start of the first window of continuous probe success (stability period)",
    "rpo_count": "writes acknowledged before the fault and missing after recovery",
    "rpo_s": "fault time minus the acknowledgement time of the earliest lost write (0 when none lost)",
    "time_to_detect_s": "fault injection -> first failed probe",
    "downtime_s": "user-visible downtime: union of the periods in which probes failed, after the fault",
    "errors_during_fault": "failed probe requests between the fault and recovery (or the method's end)",
    "availability_during_fault": "share of probe requests that succeeded during the fault window",
    "read_availability_during_fault": "share of read probes that succeeded during the fault window",
    "write_availability_during_fault": "share of write probes that succeeded during the fault window",
    "p95_during_fault_ms": "p95 latency of successful probe requests during the fault window",
    "write_stall_s": "longest run of failed or timed-out write probes from the method start to the window end",
    "lost_after_fault": "writes acknowledged after the fault and missing after recovery",
    "in_doubt": "writes whose acknowledgement never arrived",
    "steady_state_after": "1 when the steady-state checks hold after the rollbacks, else 0",
    "failed_requests": "failed probe requests over the whole method (fault window or not)",
    "restore_duration_s": "point-in-time restore: start of the restore -> restored database answering",
    "restore_missing_before_target": "writes acknowledged before the restore target missing from the restore",
    "restore_present_after_target": "writes sent after the restore target found in the restore",
    "time_to_alert_s": "fault injection -> the first declared alert firing in Alertmanager (its startsAt)",
    "time_to_notify_s": "fault injection -> the first notification of a declared alert received by the pager",
    "time_to_resolve_s": "recovery -> the last resolved notification of the declared alerts that fired",
    "alerts_missed": "required alerts (scenario `alerts:`) that did not fire within their `within`",
    "alerts_unresolved": "declared alerts that fired but did not resolve within their `resolves_within`",
    "unexpected_alerts": "alerts that started firing during the drill without being declared in `alerts:`",
}

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq,
}
