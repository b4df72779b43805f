"""One prefix for environment variables: RXSUITE_ names, the old RX_ names still read for one release."""

from __future__ import annotations

import pytest

from rxcore import envvars


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envvars, "_warned", set())


def test_the_new_name_is_read_without_a_word(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"RXSUITE_LOAD_CONFIG": "/new.json", "RX_LOAD_CONFIG": "/old.json"}
    assert envvars.getenv(envvars.LOAD_CONFIG, environ=env) == "/new.json"
    assert capsys.readouterr().err == ""


def test_the_old_name_still_works_and_says_once_that_it_is_deprecated(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"RX_ANON_KEY": "k"}
    assert [envvars.getenv(envvars.ANON_KEY, environ=env) for _ in range(2)] == ["k", "k"]
    assert capsys.readouterr().err.splitlines() == [
        "rxsuite: environment variable RX_ANON_KEY is deprecated and stops working in the next release; "
        "rename it RXSUITE_ANON_KEY"]


def test_an_empty_value_counts_as_unset_and_the_default_answers() -> None:
    assert envvars.getenv(envvars.CREDENTIALS_CSV, "fallback", environ={"RXSUITE_CREDENTIALS_CSV": ""}) == "fallback"


def test_a_name_outside_the_prefix_has_no_old_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    assert envvars.getenv("STAGING_ANON_KEY", environ={"RX_STAGING_ANON_KEY": "k"}) is None
    assert envvars.old_name("STAGING_ANON_KEY") is None
    assert capsys.readouterr().err == ""
