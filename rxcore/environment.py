"""Environment files (`environments/<name>.yaml`): where a job points and what it may do there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rxcore import plugins
from rxcore.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Names a CSV of synthetic accounts (email,password,role,user_id): set by `rxsuite load` for its Locust processes,
# by the k8s manifests for theirs, and read by the CLI too (it overrides an environment file's credentials_csv_env).
CREDENTIALS_ENV = "RX_CREDENTIALS_CSV"
# Kinds of remote platforms; a plug-in kind (the embedded sandbox) adds its own, with a section named after it.
REMOTE_KINDS = ("staging", "production", "preview")
_KNOWN_FIELDS = {"name", "kind", "base_url", "anon_key_env", "allowed_jobs", "caps", "chaos", "credentials_csv_env",
                 "users", "journeys"}


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
    platform_config: Any = None  # the kind plug-in's parsed section; None for a remote platform

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    @property
    def sandbox(self) -> Any:
        """The sandbox plug-in's settings (its SandboxConfig) on a sandbox environment, else None."""
        return self.platform_config if self.is_sandbox else None

    def platform(self) -> plugins.Platform | None:
        """The platform the environment's kind plug-in manages (None for a remote platform)."""
        kind = plugins.environment_kind(self.kind) if self.platform_config is not None else None
        return kind.platform(self.platform_config) if kind else None


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
    kind = raw.get("kind", "staging")
    kinds = (*REMOTE_KINDS, *plugins.environment_kinds())
    if kind not in kinds:
        raise ConfigError(str(path), "kind", f"{kind!r} is not an environment kind", f"use one of {', '.join(kinds)}")
    fields = _KNOWN_FIELDS | set(plugins.environment_kinds())
    for key in raw:
        if key not in fields:
            raise ConfigError(str(path), key, "unknown field", f"allowed: {', '.join(sorted(fields))}")
    base_url = raw.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(str(path), "base_url", f"{base_url!r} is not an http(s) URL",
                          "set base_url: https://host")
    plugin = None if kind in REMOTE_KINDS else plugins.environment_kind(kind)
    platform_config = plugin.parse(raw.get(kind), str(path), root) if plugin else None
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
        platform_config=platform_config,
    )


@dataclass(frozen=True)
class PlatformTarget:
    """Where a job sends its traffic and how its synthetic users sign in (secrets stay out of files)."""

    base_url: str
    anon_key: str
    credentials_csv: Path


def platform_target(env: Environment, base_url: str | None = None) -> PlatformTarget:
    """The URL, anon key and credentials file from the environment variables, else from the running platform of
    the environment's kind plug-in (the sandbox)."""
    named_csv = env.raw.get("credentials_csv_env")
    csv_path = os.environ.get(CREDENTIALS_ENV) or (os.environ.get(named_csv) if named_csv else None)
    anon_key = os.environ.get(env.anon_key_env) if env.anon_key_env else None
    url = base_url or env.base_url
    platform = env.platform() if not (base_url and anon_key and csv_path) else None
    if platform is not None:
        endpoint = platform.endpoint()
        url = base_url or endpoint.base_url
        anon_key = anon_key or endpoint.anon_key
        csv_path = csv_path or str(endpoint.credentials_csv)
    if not anon_key:
        raise ConfigError(str(env.file), "anon_key_env", f"environment variable {env.anon_key_env!r} is not set",
                          "export the platform's anon key in that variable")
    if not csv_path:
        raise ConfigError(str(env.file), "credentials_csv_env",
                          f"no credentials file: set {CREDENTIALS_ENV} or the variable named by credentials_csv_env",
                          "point it at a CSV with email,password,role,user_id of synthetic accounts")
    return PlatformTarget(url.rstrip("/"), anon_key, Path(csv_path))
