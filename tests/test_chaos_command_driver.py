"""The command driver's templates and restore action: names resolved from the environment file, placeholders filled,
the restore tool's ledger line checked against the probes' writes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from chaos.context import DrillContext
from chaos.drivers.command import CommandDriver
from chaos.probes import Sample
from rxcore.errors import RxError

_TARGET = 1000.0


class _Writes:
    """The prober as the restore reads it: three ledger writes around the target."""

    def samples(self, kind: str | None = None) -> list[Sample]:
        return [Sample("write", 1, 998.0, 998.1, True, 201, None), Sample("write", 2, 999.0, 999.1, True, 201, None),
                Sample("write", 3, 1001.0, 1001.1, True, 201, None)]


def _context() -> DrillContext:
    return DrillContext("run-7", _Writes(), threading.Event(), marks={"target": _TARGET})  # type: ignore[arg-type]


def _printing(line: str) -> list[str]:
    return [sys.executable, "-c", f"print({line!r})"]


def test_a_template_is_filled_from_params_and_the_run_id(tmp_path: Path) -> None:
    out = tmp_path / "out"
    driver = CommandDriver((), {"touch": ["/usr/bin/touch", f"{out}-{{region}}-{{run_id}}"]})
    detail = driver.run("run", {"template": "touch", "params": {"region": "eu"}}, _context())
    assert detail["argv"] == ["/usr/bin/touch", f"{out}-eu-run-7"]
    assert (tmp_path / "out-eu-run-7").is_file()


def test_a_missing_placeholder_is_named() -> None:
    driver = CommandDriver((), {"down": ["/bin/true", "{region}"]})
    with pytest.raises(RxError, match=r"needs \{region\}: add region to the step's params"):
        driver.run("run", {"template": "down"}, _context())


def test_an_argv_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(RxError, match=r"not in the environment's chaos\.command\.allow"):
        CommandDriver(("/usr/bin/vercel",), {}).run("run", {"argv": ["/bin/true"]}, _context())


def test_restore_checks_the_tools_ledger_line_against_the_writes() -> None:
    context = _context()
    driver = CommandDriver((), {"restore": [*_printing('{"ledger_seqs": [1, 3]}'), "{target_unix}"]})
    detail = driver.run("restore", {"template": "restore", "mark": "target"}, context)
    assert detail["argv"][-1] == "1000.000000"
    assert (detail["missing_before_target"], detail["present_after_target"]) == ([2], [3])
    assert (context.metrics["restore_missing_before_target"], context.metrics["restore_present_after_target"]) == (1, 1)


def test_restore_refuses_output_without_the_ledger_line() -> None:
    driver = CommandDriver((), {"restore": _printing("restored")})
    with pytest.raises(RxError, match=r"last line of its output is not"):
        driver.run("restore", {"template": "restore", "mark": "target"}, _context())
