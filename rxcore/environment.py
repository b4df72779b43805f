"""Environment files (`environments/<name>.yaml`): where a job points and what it may do there."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from locustfiles.config import CREDENTIALS_ENV
from rxcore.errors import ConfigError, RxError
from rxcore.urls import refuse_url_credentials
from sandbox.config import SandboxConfig, parse_sandbox_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("sandbox", "staging", "production", "preview")
_KNOWN_FIELDS = {"name", "kind", "base_url", "anon_key_env", "allowed_jobs", "caps", "chaos", "sandbox",
                 "credentials_csv_env", "users", "journeys"}


@dataclass(frozen=True)
class Environment:
    name: str
    kind: str
    file: Path
    base_url: str
    anon_key_env: str | None = None
    allowed_jobs: tuple[str, ...] = ()
    caps: dict[str, Any] = field(default_factory=dict)
    chaos: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    sandbox: SandboxConfig | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"


def environment_path(name_or_path: str, root: Path = PROJECT_ROOT) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return root / "environments" / f"{name_or_path}.yaml"


def load_environment(name_or_path: str = "sandbox", root: Path = PROJECT_ROOT) -> Environment:
    path = environment_path(name_or_path, root)
    if not path.is_file():
        known = sorted(p.stem for p in (root / "environments").glob("*.yaml"))
        raise ConfigError(str(path), "--env", "no such environment file",
                          f"known environments: {', '.join(known) or 'none'}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(str(path), "(file)", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          "fix the YAML syntax", line=mark.line + 1 if mark else None) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(file)", "expected a mapping at the top level", "write key: value pairs")
    for key in raw:
        if key not in _KNOWN_FIELDS:
            raise ConfigError(str(path), key, "unknown field", f"allowed: {', '.join(sorted(_KNOWN_FIELDS))}")
    kind = raw.get("kind", "staging")
    if kind not in KINDS:
        raise ConfigError(str(path), "kind", f"{kind!r} is not an environment kind", f"use one of {', '.join(KINDS)}")
    base_url = raw.get("base_url")
    refuse_url_credentials(str(base_url), str(path), "base_url")  # first: the other messages quote the URL
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(str(path), "base_url", f"{base_url!r} is not an http(s) URL",
                          "set base_url: https://host")
    sandbox = parse_sandbox_config(raw.get("sandbox"), str(path), root) if kind == "sandbox" else None
    return Environment(
        name=str(raw.get("name", path.stem)),
        kind=kind,
        file=path,
        base_url=base_url.rstrip("/"),
        anon_key_env=raw.get("anon_key_env"),
        allowed_jobs=tuple(raw.get("allowed_jobs") or ()),
        caps=dict(raw.get("caps") or {}),
        chaos=dict(raw.get("chaos") or {}),
        raw=raw,
        sandbox=sandbox,
    )


def sandbox_variant(port_offset: int, state_name: str, env_name: str = "sandbox", **changes: Any) -> SandboxConfig:
    """An environment's sandbox moved to other ports and state folder, so tests and benchmarks can run beside a
    sandbox someone is using."""
    base = load_environment(env_name).sandbox
    if base is None:
        raise ConfigError(env_name, "kind", "not a sandbox environment", "use kind: sandbox")
    config = base.with_port_offset(port_offset, PROJECT_ROOT / ".rxsuite" / state_name)
    return dataclasses.replace(config, **changes) if changes else config


@dataclass(frozen=True)
class PlatformTarget:
    """Where a job sends its traffic and how its synthetic users sign in (secrets stay out of files)."""

    base_url: str
    anon_key: str
    credentials_csv: Path


def platform_target(env: Environment, base_url: str | None = None) -> PlatformTarget:
    """The URL, anon key and credentials file from the environment variables, else from a running sandbox."""
    refuse_url_credentials(base_url or "", "command line", "--base-url")
    named_csv = env.raw.get("credentials_csv_env")
    csv_path = os.environ.get(CREDENTIALS_ENV) or (os.environ.get(named_csv) if named_csv else None)
    anon_key = os.environ.get(env.anon_key_env) if env.anon_key_env else None
    url = base_url or env.base_url
    if env.sandbox is not None and not (base_url and anon_key and csv_path):
        from sandbox.stack import Sandbox

        sandbox = Sandbox(env.sandbox)
        parts = sandbox.status()
        if not parts or not all(p.running for p in parts):
            raise RxError(f"no running sandbox in {sandbox.state_dir}: start it with `rxsuite sandbox up --env "
                          f"{env.name}` (and stop it with `rxsuite sandbox down` after)")
        url = base_url or sandbox.edge_url
        anon_key = anon_key or sandbox.anon_key
        csv_path = csv_path or str(sandbox.credentials_file)
    if not anon_key:
        raise ConfigError(str(env.file), "anon_key_env", f"environment variable {env.anon_key_env!r} is not set",
                          "export the platform's anon key in that variable")
    if not csv_path:
        raise ConfigError(str(env.file), "credentials_csv_env",
                          f"no credentials file: set {CREDENTIALS_ENV} or the variable named by credentials_csv_env",
                          "point it at a CSV with email,password,role,user_id of synthetic accounts")
    return PlatformTarget(url.rstrip("/"), anon_key, Path(csv_path))
