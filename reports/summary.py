"""The summary page in plain words: what was tested, the answer (release, do not release, not enough evidence yet)
and why in one sentence, the three most important findings, the error budget left, and the trend.

Every number is a figure: `{"value", "unit", "from"}`, where `from` is the JSON path of the number in slo.json or
report.json (`["slo.json", "objectives", {"name": "availability"}, "measured"]`). The HTML prints it in a `<data>`
element carrying that path, so a test (and a sceptical reader of report.json) can check each number at its source.
Sentences are lists of parts: text, or a figure.
"""

from __future__ import annotations

from typing import Any

from reports import bands
from reports.formats import format_figure

RELEASE, DO_NOT_RELEASE, NOT_ENOUGH = "release", "do-not-release", "not-enough-evidence"
ANSWER_WORDS = {RELEASE: "Release", DO_NOT_RELEASE: "Do not release", NOT_ENOUGH: "Not enough evidence yet"}
FINDINGS = 3
_OP_WORDS = {">=": "at least", ">": "over", "<=": "at most", "<": "under"}
_BAD, _WARN, _GOOD = "bad", "warn", "good"
_HEADLINE_KINDS = ("availability", "latency")  # what held, first: the service's own figures

Part = str | dict[str, Any]


def figure(value: Any, unit: str | None, *path: Any) -> dict[str, Any]:
    """A number with its unit and where it comes from (first element: "slo.json" or "report.json")."""
    return {"value": value, "unit": unit, "from": list(path)}


def summarise(data: dict[str, Any]) -> dict[str, Any]:
    """The summary section of report.json, from the rest of it (data: everything but "summary")."""
    answer, why = _answer(data)
    return {"tested": _tested(data), "answer": answer, "answer_words": ANSWER_WORDS[answer], "why": why,
            "held": _held(data) if data["kind"] == "period" else [],
            "why_text": text(why), "findings": [{"tone": tone, "parts": parts, "text": text(parts)}
                                                for tone, parts in _findings(data)[:FINDINGS]],
            "budget": _budget(data), "trend": _trend(data)}


def text(parts: list[Part]) -> str:
    """A sentence as plain text (report.json, summary.md); numbers as report.html prints them."""
    return "".join(p if isinstance(p, str) else p["name"] if "name" in p else format_figure(p["value"], p["unit"])
                   for p in parts)


def _objective(o: dict[str, Any], key: str) -> dict[str, Any]:
    return figure(o[key], o["unit"], "slo.json", "objectives", {"name": o["name"]}, key)


def _tested(data: dict[str, Any]) -> dict[str, Any]:
    load, journeys, drill = data["load"], data["journeys"], data["drill"]
    return {
        "environment": ", ".join(data["environment"]["names"]) or "an unnamed environment",
        "when": None if data["slo"]["start"] is None else [
            figure(data["slo"]["start"], "time", "slo.json", "start"), " to ",
            figure(data["slo"]["end"], "time", "slo.json", "end")],
        "counted": _counted(data) if load is None else None,
        "load": None if load is None else [
            figure(load["requests"], None, "report.json", "load", "requests"), " requests in ",
            figure(load["duration_s"], "s", "report.json", "load", "duration_s"), " (",
            figure(load["mean_rps"], "rate", "report.json", "load", "mean_rps"), " a second on average)"],
        "journeys": None if journeys is None else list(dict.fromkeys(j["name"] for j in journeys["journeys"])),
        "drills": None if drill is None else [s["scenario"] for s in drill["scenarios"]],
    }


def _counted(data: dict[str, Any]) -> list[Part] | None:
    """Traffic as another source counted it (a period's Prometheus or monitor record), when no load run recorded
    any: the valid requests (or checks) of the first overall availability objective."""
    row = next((o for o in data["slo"]["objectives"] if o["kind"] == "availability" and o["request"] is None
                and o["source"] and o["source"]["type"] != "run folders" and o["samples"]), None)
    if row is None:
        return None
    monitor = row["source"]["type"] == "monitor"
    counter = _name("the synthetic monitor" if monitor else str(row["source"]["type"]).capitalize())
    counted = " checks run by " if monitor else " valid requests counted by "
    return [_objective(row, "samples") | {"unit": None}, counted, counter, " for ", _label(row)]


