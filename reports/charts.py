"""matplotlib charts as PNG data URIs, so report.html carries its pictures and needs no network. Sized for print:
7 inches wide (the text width of A4 and Letter), so printed lettering stays at its drawn size."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.series import LoadSeries

_WIDTH, _HEIGHT, _DPI = 7.0, 2.9, 150  # 7 in: the printed width of A4 and Letter inside the margins
_COLOURS = {"p50": "#4c78a8", "p95": "#f58518", "p99": "#b279a2", "ok": "#54a24b", "bad": "#e45756",
            "slo": "#d62728", "marker": "#444444", "warn": "#eeca3b"}
_MARKER_LABELS = {"fault_injected": "fault", "first_failure_seen": "detected", "recovered": "recovered",
                  "rollback_done": "rolled back"}
_ALERT_LABELS = {"alert_firing": "alert", "alert_notified": "paged", "alert_resolved": "resolved",
                 "unexpected_alert": "unexpected alert"}
_OVERSPENT_FLOOR = -100.0  # the burn-down is clipped here: further down is "overspent" all the same
_ERROR_COLOURS = {"http_5xx": "#e45756", "timeout": "#b279a2", "connection_error": "#9d755d", "http_429": "#eeca3b",
                  "http_4xx": "#bab0ac"}


def _png(draw: Callable[[Figure], None], height: float = _HEIGHT) -> str:
    fig = plt.figure(figsize=(_WIDTH, height), dpi=_DPI)
    try:
        draw(fig)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _times(unix: Sequence[float]) -> list[datetime]:
    """Datetimes for the x axis. matplotlib converts datetimes (and None, a gap) through its units registry, but its
    stubs declare floats only: hence the `type: ignore[arg-type]` where such values are passed."""
    return [datetime.fromtimestamp(t, UTC) for t in unix]


def _time_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)


def covered(markers: Sequence[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The events inside a chart's data span: an event outside it belongs on the chart whose data covers it (the
    drill's probe timeline), not on an empty stretch of this one."""
    return [m for m in markers if m.get("unix") is not None and start <= m["unix"] <= end]


