"""The environment's `users:` section and the credentials pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from locustfiles.config import DEFAULT_USER_MODELS, LoadConfig, only_models, parse_user_models
from locustfiles.credentials import CredentialPool, PoolExhausted, read_credentials


def test_no_users_section_gives_the_default_mix() -> None:
    assert parse_user_models(None, "env.yaml") == DEFAULT_USER_MODELS


def test_users_section_overrides_weights_waits_and_task_weights() -> None:
    models = parse_user_models({"patient": {"weight": 3, "wait": [0.5, 1], "tasks": {"dashboard": 9}},
                                "realtime": {"weight": 0}}, "env.yaml")
    assert models["patient"]["weight"] == 3 and models["patient"]["wait"] == [0.5, 1]
    assert models["patient"]["tasks"] == {"dashboard": 9}
    assert models["realtime"]["weight"] == 0
    assert models["doctor"] == DEFAULT_USER_MODELS["doctor"]


@pytest.mark.parametrize(("raw", "message"), [
    ({"nurse": {"weight": 1}}, r"users\.nurse: unknown user model"),
    ({"patient": {"weight": -1}}, r"users\.patient\.weight"),
    ({"patient": {"wait": [3, 1]}}, r"users\.patient\.wait"),
    ({"patient": {"colour": "red"}}, r"users\.patient\.colour: unknown field"),
    ({"doctor": {"tasks": {"dance": 1}}}, r"users\.doctor\.tasks\.dance: no such task"),
    ({m: {"weight": 0} for m in DEFAULT_USER_MODELS}, "every weight is 0"),
    ({"doctor": {"tasks": {"review_queue": 0}}}, r"users\.doctor\.tasks: every task weight is 0"),
])
def test_bad_users_section_names_file_and_field(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_user_models(raw, "environments/x.yaml")
    assert str(info.value).startswith("environments/x.yaml: ")


def test_config_round_trips_through_json(tmp_path: Path) -> None:
    config = LoadConfig(base_url="http://127.0.0.1:1", mode="arrival", rate=12.5, tags=["read"])
    config.save(tmp_path / "c.json")
    assert LoadConfig.load(tmp_path / "c.json") == config


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "creds.csv"
    path.write_text("email,password,role,user_id\n" + "\n".join(rows) + "\n")
    return path


def test_a_login_is_held_by_one_user_until_released(tmp_path: Path) -> None:
    pool = CredentialPool(read_credentials(_csv(tmp_path, ["a@x,p,patient,1", "b@x,p,patient,2"])))
    first, second = pool.acquire("patient"), pool.acquire("patient")
    assert first.email != second.email
    with pytest.raises(PoolExhausted, match="all 2 patient logins"):
        pool.acquire("patient")
    pool.release(first)
    assert pool.acquire("patient") == first


def test_processes_split_the_file_without_overlap(tmp_path: Path) -> None:
    creds = read_credentials(_csv(tmp_path, [f"u{i}@x,p,doctor,{i}" for i in range(5)]))
    shares = [CredentialPool(creds, index, 2) for index in (0, 1)]
    taken = [[pool.acquire("doctor").email for _ in range(pool.size("doctor"))] for pool in shares]
    assert sorted(taken[0] + taken[1]) == sorted(c.email for c in creds)
    assert not set(taken[0]) & set(taken[1])


def test_credentials_file_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"creds\.csv:3: role 'admin'"):
        read_credentials(_csv(tmp_path, ["a@x,p,patient,1", "b@x,p,admin,2"]))


def test_only_models_runs_the_chosen_models_over_their_defaults_and_stops_the_rest() -> None:
    models = only_models(probe={"weight": 1, "path": "/health"})
    assert models["probe"] == {"weight": 1, "wait": [0.0, 0.0], "path": "/health"}
    assert all(settings["weight"] == 0 for name, settings in models.items() if name != "probe")
    assert DEFAULT_USER_MODELS["probe"]["weight"] == 0  # the defaults are copied, not changed
