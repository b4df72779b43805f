"""Every class of bad input from issue 19 is refused with one line naming file, line, field and fix (exit 2);
each case here was a traceback, a hang or a silent acceptance before."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from rxcore import validation
from rxcore.environment import load_environment
from rxcore.errors import ConfigError, RxError
from rxcore.files import write_json_atomic
from rxcore.yamlfile import MAX_DEPTH, read_yaml
from rxsuite.cli import main

_ENV = """\
name: t
kind: staging
base_url: https://rx.example
allowed_jobs: [load]
caps: {max_users: 10, max_rate: 5}
"""


def _file(tmp_path: Path, text: str | bytes, name: str = "env.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return path


def _env_refusal(tmp_path: Path, text: str | bytes) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_environment(str(_file(tmp_path, text)))
    return caught.value


# --- YAML itself ------------------------------------------------------------------------------------------------

def test_an_alias_is_refused_with_its_line(tmp_path: Path) -> None:
    error = _env_refusal(tmp_path, _ENV + "users: &u {patient: {weight: 1}}\njourneys: *u\n")
    assert error.line == 6
    assert "anchors and aliases" in str(error)


def test_an_exponential_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    with pytest.raises(ConfigError, match="anchors and aliases"):
        read_yaml(_file(tmp_path, "\n".join(lines) + "\n"))


def test_a_self_referencing_alias_does_not_hang(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="anchors and aliases"):
        read_yaml(_file(tmp_path, "a: &a [*a]\n"))


def test_a_non_utf8_file_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    error = _env_refusal(tmp_path, _ENV.encode() + b"name: caf\xe9\n")
    assert (error.line, error.field) == (6, "(file)")
    assert "byte 0xe9 is not UTF-8 (save the file as UTF-8)" in str(error)


def test_nesting_beyond_the_bound_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_yaml(_file(tmp_path, "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"))


def test_an_integer_of_thousands_of_digits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        read_yaml(_file(tmp_path, "a: " + "9" * 5000 + "\n"))


# --- environment files ------------------------------------------------------------------------------------------

def test_the_shipped_environment_still_loads() -> None:
    assert load_environment("sandbox").kind == "sandbox"


def test_an_environment_without_kind_is_refused(tmp_path: Path) -> None:
    error = _env_refusal(tmp_path, _ENV.replace("kind: staging\n", ""))
    assert error.field == "kind"
    assert "there is no default" in str(error)


@pytest.mark.parametrize(("text", "field", "line"), [
    ("caps: [1, 2]", "caps", 5),
    ("caps: {max_users: '10'}", "caps.max_users", 5),
    ("caps: {max_users: -3}", "caps.max_users", 5),
    ("caps: {max_rate: .inf}", "caps.max_rate", 5),
    ("caps: {max_rate: .nan}", "caps.max_rate", 5),
    ("caps: {max_rate: -1.5}", "caps.max_rate", 5),
    ("caps: {max_users: 10}\nusers: {patient: {wait: [-1, 3]}}", "users.patient.wait[0]", 6),
    ("caps: {max_users: 10}\nusers: {patient: {wait: [1, .inf]}}", "users.patient.wait[1]", 6),
    ("caps: {max_users: 10}\nusers: {patient: {wait: [3, 1]}}", "users.patient.wait", 6),
])
def test_an_environment_value_of_the_wrong_type_or_range_names_field_and_line(tmp_path: Path, text: str, field: str,
                                                                               line: int) -> None:
    error = _env_refusal(tmp_path, _ENV.replace("caps: {max_users: 10, max_rate: 5}", text))
    assert (error.field, error.line) == (field, line)


@pytest.mark.parametrize("value", [".nan", ".inf", "1" + "0" * 400])
def test_a_non_finite_sandbox_setting_is_refused(tmp_path: Path, value: str) -> None:
    error = _env_refusal(tmp_path, "kind: sandbox\nbase_url: http://127.0.0.1:1\n"
                                   f"sandbox:\n  failover:\n    check_interval_s: {value}\n")
    assert (error.field, error.line) == ("sandbox.failover.check_interval_s", None)


def test_a_list_where_one_kind_is_expected_is_refused(tmp_path: Path) -> None:
    error = _env_refusal(tmp_path, _ENV.replace("kind: staging", "kind: [staging, production]"))
    assert (error.field, error.line) == ("kind", 2)


# --- values -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "0", "-5", "1e400", "many"])
def test_a_rate_that_is_not_a_positive_finite_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        validation.rate(text)


def test_a_duration_of_hundreds_of_digits_is_refused_never_infinite() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        validation.parse_duration("1" * 300 + "s")


def test_a_zero_request_timeout_is_refused() -> None:
    with pytest.raises(RxError, match=r"^--request-timeout: '0s' must be longer than 0 s"):
        validation.option("--request-timeout", validation.duration, "0s")


def test_an_unknown_tag_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"^redd: no task has this tag; use one or more of read, write"):
        validation.tags("read,redd", {"read", "write"})


@pytest.mark.parametrize("text", ["0000", "0000-Q1", "9999", "2026-Q5", "26"])
def test_an_impossible_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        validation.period(text)


def test_finite_refuses_huge_integers_without_overflowing() -> None:
    with pytest.raises(ValueError, match="too large"):
        validation.finite(10 ** 400)


# --- the command line: one line, exit 2 -------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["load", "--rate", "nan"],
    ["load", "--rate", "inf"],
    ["load", "--duration", "9" * 400 + "s"],
    ["load", "--request-timeout", "0s"],
    ["load", "--tags", "no-such-tag"],
    ["load", "--users", "-4"],
    ["report", "--period", "0000"],
    ["run", "--duration", "0s"],
])
def test_a_bad_cli_value_is_one_line_and_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    code = main([*argv, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert argv[1] in err


# --- JSON never carries NaN or infinities -----------------------------------------------------------------------

def test_the_atomic_writer_refuses_non_finite_numbers_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_json_atomic(path, {"rto_s": 1.5})
    with pytest.raises(ValueError, match=r"run\.json: not written"):
        write_json_atomic(path, {"rto_s": math.inf})
    assert json.loads(path.read_text()) == {"rto_s": 1.5}
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("seconds", ["-5", ".nan", ".inf"])
def test_a_negative_or_non_finite_wait_in_a_scenario_is_refused(tmp_path: Path, seconds: str) -> None:
    from chaos.scenario import load_scenario

    path = _file(tmp_path, f"""\
        method: [{{driver: drill, action: wait, args: {{seconds: {seconds}}}}}]
        objectives: [{{metric: failed_requests, op: '<=', target: 0}}]
        """, "scenario.yaml")
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(path))
    assert caught.value.field == "method[0].args.seconds"