def _markers(ax: Axes, markers: Sequence[dict[str, Any]], start: float, end: float, step: float) -> None:
    """Drill events within the data as dotted lines; the time axis spans the data only."""
    ax.set_xlim(datetime.fromtimestamp(start - step / 2, UTC), datetime.fromtimestamp(end + step / 2, UTC))  # type: ignore[arg-type]
    for marker in covered(markers, start, end):
        unix = marker["unix"]
        ax.axvline(datetime.fromtimestamp(unix, UTC), color=_COLOURS["marker"], linestyle=":", linewidth=1)  # type: ignore[arg-type]
        ax.annotate(_MARKER_LABELS.get(marker["event"], marker["event"]),
                    (datetime.fromtimestamp(unix, UTC), 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color=_COLOURS["marker"])


def latency(load: LoadSeries, threshold_s: float | None, markers: Sequence[dict[str, Any]] = ()) -> str:
    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        t = _times(load.t)
        for name, values in load.percentiles_s.items():
            ax.plot(t, [None if v is None else v * 1000 for v in values], marker=".", markersize=3, label=name,  # type: ignore[arg-type]
                    color=_COLOURS.get(name))
        if threshold_s is not None:
            ax.axhline(threshold_s * 1000, color=_COLOURS["slo"], linestyle="--", linewidth=1,
                       label=f"SLO {threshold_s * 1000:g} ms")
        _markers(ax, markers, load.start, load.end, load.step_s)
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms, log)")
        ax.set_title(f"Latency percentiles per {load.step_s:g} s (successful requests)", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
        _time_axis(ax)

    return _png(draw)


def throughput(load: LoadSeries) -> str:
    def draw(fig: Figure) -> None:
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        t = _times(load.t)
        top.set_xlim(datetime.fromtimestamp(load.start - load.step_s / 2, UTC),
                     datetime.fromtimestamp(load.end + load.step_s / 2, UTC))
        top.plot(t, load.requests_per_s, color=_COLOURS["p50"], marker=".", markersize=3, label="all requests")
        top.plot(t, load.outcomes_per_s["ok"], color=_COLOURS["ok"], linestyle="--", label="ok")
        top.set_ylabel("requests/s")
        top.legend(fontsize=8, loc="upper left")
        top.grid(alpha=0.3)
        top.set_title(f"Throughput and errors per {load.step_s:g} s", fontsize=10)
        bottom_total = [0.0] * len(t)
        for outcome, colour in _ERROR_COLOURS.items():
            values = load.outcomes_per_s.get(outcome, [])
            if any(values):
                bottom.bar(t, values, bottom=bottom_total, width=load.step_s / 86400 * 0.9, color=colour,
                           label=outcome, align="edge")
                bottom_total = [a + b for a, b in zip(bottom_total, values, strict=True)]
        if not any(bottom_total):
            bottom.text(0.5, 0.5, "no errors", transform=bottom.transAxes, ha="center", va="center", fontsize=9)
        else:
            bottom.legend(fontsize=7, loc="upper left", ncol=3)
        bottom.set_ylabel("errors/s")
        _time_axis(bottom)

    return _png(draw, height=3.6)


def burn_down(load: LoadSeries) -> str:
    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        t = _times(load.t)
        lowest = 0.0
        for name, values in load.budget_remaining.items():
            known = [v * 100 for v in values if v is not None]
            lowest = min([lowest, *known])
            ax.step(t, [None if v is None else max(v * 100, _OVERSPENT_FLOOR) for v in values], where="post",  # type: ignore[arg-type]
                    marker=".", markersize=3, label=name + (f" (ends at {known[-1]:,.0f} %)" if known and
                                                            known[-1] < _OVERSPENT_FLOOR else ""))
        ax.set_ylim(max(lowest, _OVERSPENT_FLOOR) - 5, 105)
        ax.set_xlim(datetime.fromtimestamp(load.start - load.step_s / 2, UTC),  # type: ignore[arg-type]
                    datetime.fromtimestamp(load.end + load.step_s / 2, UTC))  # type: ignore[arg-type]
        ax.axhline(0, color=_COLOURS["slo"], linewidth=1)
        ax.axhline(25, color=_COLOURS["warn"], linewidth=1, linestyle="--", label="at risk below 25 %")
        ax.set_ylabel("error budget left (%)")
        ax.set_title("Error-budget burn-down (share of this run's budget left)", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")
        _time_axis(ax)

    return _png(draw)


def drill_timeline(journal: dict[str, Any]) -> str:
    """Probe success strip per second (read and write), fault/detect/recover lines, RTO span and RPO, and the
    alert checks' moments (firing, paged, resolved; an unexpected alert in red)."""
    series = journal.get("series") or []
    events = {e.get("event"): e.get("unix") for e in journal.get("timeline") or []}
    origin = events.get("method_started") or events.get("fault_injected") or 0.0

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for row, kind in enumerate(("write", "read")):
            for point in series:
                ok, failed = point.get(f"{kind}_ok", 0), point.get(f"{kind}_failed", 0)
                if ok + failed == 0:
                    continue
                share = ok / (ok + failed)
                colour = _COLOURS["ok"] if share == 1 else _COLOURS["bad"] if share == 0 else _COLOURS["warn"]
                ax.broken_barh([(point["t_s"], 1.0)], (row + 0.1, 0.8), facecolors=colour)
        ax.set_yticks([0.5, 1.5], ["write probes", "read probes"])
        ax.set_ylim(0, 2.9)
        for i, (event, label) in enumerate(_MARKER_LABELS.items()):
            unix = events.get(event)
            if unix is not None:
                x = unix - origin
                ax.axvline(x, color=_COLOURS["marker"], linestyle=":", linewidth=1)
                ax.text(x, 2.85 - 0.12 * (i % 2), f"{label} ", rotation=0, ha="right" if i % 2 else "left",
                        va="top", fontsize=7)
        for e in journal.get("timeline") or []:  # the alert checks: when the fault paged, and when it stopped
            if e.get("event") in _ALERT_LABELS and e.get("unix") is not None:
                x = e["unix"] - origin
                ax.axvline(x, color=_COLOURS["bad"] if e["event"] == "unexpected_alert" else _COLOURS["marker"],
                           linestyle="--", linewidth=1)
                ax.text(x, 0.05, f" {_ALERT_LABELS[e['event']]}", fontsize=7, va="bottom", rotation=90)
        fault, rto = events.get("fault_injected"), journal.get("rto_s")
        if fault is not None and rto is not None:
            start = fault - origin
            ax.annotate("", (start, 2.15), (start + rto, 2.15), arrowprops={"arrowstyle": "<->"})
            ax.text(start + rto / 2, 2.2, f"RTO {rto:.1f} s", ha="center", fontsize=8)
        rpo_count, rpo_s = journal.get("rpo_count"), journal.get("rpo_s")
        if rpo_count is not None:
            ax.text(0.99, 0.02, f"RPO: {rpo_count} acknowledged write(s) lost"
                    + (f", {rpo_s:.2f} s" if rpo_s else ""), transform=ax.transAxes, ha="right", fontsize=8)
        ax.set_xlabel("seconds from the method start (green: all probes ok, amber: some failed, red: all failed)")
        ax.set_title(f"Drill {journal.get('scenario')}: probe success", fontsize=10)
        ax.grid(axis="x", alpha=0.3)

    return _png(draw, height=2.6)


def drill_trend(points: Sequence[dict[str, Any]]) -> str:
    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        quarters = sorted({p["quarter"] for p in points})
        for scenario in sorted({str(p["scenario"]) for p in points}):
            mine = [p for p in points if str(p["scenario"]) == scenario]
            means = []
            for q in quarters:
                scores = [p["score"] for p in mine if p["quarter"] == q]
                means.append(sum(scores) / len(scores) if scores else None)
            ax.plot(quarters, means, marker="o", label=scenario)  # type: ignore[arg-type]
        ax.set_ylim(0, 105)
        ax.set_ylabel("drill score (0-100)")
        ax.set_title("Drill scores by quarter (mean per scenario)", fontsize=10)
        ax.legend(fontsize=7, loc="lower left", ncol=2)
        ax.grid(alpha=0.3)

    return _png(draw)


def capacity(steps: Sequence[dict[str, Any]]) -> str:
    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        levels = [str(s.get("level")) for s in steps]
        colours = [_COLOURS["ok"] if s.get("held") else _COLOURS["bad"] for s in steps]
        ax.bar(levels, [s.get("achieved_rps") or 0 for s in steps], color=colours)
        ax.set_xlabel("load level")
        ax.set_ylabel("achieved requests/s")
        ax.set_title("Capacity steps (green: SLO held, red: broke)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)

    return _png(draw)