def _answer(data: dict[str, Any]) -> tuple[str, list[Part]]:
    verdict = data["verdict"]
    if verdict["verdict"] == "invalid":
        reasons = "; ".join((verdict.get("validity") or {}).get("reasons") or ["the generator could not keep up"])
        return NOT_ENOUGH, ["The measurement itself cannot be trusted (", _name(reasons),
                            "), so it shows neither a pass nor a fail: run it again on a generator with headroom."]
    failed = _applicable(data, "fail")
    if failed:
        return DO_NOT_RELEASE, [figure(verdict["counts"]["fail"], None, "report.json", "verdict", "counts", "fail"),
                                " service level objective(s) not met, first of all ", _label(failed[0]), "."]
    journeys = [j for j in (data["journeys"] or {}).get("journeys", []) if j["status"] == "failed"]
    if journeys:
        return DO_NOT_RELEASE, [figure(data["journeys"]["failed"], None, "report.json", "journeys", "failed"),
                                " user journey(s) failed, first of all ", _name(journeys[0]["name"]),
                                ": ", _name(journeys[0]["error"] or "no error recorded"), "."]
    drills = [s for s in (data["drill"] or {}).get("scenarios", []) if s["verdict"] == "fail" and not s["as_expected"]]
    if drills:
        return DO_NOT_RELEASE, ["The disaster-recovery drill ", _name(drills[0]["scenario"]),
                                " failed its scorecard."]
    confidence = figure(data["slo"]["confidence"], "share", "slo.json", "confidence")
    unsure = _applicable(data, "insufficient-data")
    headline = [o for o in data["slo"]["objectives"] if o["name"] in verdict["headline_objectives"]]
    if verdict["release_verdict"] != "pass":  # slo.evaluate.Evaluation.release_verdict, as `rxsuite run` decides
        first = next((o for o in unsure if o in headline), unsure[0] if unsure else None)
        if first is None:
            return NOT_ENOUGH, ["Nothing in this report could be judged against an objective."]
        return NOT_ENOUGH, ["Nothing failed, but ", figure(len(unsure), None, "report.json", "verdict", "counts",
                                                           "insufficient-data"),
                            " objective(s) had too few samples to be shown at ", confidence,
                            " confidence, first of all ", _label(first), "."]
    names: list[Part] = []
    for i, o in enumerate(headline):
        names += ([" and "] if i == len(headline) - 1 and i else [", "] if i else []) + [_label(o)]
    return RELEASE, ["The promises a release rests on (", *names, ") were met at ", confidence, " confidence",
                     *([", and every journey passed"] if data["journeys"] else []),
                     *([", and the drill recovered as designed"] if data["drill"] else []),
                     *(["; other objectives could not be shown yet (below)"] if unsure else []), "."]


_HELD_WORDS = {"pass": "held", "fail": "not held", "insufficient-data": "not shown either way yet"}


def _held(data: dict[str, Any]) -> list[list[Part]]:
    """A period's answer to "did we hold them?": each headline objective, held or not, with its measured value, its
    confidence interval, its target and the source of its numbers (Prometheus query and window, or run folders)."""
    out = []
    confidence = figure(data["slo"]["confidence"], "share", "slo.json", "confidence")
    for o in data["slo"]["objectives"]:
        if o["name"] not in data["verdict"]["headline_objectives"] or o["verdict"] == "not-applicable":
            continue
        parts: list[Part] = [_label(o), f": {_HELD_WORDS.get(o['verdict'], o['verdict'])}"]
        if o["measured"] is not None:
            within = o["kind"] == "latency" and o["unit"] == "ratio"  # from a histogram: the share within the bound
            parts += [", requests within the threshold " if within else ", measured ", _objective(o, "measured")]
            ci = o["ci"] or {}
            if ci.get("lower") is not None and ci.get("upper") is not None:
                path = ("slo.json", "objectives", {"name": o["name"]}, "ci")
                parts += [" (between ", figure(ci["lower"], o["unit"], *path, "lower"), " and ",
                          figure(ci["upper"], o["unit"], *path, "upper"), " at ", confidence, " confidence)"]
        parts += [", target ", _name(o["objective"])]
        bracket = o["bucket_bounds"]
        if bracket:
            where = ("slo.json", "objectives", {"name": o["name"]}, "details", bracket["field"])
            parts += ["; the ", _name(bracket["percentile"]), " lies between the bucket boundaries ",
                      figure(bracket["bounds_s"][0], "s", *where, 0), " and ",
                      figure(bracket["bounds_s"][1], "s", *where, 1)]
        if o["source_text"]:
            parts += ["; from ", _name(o["source_text"])]
        out.append([*parts, "."])
    return out


