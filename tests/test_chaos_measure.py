"""RTO, downtime, RPO and scoring on hand-made probe series, where the right answer is known by construction."""

from __future__ import annotations

import pytest

from chaos.measure import classify_ledger, downtime_s, rpo, rto_s, time_to_detect_s
from chaos.objectives import verdict_and_score
from chaos.probes import Sample
from chaos.scenario import DrillObjective

_FAULT = 1000.0


def _series(kind: str, start: float, end: float, failing: tuple[float, float], latency: float = 0.01,
            rate_hz: float = 10) -> list[Sample]:
    """A probe every 1/rate_hz s from start to end; those sent inside `failing` fail at once."""
    samples, seq, t = [], 0, start
    while t < end:
        ok = not failing[0] <= t < failing[1]
        samples.append(Sample(kind, seq, t, t + latency, ok, 200 if ok else 503, None if ok else "http_503"))
        seq, t = seq + 1, round(t + 1 / rate_hz, 6)
    return samples


def test_a_five_second_outage_measures_five_seconds_of_downtime() -> None:
    samples = _series("read", _FAULT - 2, _FAULT + 15, (_FAULT + 0.03, _FAULT + 5.03))
    assert abs(downtime_s(samples, _FAULT) - 5.0) <= 0.1


def test_rto_runs_to_the_first_answer_after_the_outage() -> None:
    samples = _series("read", _FAULT - 2, _FAULT + 15, (_FAULT + 0.03, _FAULT + 5.03))
    # the first success is sent at +5.1 and answered at +5.11
    assert rto_s(samples, _FAULT, 5.0, _FAULT + 15) == pytest.approx(5.11, abs=1e-6)


def test_requests_queued_during_the_outage_count_from_their_answer() -> None:
    queued = [Sample("write", i, _FAULT + 1 + i / 10, _FAULT + 3.0, True, 201, None) for i in range(20)]
    failed = [Sample("write", 100 + i, _FAULT + i / 10, _FAULT + 2 + i / 10, False, None, "timeout")
              for i in range(10)]
    after = _series("write", _FAULT + 3.0, _FAULT + 12, (0, 0))
    assert rto_s([*failed, *queued, *after], _FAULT, 5.0, _FAULT + 12) == pytest.approx(3.0, abs=1e-6)


def test_no_stable_window_means_no_rto() -> None:
    samples = _series("read", _FAULT, _FAULT + 8, (_FAULT + 0.0, _FAULT + 4.0))
    assert rto_s(samples, _FAULT, 5.0, _FAULT + 8) is None


def test_no_failure_at_all_is_an_rto_of_zero() -> None:
    samples = _series("read", _FAULT, _FAULT + 8, (0, 0))
    assert rto_s(samples, _FAULT, 5.0, _FAULT + 8) == 0.0
    assert time_to_detect_s(samples, _FAULT) is None


def test_downtime_is_the_union_of_read_and_write_outages() -> None:
    reads = _series("read", _FAULT, _FAULT + 10, (_FAULT + 1.0, _FAULT + 3.0))
    writes = _series("write", _FAULT, _FAULT + 10, (_FAULT + 2.0, _FAULT + 4.0))
    assert abs(downtime_s([*reads, *writes], _FAULT) - 3.0) <= 0.1


def test_rpo_counts_lost_acknowledged_writes_and_never_writes_in_doubt() -> None:
    writes = [
        Sample("write", 1, _FAULT - 3, _FAULT - 2.9, True, 201, None),   # acknowledged, kept
        Sample("write", 2, _FAULT - 2, _FAULT - 1.9, True, 201, None),   # acknowledged, lost
        Sample("write", 3, _FAULT - 1, _FAULT - 0.9, True, 201, None),   # acknowledged, lost
        Sample("write", 4, _FAULT - 0.5, _FAULT + 1.5, False, None, "timeout"),  # in doubt, lost
        Sample("write", 5, _FAULT - 0.4, _FAULT + 1.6, False, None, "timeout"),  # in doubt, committed
    ]
    ledger = classify_ledger(writes, present={1, 5})
    assert (ledger.acknowledged, ledger.lost, ledger.in_doubt, ledger.in_doubt_found) == (3, (2, 3), 2, 1)
    count, span = rpo(ledger, _FAULT)
    assert count == 2
    assert abs(span - 1.9) < 1e-6


def test_nothing_lost_is_an_rpo_of_zero() -> None:
    ledger = classify_ledger([Sample("write", 1, _FAULT - 1, _FAULT - 0.9, True, 201, None)], present={1})
    assert rpo(ledger, _FAULT) == (0, 0.0)


def test_verdict_fails_on_a_critical_objective_and_score_is_the_weighted_share() -> None:
    objectives = [DrillObjective("rto", "rto_s", "<=", 10, 3, True),
                  DrillObjective("rpo", "rpo_count", "==", 0, 1, False)]
    _, verdict, score = verdict_and_score(objectives, {"rto_s": 12.0, "rpo_count": 0})
    assert (verdict, score) == ("fail", 25.0)


def test_unmeasured_metric_is_not_met() -> None:
    results, verdict, score = verdict_and_score([DrillObjective("rto", "rto_s", "<=", 10, 1, False)], {"rto_s": None})
    assert (results[0]["met"], verdict, score) == (False, "pass", 0.0)
