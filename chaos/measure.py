"""RTO, RPO and the figures around them, computed from probe samples (the one home of these definitions; see
DESIGN.md "Definitions").

- RTO: from fault injection until the start of the first window in which every probe succeeds for the stability
  period (default 5 s). The window begins at the first successful answer after the probes' first failure (an
  answer, not a send: a request queued during a failover proves the platform works only when it is answered);
  no failure at all gives 0.
- Time to detect: fault injection -> the first failed probe.
- User-visible downtime: the union over probe kinds of each run of failures, from midway between the last
  success and the first failure to the first answer of the successes after it (a 10 Hz probe resolves an outage
  to about one tick).
- RPO: writes acknowledged before the fault took effect that are missing after recovery, as a count and as the
  span from the earliest lost acknowledgement to the fault; 0 when nothing is lost. A write whose acknowledgement
  never arrived is "in doubt", never lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from chaos.probes import Sample
from slo.percentile import percentile


def rto_s(samples: Sequence[Sample], fault_at: float, stability_s: float, observed_until: float) -> float | None:
    """Seconds from `fault_at` to the first stable recovery; None if none was observed.

    Recovery is the first successful answer after the last failure of a success run (an answer, not a send: a
    request queued during a failover and served later shows the platform working only when it is answered).
    The run must then hold, by send time, for `stability_s`.
    """
    after = sorted((s for s in samples if s.sent >= fault_at), key=lambda s: s.sent)
    if all(s.ok for s in after):
        return 0.0
    first_failure = next(i for i, s in enumerate(after) if not s.ok)
    for run, following in _success_runs(after[first_failure:]):
        recovered = min(s.done for s in run)
        run_end = following.sent if following is not None else observed_until
        if run_end - recovered >= stability_s:
            return recovered - fault_at
    return None


def _success_runs(ordered: Sequence[Sample]) -> list[tuple[list[Sample], Sample | None]]:
    """Each maximal run of successes (in send order) with the failure that ended it (None: still running)."""
    runs: list[tuple[list[Sample], Sample | None]] = []
    current: list[Sample] = []
    for sample in ordered:
        if sample.ok:
            current.append(sample)
        elif current:
            runs.append((current, sample))
            current = []
    if current:
        runs.append((current, None))
    return runs


def time_to_detect_s(samples: Sequence[Sample], fault_at: float) -> float | None:
    failed = [s.sent for s in samples if s.sent >= fault_at and not s.ok]
    return min(failed) - fault_at if failed else None


def outage_intervals(samples: Sequence[Sample], since: float) -> list[tuple[float, float]]:
    """Each run of failed probes of one kind (sent at or after `since`) as a (start, end) interval: from midway
    between the last success and the first failure (send times) to the first answer of the successes after it."""
    ordered = sorted(samples, key=lambda s: s.sent)
    intervals: list[tuple[float, float]] = []
    i = 0
    while i < len(ordered):
        if ordered[i].ok or ordered[i].sent < since:
            i += 1
            continue
        j = i
        while j + 1 < len(ordered) and not ordered[j + 1].ok:
            j += 1
        start = (ordered[i - 1].sent + ordered[i].sent) / 2 if i > 0 else ordered[i].sent
        k = j + 1
        while k < len(ordered) and ordered[k].ok:
            k += 1
        following = ordered[j + 1:k]
        end = min(s.done for s in following) if following else ordered[j].sent
        intervals.append((start, max(start, end)))
        i = k
    return intervals


def downtime_s(samples: Sequence[Sample], since: float) -> float:
    """User-visible downtime: the union of every kind's outage intervals."""
    intervals = sorted(iv for kind in {s.kind for s in samples}
                       for iv in outage_intervals([s for s in samples if s.kind == kind], since))
    total, current = 0.0, None
    for start, end in intervals:
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += current[1] - current[0]
    return total


def longest_failure_run_s(samples: Sequence[Sample], start: float, end: float) -> float:
    return max((e - s for s, e in outage_intervals([x for x in samples if start <= x.sent <= end], start)),
               default=0.0)


def window(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.sent <= end]


def availability(samples: Sequence[Sample]) -> float | None:
    return sum(s.ok for s in samples) / len(samples) if samples else None


def p95_ms(samples: Sequence[Sample]) -> float | None:
    latencies = [s.latency_ms for s in samples if s.ok]
    return percentile(latencies, 95)


@dataclass(frozen=True)
class LedgerResult:
    """The write ledger after recovery. `in_doubt` writes got no acknowledgement; `in_doubt_found` of them were
    committed anyway."""

    acknowledged: int
    lost: tuple[int, ...]
    in_doubt: int
    in_doubt_found: int
    lost_ack_times: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"acknowledged": self.acknowledged, "lost": len(self.lost), "in_doubt": self.in_doubt,
                "in_doubt_found_committed": self.in_doubt_found, "lost_seqs": list(self.lost)}


def classify_ledger(writes: Sequence[Sample], present: set[int]) -> LedgerResult:
    acked = {s.seq: s.done for s in writes if s.ok}
    doubt = {s.seq for s in writes if not s.ok}
    lost = tuple(sorted(seq for seq in acked if seq not in present))
    return LedgerResult(acknowledged=len(acked), lost=lost, in_doubt=len(doubt),
                        in_doubt_found=len(doubt & present), lost_ack_times={seq: acked[seq] for seq in lost})


def rpo(ledger: LedgerResult, fault_done_at: float) -> tuple[int, float]:
    """(count, seconds): lost writes acknowledged before the fault took effect, and how far back they reach."""
    before = [t for t in ledger.lost_ack_times.values() if t <= fault_done_at]
    return len(before), (fault_done_at - min(before)) if before else 0.0


@dataclass(frozen=True)
class RestoreCheck:
    """A point-in-time restore against the ledger: acknowledged-before-target writes it lacks, and writes sent
    after the target it holds (both must be empty)."""

    acknowledged_before: int
    missing_before: tuple[int, ...]
    present_after: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {"acknowledged_before_target": self.acknowledged_before,
                "missing_before_target": list(self.missing_before), "present_after_target": list(self.present_after)}


def restore_check(writes: Sequence[Sample], target: float, present: set[int]) -> RestoreCheck:
    acked_before = {s.seq for s in writes if s.ok and s.done <= target}
    sent_after = {s.seq for s in writes if s.sent > target}
    return RestoreCheck(len(acked_before), tuple(sorted(acked_before - present)), tuple(sorted(sent_after & present)))