def _findings(data: dict[str, Any]) -> list[tuple[str, list[Part]]]:
    """Every finding worth a line, most important first: failures, then doubts, then what held."""
    found: list[tuple[str, list[Part]]] = []
    rows = data["slo"]["objectives"]
    overall = [o for o in rows if o["request"] is None and o["verdict"] != "not-applicable"]
    for o in overall:
        if o["verdict"] == "fail":
            found.append((_BAD, _measured(o)))
    for group in data["slo"]["groups"]:
        if group["failed"]:
            worst = next(o for o in rows if o["name"] == group["worst"])
            found.append((_BAD, [figure(group["failed"], None, "report.json", "slo", "groups",
                                        {"name": group["name"]}, "failed"), " of ",
                                 figure(group["requests"], None, "report.json", "slo", "groups",
                                        {"name": group["name"]}, "requests"),
                                 " requests missed ", _name(group["name"]), "; the worst, ", _label(worst), ", ",
                                 *_measured(worst, named=False)]))
    for j in (data["journeys"] or {}).get("journeys", []):
        if j["status"] == "failed":
            error = _name(j["error"] or "no error recorded")
            found.append((_BAD, ["Journey ", _name(j["name"]), " failed: ", error, "."]))
    for s in (data["drill"] or {}).get("scenarios", []):
        if s["verdict"] == "fail" and not s["as_expected"]:
            found.append((_BAD, _drill(s, "failed its scorecard")))
    for row in (data["baseline"] or {}).get("regressions", [])[:1]:
        found.append((_BAD, _regression(data, row)))
    unsure = [o for o in overall if o["verdict"] == "insufficient-data"]
    if unsure:  # the first stands for them all: the answer's sentence already counts them
        found.append((_WARN, [_label(unsure[0]), " cannot be judged yet: ",
                              figure(unsure[0]["samples"], None, "slo.json", "objectives", {"name": unsure[0]["name"]},
                                     "samples"), " samples were too few."]))
    for o in overall:
        if o["band"] == bands.AT_RISK and o["budget_remaining_share"] is not None:
            found.append((_WARN, [_label(o), " is at risk: its error budget has ", _budget_figure(o), "."]))
    held = [o for o in overall if o["verdict"] == "pass" and o["band"] != bands.AT_RISK]
    for o in held:
        if o["kind"] in _HEADLINE_KINDS:
            found.append((_GOOD, _measured(o)))
    for s in (data["drill"] or {}).get("scenarios", []):
        if s["verdict"] == "pass" or s["as_expected"]:
            found.append((_GOOD, _drill(s, "passed" if s["verdict"] == "pass" else "failed, as designed")))
    journeys = data["journeys"]
    if journeys and not journeys["failed"]:
        found.append((_GOOD, [figure(journeys["passed"], None, "report.json", "journeys", "passed"),
                              " user journey run(s) passed."]))
    for o in held:
        if o["kind"] not in _HEADLINE_KINDS:
            found.append((_GOOD, _measured(o)))
    order = {_BAD: 0, _WARN: 1, _GOOD: 2}
    return sorted(found, key=lambda item: order[item[0]])


def _measured(o: dict[str, Any], named: bool = True) -> list[Part]:
    op = next((w for sign, w in _OP_WORDS.items() if (o["objective"] or "").lstrip("p0123456789. ").startswith(sign)),
              "against")
    if o["unit"] == "ratio":  # a share of good events (or slices): its target is always a least share
        op = _OP_WORDS[">="]
    head: list[Part] = [_label(o), ": "] if named else []
    return [*head, "measured ", _objective(o, "measured"), f", target {op} ", _objective(o, "target"), "."]


