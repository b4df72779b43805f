"""The app's settings, read once from ``RXSUITE_*`` environment variables so every module sees the same values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rxcore import envvars


class SettingsError(ValueError):
    """A required variable is missing or a value does not parse; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    region: str
    version: str
    database_url: str
    jwt_secret: str
    anon_key: str
    service_key: str
    payment_url: str
    payment_secret_key: str
    webhook_secret: str
    access_token_ttl_s: int = 3600
    rate_per_user_rps: float = 50.0
    rate_per_user_burst: float = 100.0
    rate_per_address_rps: float = 5000.0
    rate_per_address_burst: float = 10000.0
    sign_in_account_burst: float = 10.0
    sign_in_account_per_minute: float = 2.0
    sign_in_address_burst: float = 60.0
    sign_in_address_per_minute: float = 30.0
    access_log: Path | None = None
    metrics: bool = True  # /metrics for Prometheus; RXSUITE_METRICS=0 turns it off (bench/sandbox_throughput.py)


_REQUIRED = {
    "region": "RXSUITE_REGION",
    "database_url": "RXSUITE_DATABASE_URL",
    "jwt_secret": "RXSUITE_JWT_SECRET",
    "anon_key": "RXSUITE_ANON_KEY",
    "service_key": "RXSUITE_SERVICE_KEY",
    "payment_url": "RXSUITE_PAYMENT_URL",
    "payment_secret_key": "RXSUITE_PAYMENT_SECRET_KEY",
    "webhook_secret": "RXSUITE_WEBHOOK_SECRET",
}

_NUMBERS = {
    "access_token_ttl_s": ("RXSUITE_ACCESS_TOKEN_TTL_S", int),
    "rate_per_user_rps": ("RXSUITE_RATE_PER_USER_RPS", float),
    "rate_per_user_burst": ("RXSUITE_RATE_PER_USER_BURST", float),
    "rate_per_address_rps": ("RXSUITE_RATE_PER_ADDRESS_RPS", float),
    "rate_per_address_burst": ("RXSUITE_RATE_PER_ADDRESS_BURST", float),
    "sign_in_account_burst": ("RXSUITE_SIGN_IN_ACCOUNT_BURST", float),
    "sign_in_account_per_minute": ("RXSUITE_SIGN_IN_ACCOUNT_PER_MINUTE", float),
    "sign_in_address_burst": ("RXSUITE_SIGN_IN_ADDRESS_BURST", float),
    "sign_in_address_per_minute": ("RXSUITE_SIGN_IN_ADDRESS_PER_MINUTE", float),
}


def _get(env: Mapping[str, str], name: str) -> str:
    """The stripped value; the old RX_ spelling still answers, with a deprecation line (rxcore.envvars)."""
    return (envvars.getenv(name, "", env) or "").strip()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment); raise SettingsError on bad input."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for field_name, var in _REQUIRED.items():
        value = _get(env, var)
        if not value:
            raise SettingsError(f"missing required setting {var}: set it in the environment")
        values[field_name] = value
    values["payment_url"] = str(values["payment_url"]).rstrip("/")
    values["version"] = _get(env, "RXSUITE_VERSION") or "1.0.0"
    for field_name, (var, kind) in _NUMBERS.items():
        raw = _get(env, var)
        if not raw:
            continue
        try:
            number = kind(raw)
        except ValueError:
            raise SettingsError(f"{var}={raw!r} is not a valid {kind.__name__}: give a positive number") from None
        if number <= 0:
            raise SettingsError(f"{var}={raw!r} must be positive")
        values[field_name] = number
    log_path = _get(env, "RXSUITE_ACCESS_LOG")
    values["access_log"] = Path(log_path) if log_path else None
    values["metrics"] = _get(env, "RXSUITE_METRICS") not in ("0", "false", "no")
    return Settings(**values)  # type: ignore[arg-type]
