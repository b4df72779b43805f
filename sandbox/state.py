"""A sandbox's state folder: what was started (`state.json`, no secrets), its keys and passwords (`secrets.json`,
mode 600), the failover manager's topology, PostgreSQL data under `pg/`, one log per part under `logs/`.

The folder holds data (rows, keys handed to users): nothing here deletes it except `wipe`, which only an explicit
`rxsuite sandbox reset` calls.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import jwt

from rxcore.files import write_json_atomic
from sandbox import postgres
from sandbox.config import SandboxConfig
from sandbox.errors import SandboxError
from sandbox.failover import TOPOLOGY_FILE

__all__ = ["StateFolder", "config_summary", "new_secrets"]


class StateFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.path / "secrets.json"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def credentials_file(self) -> Path:
        return self.path / "credentials.csv"

    def load(self) -> dict[str, Any] | None:
        try:
            return _read_object(self.state_file)
        except (FileNotFoundError, ValueError):
            return None

    def save(self, state: dict[str, Any]) -> None:
        write_json_atomic(self.state_file, state)

    @staticmethod
    def initialised(state: dict[str, Any]) -> bool:
        """The first start completed (databases created and seeded, keys handed out): from then on it holds data."""
        return "up_after_s" in state

    def secrets(self) -> dict[str, Any]:
        try:
            return _read_object(self.secrets_file)
        except FileNotFoundError as exc:
            raise SandboxError("state", f"no sandbox secrets in {self.path}", "run `rxsuite sandbox up`") from exc
        except ValueError as exc:
            raise SandboxError("state", f"{self.secrets_file} is unreadable ({exc})",
                               "run `rxsuite sandbox reset` to start afresh (every row and key is lost)") from exc

    def write_secrets(self, secret: dict[str, Any]) -> None:
        write_json_atomic(self.secrets_file, secret, mode=0o600)

    def topology(self) -> dict[str, Any]:
        return _read_object(self.path / TOPOLOGY_FILE)

    def wipe(self) -> None:
        """Delete everything, PostgreSQL data included (also when it lives outside the folder, see prepare_dirs)."""
        if not self.path.exists():
            return
        if (self.path / "pg").is_symlink():
            postgres.remove_dirs(postgres.PgLayout(self.path, Path(), {}, {}, 0, False))
        shutil.rmtree(self.path)


def new_secrets(pg_bin_dir: Path) -> dict[str, Any]:
    jwt_secret = secrets.token_urlsafe(48)
    issued = int(time.time())

    def key(role: str) -> str:
        return jwt.encode({"iss": "rxsuite-sandbox", "role": role, "iat": issued}, jwt_secret, algorithm="HS256")

    return {
        "jwt_secret": jwt_secret,
        "anon_key": key("anon"),
        "service_key": key("service_role"),
        "payment_secret_key": "sk_test_" + secrets.token_hex(24),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "pg_passwords": {name: secrets.token_urlsafe(18) for name in
                         (postgres.SUPERUSER, postgres.APP_USER, postgres.REPLICATION_USER)},
        "pg_bin_dir": str(pg_bin_dir),
    }


def config_summary(config: SandboxConfig) -> dict[str, Any]:
    return {"ports": config.ports, "replication": config.replication,
            "failover": vars(config.failover), "edge": vars(config.edge), "seed": vars(config.seed)}


def _read_object(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data
