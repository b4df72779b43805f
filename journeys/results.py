"""Attempts merged into one verdict per journey, written as ``journeys.json`` and JUnit XML.

A journey that failed and then passed on a retry is **flaky**, never passed: journeys.json says so, and the JUnit
testcase carries a ``flakyFailure`` element (the Maven Surefire convention CI servers understand) plus an
``outcome`` property. Steps and page loads of every attempt are kept, each tagged with its attempt.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore.files import write_json_atomic

JOURNEYS_FILE = "journeys.json"
JUNIT_FILE = "junit.xml"
FORMAT = "rxsuite-journeys/1"
OUTCOMES = ("passed", "flaky", "failed", "skipped")


@dataclass
class JourneyResult:
    nodeid: str
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        for attempt in self.attempts:
            if attempt.get("journey"):
                return attempt["journey"]
        return self.nodeid.rsplit("::", 1)[-1].removeprefix("test_").replace("_", "-")

    @property
    def tags(self) -> list[str]:
        return next((a["tags"] for a in self.attempts if a.get("tags")), [])

    @property
    def outcome(self) -> str:
        outcomes = [a["outcome"] for a in self.attempts]
        if not outcomes or outcomes[-1] == "skipped":
            return "skipped"
        if outcomes[-1] == "passed":
            return "flaky" if "failed" in outcomes else "passed"
        return "failed"


def merge(attempts: list[dict[str, Any]]) -> list[JourneyResult]:
    """Results of attempt files in order (first run, then retries of what failed), one entry per journey."""
    by_node: dict[str, JourneyResult] = {}
    for number, attempt in enumerate(attempts, start=1):
        for test in attempt.get("tests", []):
            result = by_node.setdefault(test["nodeid"], JourneyResult(test["nodeid"]))
            result.attempts.append({**test, "attempt": number})
    return list(by_node.values())


def failed_nodeids(results: list[JourneyResult]) -> list[str]:
    return [r.nodeid for r in results if r.outcome == "failed"]


def summary(results: list[JourneyResult]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        counts[result.outcome] += 1
    return counts


def journeys_document(results: list[JourneyResult], run_dir: Path, **header: Any) -> dict[str, Any]:
    """The ``journeys.json`` content: verdicts, then the step and page-load samples the SLO evaluator reads."""
    journeys, steps, page_loads = [], [], []
    for result in results:
        attempts = []
        for attempt in result.attempts:
            number = attempt["attempt"]
            steps += [{**step, "attempt": number} for step in attempt.get("steps", [])]
            page_loads += [{**load, "attempt": number} for load in attempt.get("page_loads", [])]
            attempts.append({
                "attempt": number,
                "outcome": attempt["outcome"],
                "duration_s": attempt.get("duration_s"),
                "error": attempt.get("error"),
                "failed_in": attempt.get("failed_in"),
                "failed_step": attempt.get("failed_step"),
                "console_errors": attempt.get("console_errors", []),
                "artifacts": [_relative(path, run_dir) for path in attempt.get("artifacts", [])],
            })
        journeys.append({"journey": result.name, "test": result.nodeid, "tags": result.tags,
                         "outcome": result.outcome, "attempts": attempts})
    return {"format": FORMAT, **header, "summary": summary(results), "journeys": journeys, "steps": steps,
            "page_loads": page_loads}


def write_journeys_json(document: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / JOURNEYS_FILE
    write_json_atomic(path, document)
    return path


def write_junit(document: dict[str, Any], run_dir: Path, suite_name: str) -> Path:
    """JUnit XML with one testcase per journey; a flaky one passes but keeps its failed attempt's message."""
    journeys = document["journeys"]
    counts = document["summary"]
    total_time = sum(a.get("duration_s") or 0.0 for j in journeys for a in j["attempts"])
    suites = ET.Element("testsuites", name="rxsuite journeys", tests=str(len(journeys)),
                        failures=str(counts["failed"]), errors="0", skipped=str(counts["skipped"]),
                        time=f"{total_time:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(journeys)),
                          failures=str(counts["failed"]), errors="0", skipped=str(counts["skipped"]),
                          time=f"{total_time:.3f}", timestamp=str(document.get("started_at", "")))
    for journey in journeys:
        attempts = journey["attempts"]
        module, _, test = journey["test"].rpartition("::")
        case = ET.SubElement(suite, "testcase", classname=module.removesuffix(".py").replace("/", "."), name=test,
                             time=f"{attempts[-1].get('duration_s') or 0.0:.3f}")
        properties = ET.SubElement(case, "properties")
        for name, value in (("outcome", journey["outcome"]), ("attempts", str(len(attempts))),
                            ("tags", ",".join(journey["tags"]))):
            ET.SubElement(properties, "property", name=name, value=value)
        failed = [a for a in attempts if a["outcome"] == "failed"]
        if journey["outcome"] == "failed":
            _failure(case, "failure", failed[-1])
        elif journey["outcome"] == "flaky":
            for attempt in failed:
                _failure(case, "flakyFailure", attempt)
        elif journey["outcome"] == "skipped":
            ET.SubElement(case, "skipped", message=attempts[-1].get("error") or "skipped")
        artifacts = [path for a in attempts for path in a["artifacts"]]
        if artifacts:
            # Jenkins / GitLab attachment convention: one [[ATTACHMENT|path]] line per file
            ET.SubElement(case, "system-out").text = "\n".join(f"[[ATTACHMENT|{path}]]" for path in artifacts)
    tree = ET.ElementTree(suites)
    ET.indent(tree)
    path = run_dir / JUNIT_FILE
    temporary = path.with_name(f".{path.name}.tmp")
    tree.write(temporary, encoding="utf-8", xml_declaration=True)
    temporary.replace(path)
    return path


def _failure(case: ET.Element, tag: str, attempt: dict[str, Any]) -> None:
    message = (attempt.get("error") or "failed").strip()
    if attempt.get("failed_step"):
        message = f"step {attempt['failed_step']!r}: {message}"
    element = ET.SubElement(case, tag, message=message.splitlines()[0][:500] if message else "failed",
                            type="JourneyFailure")
    lines = [message, f"attempt {attempt['attempt']}, failed in {attempt.get('failed_in') or 'call'}"]
    lines += [f"artifact: {path}" for path in attempt["artifacts"]]
    lines += [f"console error: {line}" for line in attempt.get("console_errors", [])]
    element.text = "\n".join(lines)


def _relative(path: str, run_dir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return path