def _drill(s: dict[str, Any], outcome: str) -> list[Part]:
    path = ("report.json", "drill", "scenarios", {"scenario": s["scenario"]})
    parts: list[Part] = ["Drill ", _name(s["scenario"]), f" {outcome}"]
    if s["rto_s"] is not None:
        parts += ": recovered in ", figure(s["rto_s"], "s", *path, "rto_s")
    if s["rpo_count"] is not None:
        parts += [", " if s["rto_s"] is not None else ": ", figure(s["rpo_count"], None, *path, "rpo_count"),
                  " acknowledged write(s) lost"]
    return [*parts, "."]


def _regression(data: dict[str, Any], row: dict[str, Any]) -> list[Part]:
    path = ("report.json", "baseline", "regressions", {"what": row["what"]})
    return [_name(row["what"]), " regressed against the baseline: ", figure(row["baseline"], row["unit"], *path,
                                                                            "baseline"),
            " then, ", figure(row["current"], row["unit"], *path, "current"), " now."]


def _budget(data: dict[str, Any]) -> list[list[Part]]:
    """Error budget left of the report's overall objectives that have one."""
    return [[_label(o), ": ", _budget_figure(o)] for o in data["slo"]["objectives"]
            if o["request"] is None and o["budget_remaining_share"] is not None and o["verdict"] != "not-applicable"]


def _budget_figure(o: dict[str, Any]) -> dict[str, Any]:
    return figure(o["budget_remaining_share"], "budget", "report.json", "slo", "objectives", {"name": o["name"]},
                  "budget_remaining_share")


def _trend(data: dict[str, Any]) -> list[Part]:
    """Against the baseline, else the last comparable run; and the drill score against the quarter before."""
    parts = _against_run(data)
    quarters = (data["drill_trend"] or {}).get("quarters", [])
    if len(quarters) >= 2:
        last, before = quarters[-1], quarters[-2]
        parts += [" " if parts else "", "Mean drill score ", _quarter_score(last, len(quarters) - 1), " in ",
                  _name(last["quarter"]), ", against ", _quarter_score(before, len(quarters) - 2), " in ",
                  _name(before["quarter"]), "."]
    elif quarters:
        parts += [" " if parts else "", "Mean drill score ", _quarter_score(quarters[0], 0), " in ",
                  _name(quarters[0]["quarter"]), ", the first quarter with a drill."]
    return parts or ["No earlier run to compare with: give one with --baseline."]


def _against_run(data: dict[str, Any]) -> list[Part]:
    baseline, previous = data["baseline"], data["previous_run"]
    if baseline is not None:
        count = figure(baseline["regression_count"], None, "report.json", "baseline", "regression_count")
        return ["Against the baseline run ", _name(baseline["baseline"]), ": ", count, " regression(s) beyond noise."]
    if previous is None:
        return []
    parts: list[Part] = ["Against the last comparable run, ", _name(previous["folder"]), ": "]
    now = {o["name"]: o for o in data["slo"]["objectives"] if o["request"] is None}
    compared = [o for o in previous["objectives"] if o["kind"] in _HEADLINE_KINDS and o["measured"] is not None
                and (now.get(o["name"]) or {}).get("measured") is not None]
    if not compared:
        return [*parts, "nothing measured in both to compare."]
    for i, before in enumerate(compared):
        parts += ["; " if i else "", _label(now[before["name"]]), " ",
                  figure(before["measured"], before["unit"], "report.json", "previous_run", "objectives",
                         {"name": before["name"]}, "measured"), " then, ", _objective(now[before["name"]], "measured"),
                  " now"]
    return [*parts, "."]


def _quarter_score(quarter: dict[str, Any], index: int) -> dict[str, Any]:
    return figure(quarter["mean_score"], "points", "report.json", "drill_trend", "quarters", index, "mean_score")


def _applicable(data: dict[str, Any], verdict: str) -> list[dict[str, Any]]:
    """Objectives with this verdict, the overall ones before the per-request ones."""
    rows = [o for o in data["slo"]["objectives"] if o["verdict"] == verdict]
    return sorted(rows, key=lambda o: o["request"] is not None)


def _label(o: dict[str, Any]) -> dict[str, Any]:
    return {"name": o["label"], "full": o["name"]}


def _name(name: Any) -> dict[str, Any]:
    return {"name": str(name), "full": str(name)}


__all__ = ["ANSWER_WORDS", "DO_NOT_RELEASE", "NOT_ENOUGH", "RELEASE", "figure", "summarise", "text"]
