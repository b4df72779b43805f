"""How the report writes numbers and names: report.html, summary.md and the summary's sentences share these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape


def format_value(value: Any, unit: str | None) -> str:
    """A measured value in its unit: ratios as percentages, seconds as ms below one second."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.3%}" if value < 1 else "100%"
    if unit == "s" and value == 0:
        return "0 s"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"
    if unit == "points":
        return f"{value:g}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def whole_words(text: Any) -> Markup:
    """Names as words a line never breaks inside (`db-primary-loss`, `/rest/v1/x`): a printed name stays whole and
    findable; a line still breaks between the words of a name. Phones may break them (CSS)."""
    return Markup(" ").join(Markup('<span class="w">{}</span>').format(word) if ("-" in word or "/" in word)
                            else escape(word) for word in str(text).split(" "))


def format_figure(value: Any, unit: str | None) -> str:
    """A summary figure (reports.summary): counts with thousands separators, budgets as "80% left", shares
    (the confidence) as whole percentages, times as UTC dates."""
    if unit == "budget":
        return "–" if value is None else f"none left ({1 - value:.1f}× spent)" if value < 0 else f"{pct(value)} left"
    if unit == "share":
        return pct(value)
    if unit in (None, "rate"):
        return num(value)
    if unit == "time":
        return "–" if value is None else f"{datetime.fromtimestamp(value, UTC):%d %b %Y %H:%M:%S} UTC"
    return format_value(value, unit)


def budget_left(share: Any) -> str:
    """Share of the error budget left; an overspent budget says by how much rather than a large negative."""
    if share is not None and share < 0:
        return f"none ({1 - share:.1f}× spent)"
    return pct(share)


def pct(value: Any) -> str:
    return "–" if value is None else f"{value:.0%}" if abs(value) >= 0.01 or value == 0 else f"{value:.2%}"


def signed_pct(value: Any) -> str:
    return "–" if value is None else f"{value:+.1%}"


def ms(value: Any) -> str:
    return "–" if value is None else f"{value * 1000:,.1f}"


def num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


__all__ = ["budget_left", "format_figure", "format_value", "ms", "num", "pct", "signed_pct", "whole_words"]
