"""Contract: /health, security headers on every kind of response, the pages, rate limiting, request stats."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app_harness import api_headers, login, users_by_role

SECURITY_HEADERS = ("content-security-policy", "strict-transport-security", "x-content-type-options",
                    "referrer-policy", "x-frame-options")
BURST_LIMIT = 400
# Rejected without touching the database, so the burst outruns the refill rate even on a busy machine.
CHEAP_PATH = "/rest/v1/medications?no_such_column=eq.1"


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as http:
        yield http


def _assert_security_headers(response: httpx.Response) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, f"{name} missing on {response.request.method} {response.request.url}"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_health_reports_region_version_and_database(client: httpx.Client, sandbox: Any) -> None:
    for region, url in sandbox.region_urls.items():
        body = httpx.get(f"{url}/health", timeout=5.0).json()
        assert (body["status"], body["region"]) == ("ok", region)
        assert body["version"]
        database = body["database"]
        assert database["reachable"] is True
        assert database["role"] == "primary"
        assert isinstance(database["port"], int)
        assert database["replication_lag_bytes"] is None or database["replication_lag_bytes"] >= 0
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "with_key"),
    [
        ("GET", "/health", False),
        ("GET", "/rest/v1/medications?limit=1", True),
        ("GET", "/rest/v1/medications?nope=eq.1", True),
        ("GET", "/rest/v1/prescriptions", False),
        ("GET", "/no/such/page", False),
        ("GET", "/metrics", False),
        ("GET", "/sign-in", False),
        ("GET", "/dashboard", False),
        ("POST", "/functions/v1/payment-webhook", False),
    ],
)
def test_security_headers_on_every_response(
    client: httpx.Client, sandbox: Any, method: str, path: str, with_key: bool
) -> None:
    headers = api_headers(sandbox.anon_key) if with_key else {}
    _assert_security_headers(client.request(method, path, headers=headers))


def test_root_redirects_to_sign_in_without_session(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"].endswith("/sign-in")


def test_sign_in_page_has_labelled_fields(client: httpx.Client) -> None:
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert '<label for="email">' in page.text and '<label for="password">' in page.text
    assert 'id="email"' in page.text and 'id="password"' in page.text


def test_dashboard_without_session_redirects_to_sign_in(client: httpx.Client) -> None:
    response = client.get("/dashboard")
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"].endswith("/sign-in")


def test_sign_in_sets_a_safe_cookie_and_shows_the_dashboard(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[50]
    response = client.post("/sign-in", data={"email": user["email"], "password": user["password"]})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "data-prescription-id" in dashboard.text
    _assert_security_headers(dashboard)


def test_wrong_password_on_sign_in_page_shows_an_alert(client: httpx.Client, sandbox: Any) -> None:
    user = users_by_role(sandbox.credentials, "patient")[51]
    response = client.post("/sign-in", data={"email": user["email"], "password": "wrong"})
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "set-cookie" not in response.headers


def _burst(sandbox: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
    """Pipeline BURST_LIMIT requests on one connection (so the client's speed cannot hide the limit);
    return the first 429 as (status, lower-case headers, body)."""
    url = httpx.URL(sandbox.edge_url)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {CHEAP_PATH} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n{head}\r\n".encode()
    with socket.create_connection((url.host, url.port), timeout=20.0) as conn:
        conn.sendall(request * BURST_LIMIT)
        reader = conn.makefile("rb")
        for _ in range(BURST_LIMIT):
            status = int(reader.readline().split()[1])
            response_headers = {}
            while (line := reader.readline().strip()):
                name, _, value = line.decode("latin-1").partition(":")
                response_headers[name.strip().lower()] = value.strip()
            body = reader.read(int(response_headers.get("content-length", "0")))
            if status == 429:
                return status, response_headers, body
    return None


def test_burst_over_the_user_rate_is_429_with_retry_after(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", -1)
    limited = _burst(sandbox, patient.headers())
    assert limited is not None, f"no 429 within {BURST_LIMIT} requests"
    _, headers, body = limited
    assert int(headers["retry-after"]) >= 1
    assert json.loads(body)["code"] == "over_rate_limit"
    for name in SECURITY_HEADERS:
        assert name in headers


def test_rate_limited_requests_are_counted_under_their_route(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", -2)
    assert _burst(sandbox, patient.headers()) is not None
    limited_routes = set()
    for url in sandbox.region_urls.values():
        stats = httpx.get(f"{url}/_sandbox/stats", headers={"apikey": sandbox.service_key}).json()
        limited_routes |= {key for key, statuses in stats["by_route"].items() if "429" in statuses}
    assert "GET /rest/v1/{table}" in limited_routes
    assert "GET (unmatched)" not in limited_routes


def test_stats_need_the_service_key_and_count_requests(client: httpx.Client, sandbox: Any) -> None:
    url = sandbox.region_urls["region-a"]
    assert httpx.get(f"{url}/_sandbox/stats", headers={"apikey": sandbox.anon_key}).status_code == 401
    before = httpx.get(f"{url}/_sandbox/stats", headers={"apikey": sandbox.service_key}).json()
    for _ in range(3):
        httpx.get(f"{url}/rest/v1/medications?nope=eq.1", headers={"apikey": sandbox.anon_key})
    after = httpx.get(f"{url}/_sandbox/stats", headers={"apikey": sandbox.service_key}).json()
    key = "GET /rest/v1/{table}"
    count_before = before["by_route"].get(key, {}).get("400", 0)
    assert after["by_route"][key]["400"] == count_before + 3
