"""Helpers for the platform-app contract tests, and a small dev stack to run them without the full sandbox.

The contract tests use only the `sandbox` fixture's interface (edge_url, region_urls, keys, credentials,
payments_url, primary_conninfo). ``DevStack`` offers the same attributes with one throwaway PostgreSQL, one app
process and the payment stub, for developing the app alone without HAProxy, standby or fault proxy:
``python -m tests.app_harness`` prints the URLs and serves until Ctrl-C, and
``.venv/bin/python -m pytest --noconftest -p tests.app_harness tests/test_contract_*.py``
runs the contract tests against it.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# ---- helpers the contract tests share ------------------------------------------------------------------------


def users_by_role(credentials: list[dict[str, str]], role: str) -> list[dict[str, str]]:
    return [row for row in credentials if row["role"] == role]


def api_headers(anon_key: str, access_token: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"apikey": anon_key, **extra}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    return headers


def sign_in(client: httpx.Client, anon_key: str, user: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": anon_key},
        json={"email": user["email"], "password": user["password"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


@dataclass
class ApiUser:
    """A signed-in seeded user with request helpers that add the apikey and bearer token."""

    client: httpx.Client
    anon_key: str
    credentials: dict[str, str]
    session: dict[str, Any]

    @property
    def id(self) -> str:
        return self.credentials["user_id"]

    @property
    def token(self) -> str:
        return self.session["access_token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return api_headers(self.anon_key, self.token, **extra)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.headers())

    def post(self, path: str, body: Any, *, representation: bool = True, **params: Any) -> httpx.Response:
        extra = {"Prefer": "return=representation"} if representation else {}
        return self.client.post(path, params=params, json=body, headers=self.headers(**extra))

    def patch(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return self.client.patch(path, params=params, json=body, headers=self.headers(Prefer="return=representation"))


def login(client: httpx.Client, sandbox: Any, role: str, index: int) -> ApiUser:
    """Sign in the ``index``-th seeded user of ``role``; tests pick distinct indexes to stay independent."""
    user = users_by_role(sandbox.credentials, role)[index]
    return ApiUser(client, sandbox.anon_key, user, sign_in(client, sandbox.anon_key, user))


def request_renewal(patient: ApiUser, doctor: ApiUser, **fields: Any) -> dict[str, Any]:
    """Create a fresh prescription (status requested) for ``patient`` assigned to ``doctor``."""
    medications = patient.get("/rest/v1/medications", select="id", limit=1)
    assert medications.status_code == 200, medications.text
    body = {"medication_id": medications.json()[0]["id"], "doctor_id": doctor.id, "quantity": 1, **fields}
    response = patient.post("/rest/v1/prescriptions", body)
    assert response.status_code == 201, response.text
    return response.json()[0]


def approved_prescription(patient: ApiUser, doctor: ApiUser) -> dict[str, Any]:
    row = request_renewal(patient, doctor)
    response = doctor.patch("/rest/v1/prescriptions", {"status": "approved"}, id=f"eq.{row['id']}")
    assert response.status_code == 200, response.text
    return response.json()[0]


# ---- dev stack -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_http(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


@dataclass
class DevStack:
    """Throwaway PostgreSQL + one region of the app + a fake payment provider, on free ports."""

    workdir: Path
    anon_key: str = field(default_factory=lambda: "anon-" + secrets.token_hex(16))
    service_key: str = field(default_factory=lambda: "service-" + secrets.token_hex(16))
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    payment_secret: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    pg_port: int = field(default_factory=free_port)
    app_port: int = field(default_factory=free_port)
    payments_port: int = field(default_factory=free_port)
    app_env: dict[str, str] = field(default_factory=dict)
    credentials: list[dict[str, str]] = field(default_factory=list)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def region_urls(self) -> dict[str, str]:
        return {"region-a": self.edge_url}

    @property
    def payments_url(self) -> str:
        return f"http://127.0.0.1:{self.payments_port}"

    @property
    def fault_proxy_url(self) -> str:
        return ""

    def primary_conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.pg_port} dbname=rx user=rx password=rx-dev connect_timeout=2"

    def start(self) -> None:
        from sandbox.app.platform_schema import apply_schema
        from sandbox.app.seed import seed_database

        self.start_postgres()
        apply_schema(self.primary_conninfo(), admin_conninfo=self.admin_conninfo())
        credentials_path = self.workdir / "credentials.csv"
        seed_database(self.primary_conninfo(), patients=60, doctors=6, pharmacists=4, medications=30,
                      credentials_path=credentials_path)
        with credentials_path.open() as handle:
            self.credentials = list(csv.DictReader(handle))
        self._spawn(
            [sys.executable, "-m", "sandbox.payments", "--host", "127.0.0.1", "--port", str(self.payments_port)],
            {
                "RXSUITE_PAYMENT_SECRET_KEY": self.payment_secret,
                "RXSUITE_WEBHOOK_URL": f"{self.edge_url}/functions/v1/payment-webhook",
                "RXSUITE_WEBHOOK_SECRET": self.webhook_secret,
            },
        )
        env = {
            "RXSUITE_REGION": "region-a",
            "RXSUITE_DATABASE_URL": self.primary_conninfo() + " target_session_attrs=read-write",
            "RXSUITE_JWT_SECRET": self.jwt_secret,
            "RXSUITE_ANON_KEY": self.anon_key,
            "RXSUITE_SERVICE_KEY": self.service_key,
            "RXSUITE_PAYMENT_URL": self.payments_url,
            "RXSUITE_PAYMENT_SECRET_KEY": self.payment_secret,
            "RXSUITE_WEBHOOK_SECRET": self.webhook_secret,
            "RXSUITE_ACCESS_LOG": str(self.workdir / "access.jsonl"),
            **self.app_env,
        }
        self._spawn([sys.executable, "-m", "sandbox.app", "--host", "127.0.0.1", "--port", str(self.app_port)], env)
        _wait_http(f"{self.payments_url}/health")
        _wait_http(f"{self.edge_url}/health")

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        log = (self.workdir / f"{len(self._processes)}.log").open("ab")
        self._processes.append(
            subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
        )

    def admin_conninfo(self) -> str:
        """The superuser, on the app's database (the platform roles and the Realtime publication need one)."""
        return f"host=127.0.0.1 port={self.pg_port} dbname=rx user=postgres connect_timeout=2"

    def start_postgres(self) -> None:
        """A throwaway cluster with the app's login user and an empty database ``rx`` it owns."""
        data = self.workdir / "pg"
        self.workdir.chmod(0o777)
        subprocess.run([*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses='127.0.0.1'\nport={self.pg_port}\nunix_socket_directories='{self.workdir}'\n"
                       "fsync=off\nsynchronous_commit=off\n")
        subprocess.run([*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(data), "-l",
                        str(self.workdir / "pg.log"), "-w", "start"], check=True, capture_output=True)
        admin = f"host=127.0.0.1 port={self.pg_port} dbname=postgres user=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE rx LOGIN PASSWORD 'rx-dev'")
            conn.execute("GRANT pg_monitor TO rx")
            conn.execute("CREATE DATABASE rx OWNER rx")

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        data = self.workdir / "pg"
        if data.exists():
            subprocess.run([*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)


@contextlib.contextmanager
def dev_stack(**app_env: str) -> Iterator[DevStack]:
    workdir = Path(tempfile.mkdtemp(prefix="rx-app-dev-"))
    stack = DevStack(workdir, app_env=app_env)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[DevStack]:
    """Replaces the real sandbox only when this module is loaded as a plugin (see the module docstring)."""
    with dev_stack() as stack:
        yield stack


def main(argv: list[str]) -> int:
    with dev_stack() as stack:
        print(f"app {stack.edge_url}  payments {stack.payments_url}  pg {stack.primary_conninfo()}")
        print(f"anon key {stack.anon_key}  service key {stack.service_key}  workdir {stack.workdir}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
