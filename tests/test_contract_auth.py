"""Contract: GoTrue-shaped auth (password and refresh grants, current user, logout) and JWT checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.app_harness import api_headers, login, sign_in, users_by_role


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as http:
        yield http


def _token(grant: str, body: dict[str, str], client: httpx.Client, sandbox: Any) -> httpx.Response:
    return client.post("/auth/v1/token", params={"grant_type": grant}, json=body, headers={"apikey": sandbox.anon_key})


def test_password_grant_returns_a_gotrue_session(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[0]
    session = sign_in(client, sandbox.anon_key, user)
    assert session["token_type"] == "bearer"
    assert session["expires_in"] > 0
    assert session["refresh_token"]
    assert session["user"]["id"] == user["user_id"]
    assert session["user"]["email"] == user["email"]


def test_access_token_carries_the_documented_claims(client: httpx.Client, sandbox: Any) -> None:
    doctor = users_by_role(sandbox.credentials, "doctor")[0]
    token = sign_in(client, sandbox.anon_key, doctor)["access_token"]
    claims = jwt.decode(token, sandbox.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert (claims["sub"], claims["email"], claims["role"]) == (doctor["user_id"], doctor["email"], "authenticated")
    assert claims["app_metadata"]["rx_role"] == "doctor"
    assert claims["exp"] > claims["iat"]


def test_wrong_password_is_rejected_without_a_token(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[1]
    response = _token("password", {"email": user["email"], "password": "not-the-password"}, client, sandbox)
    assert response.status_code == 400
    assert "access_token" not in response.json()


def test_auth_without_apikey_is_401(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[1]
    response = client.post(
        "/auth/v1/token", params={"grant_type": "password"}, json={"email": user["email"], "password": user["password"]}
    )
    assert response.status_code == 401
    assert response.json()["message"]


def test_refresh_grant_rotates_the_refresh_token(client: httpx.Client, sandbox: Any) -> None:
    session = login(client, sandbox, "patient", 2).session
    first = _token("refresh_token", {"refresh_token": session["refresh_token"]}, client, sandbox)
    assert first.status_code == 200, first.text
    assert first.json()["refresh_token"] != session["refresh_token"]
    reused = _token("refresh_token", {"refresh_token": session["refresh_token"]}, client, sandbox)
    assert reused.status_code == 400


def test_current_user_matches_the_token(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 3)
    response = patient.get("/auth/v1/user")
    assert response.status_code == 200
    assert response.json()["id"] == patient.id
    assert response.json()["app_metadata"]["rx_role"] == "patient"


def test_logout_revokes_the_refresh_token(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 4)
    assert client.post("/auth/v1/logout", headers=patient.headers()).status_code == 204
    response = _token("refresh_token", {"refresh_token": patient.session["refresh_token"]}, client, sandbox)
    assert response.status_code == 400


def test_missing_token_is_401_on_user_endpoint(client: httpx.Client, sandbox: Any) -> None:
    response = client.get("/auth/v1/user", headers=api_headers(sandbox.anon_key))
    assert response.status_code == 401
    assert response.json()["code"]


def test_expired_token_is_401(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[5]
    now = int(time.time())
    claims = {"sub": user["user_id"], "email": user["email"], "role": "authenticated", "aud": "authenticated",
              "app_metadata": {"rx_role": "patient"}, "iat": now - 7200, "exp": now - 3600}
    token = jwt.encode(claims, sandbox.jwt_secret, algorithm="HS256")
    response = client.get("/rest/v1/prescriptions", headers=api_headers(sandbox.anon_key, token))
    assert response.status_code == 401
    assert "expired" in response.json()["message"].lower()


def test_tampered_token_is_401(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 6)
    victim = users_by_role(sandbox.credentials, "patient")[7]
    claims = jwt.decode(patient.token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": victim["user_id"]}, "not-the-secret-" + "x" * 32, algorithm="HS256")
    response = client.get("/rest/v1/prescriptions", headers=api_headers(sandbox.anon_key, forged))
    assert response.status_code == 401


def test_unsupported_grant_type_is_400(client: httpx.Client, sandbox: Any) -> None:
    response = _token("magic", {}, client, sandbox)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "unsupported_grant_type"}
