"""Show an evaluation: a rich table for people at a terminal, tab-separated lines for scripts."""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from slo.evaluate import Evaluation, ObjectiveResult

PLAIN_COLUMNS = ("objective", "verdict", "measured", "target", "ci_lower", "ci_upper", "samples", "needed", "more",
                 "budget_consumed_share", "reason")
_STYLE = {"pass": "green", "fail": "bold red", "insufficient-data": "yellow", "not-applicable": "dim",
          "invalid": "bold magenta"}


def render_plain(evaluation: Evaluation, out: IO[str]) -> None:
    """One header line, one line per objective, then `overall <verdict> <exit code>`; fields tab-separated."""
    out.write("\t".join(PLAIN_COLUMNS) + "\n")
    for o in evaluation.objectives:
        ci = o.ci or {}
        suff = o.sufficiency or {}
        budget = o.error_budget or {}
        fields = (o.name, o.verdict, _num(o.measured), _num(o.target), _num(ci.get("lower")), _num(ci.get("upper")),
                  str(o.samples), _num(suff.get("needed")), _num(suff.get("more")),
                  _num(budget.get("consumed_share")), o.reason.replace("\t", " "))
        out.write("\t".join(fields) + "\n")
    out.write(f"overall\t{evaluation.verdict}\t{evaluation.exit_code}\n")


def render_table(evaluation: Evaluation, console: Console) -> None:
    table = Table(title=f"SLO evaluation ({escape(evaluation.spec_name)}, confidence {evaluation.confidence:.0%})",
                  title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("objective", "left"), ("verdict", "left"), ("measured", "right"), ("target", "left"), ("bounds", "right"),
        ("samples", "right"), ("needed", "right"), ("budget used", "right"), ("burn 1h/5m", "right"))
    for header, justify in columns:
        table.add_column(header, justify=justify)
    for o in evaluation.objectives:
        samples = f"{o.samples:,}" if o.verdict != "not-applicable" else ""
        table.add_row(escape(o.name), f"[{_STYLE[o.verdict]}]{o.verdict}[/]", _shown(o, o.measured),
                      escape(o.objective), _bounds(o), samples, _needed(o), _budget(o), _burn(o))
    console.print(table)
    for o in evaluation.objectives:
        if o.verdict in ("insufficient-data", "not-applicable") and o.reason:
            console.print(f"[dim]{escape(o.name)}: {escape(o.reason)}[/]")
    for note in evaluation.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    for reason in evaluation.validity.reasons:
        console.print(f"[bold]measurement {escape(reason)}[/]")
    style = _STYLE.get(evaluation.verdict, "")
    console.print(f"overall: [{style}]{evaluation.verdict}[/] (exit code {evaluation.exit_code})")


def _shown(o: ObjectiveResult, value: float | None) -> str:
    if value is None:
        return "-" if o.verdict != "not-applicable" else ""
    if o.unit == "ratio":
        return f"{value:.4%}"
    if o.unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    return f"{value:.4g}"


def _bounds(o: ObjectiveResult) -> str:
    if not o.ci:
        return ""
    lower, upper = o.ci.get("lower"), o.ci.get("upper")
    if o.sufficiency and o.sufficiency.get("unit") == "slices":
        return f"[{_ratio(lower)}, {_ratio(upper)}] slices"
    return f"[{_shown(o, lower) if lower is not None else '-'}, {_shown(o, upper) if upper is not None else '-'}]"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.4%}"


def _needed(o: ObjectiveResult) -> str:
    s = o.sufficiency
    if not s or s.get("needed") is None:
        return ""
    more = s.get("more") or 0
    return f"{s['needed']:,}" + (f" (+{more:,})" if more else "")


def _budget(o: ObjectiveResult) -> str:
    share = (o.error_budget or {}).get("consumed_share")
    return "" if share is None else f"{share:.1%}"


def _burn(o: ObjectiveResult) -> str:
    for entry in o.burn_rates:
        if entry.get("evaluated"):
            long_rate, short_rate = entry.get("long_rate"), entry.get("short_rate")
            flag = " FIRED" if entry.get("fired") else ""
            return f"{_rate(long_rate)}/{_rate(short_rate)}{flag}"
    return ""


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
