"""Environment files (`environments/<name>.yaml`): where a job points and what it may do there."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locustfiles.config import CREDENTIALS_ENV
from rxcore.envschema import validate_environment
from rxcore.errors import ConfigError, RxError
from rxcore.yamlfile import read_yaml
from sandbox.config import SandboxConfig, parse_sandbox_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    doc = read_yaml(path)
    checked = validate_environment(doc)
    raw, kind, base_url = doc.data, checked.kind, checked.base_url
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
