"""One call from run folders to report files: the entry point `rxsuite report` and `rxsuite run` share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reports.model import build
from reports.render import HTML_FILE, write_report
from reports.sources import Sources
from rxcore.redact import Scrubber
from slo.evaluate import SLO_FILE
from slo.spec import Spec, load_spec


@dataclass
class Result:
    files: dict[str, Path]
    verdict: str
    exit_code: int
    regressions: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def html(self) -> Path:
        return self.files[HTML_FILE]


def generate(sources: Sources, spec_path: Path | None = None, baseline: Sources | None = None,
             runs_root: Path | None = None, pdf: bool = True, known_secrets: Iterable[str] = (),
             title: str | None = None, paper: str = "A4") -> Result:
    """Evaluate, build and write report.json, summary.md, report.html (and report.pdf through Chromium, on `paper`:
    A4 or Letter). `title` replaces the default (environment, jobs, date)."""
    spec = _spec(sources, spec_path)
    report = build(sources, spec, runs_root=runs_root, baseline=baseline, title=title)
    files = write_report(report, sources.output_dir, Scrubber(known_secrets))
    verdict = report.data["verdict"]
    result = Result(files, verdict["verdict"], verdict["exit_code"],
                    None if report.data["baseline"] is None else len(report.data["baseline"]["regressions"]))
    if pdf:
        from reports.browser import BrowserMissing, write_pdf

        try:
            result.files["report.pdf"] = write_pdf(result.html, paper=paper)
        except BrowserMissing as exc:
            result.notes.append(f"no PDF: {exc}")
    return result


def _spec(sources: Sources, spec_path: Path | None) -> Spec:
    """--spec, else the spec the run's own slo.json was judged by (when that file still exists), else the default."""
    if spec_path is not None:
        return load_spec(spec_path)
    try:
        recorded = json.loads((sources.output_dir / SLO_FILE).read_text(encoding="utf-8"))["spec"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    return load_spec(Path(recorded) if recorded and Path(recorded).is_file() else None)
