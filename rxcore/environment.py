"""Environment files (`environments/<name>.yaml`): where a job points and what it may do there."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore import envvars, plugins
from rxcore.envschema import REMOTE_KINDS, validate_environment
from rxcore.envvars import CREDENTIALS_CSV
from rxcore.errors import ConfigError
from rxcore.urls import refuse_url_credentials
from rxcore.yamlfile import read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Names a CSV of synthetic accounts (email,password,role,user_id): set by `rxsuite load` for its Locust processes,
# by the k8s manifests for theirs, and read by the CLI too (it overrides an environment file's credentials_csv_env).
CREDENTIALS_ENV = CREDENTIALS_CSV


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
    doc = read_yaml(path)
    if isinstance(doc.data, dict):  # first: the other messages quote the URL
        refuse_url_credentials(str(doc.data.get("base_url")), str(path), "base_url")
    plugin_kinds = plugins.environment_kinds()
    checked = validate_environment(doc, plugin_kinds)
    raw, kind, base_url = doc.data, checked.kind, checked.base_url
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
    refuse_url_credentials(base_url or "", "command line", "--base-url")
    named_csv = env.raw.get("credentials_csv_env")
    csv_path = envvars.getenv(CREDENTIALS_CSV) or (envvars.getenv(named_csv) if named_csv else None)
    anon_key = envvars.getenv(env.anon_key_env) if env.anon_key_env else None
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
                          f"no credentials file: set {CREDENTIALS_CSV} or the variable named by credentials_csv_env",
                          "point it at a CSV with email,password,role,user_id of synthetic accounts")
    return PlatformTarget(url.rstrip("/"), anon_key, Path(csv_path))


@dataclass(frozen=True)
class PlatformKeys:
    """The URL and API keys of a platform, without the accounts (for the jobs that check or create them)."""

    base_url: str
    anon_key: str
    service_key: str | None


def secret_headers(env: Environment, section: str) -> dict[str, str]:
    """The HTTP headers `<section>.headers_env` names (header: the variable holding its value; values never come
    from the file); a ConfigError naming the field of a variable that is not set."""
    headers = {}
    for header, variable in ((env.raw.get(section) or {}).get("headers_env") or {}).items():
        value = envvars.getenv(variable)
        if not value:
            raise ConfigError(str(env.file), f"{section}.headers_env.{header}",
                              f"environment variable {variable!r} is not set", f"export the {header} value in it")
        headers[header] = value
    return headers


def platform_keys(env: Environment, need_service_key: bool = False) -> PlatformKeys:
    """The keys from the variables the file names (`anon_key_env`, `service_key_env`), else from the running
    platform of the environment's kind plug-in (the sandbox); a ConfigError naming the unset variable."""
    anon_key = envvars.getenv(env.anon_key_env) if env.anon_key_env else None
    service_env = env.raw.get("service_key_env")
    service_key = envvars.getenv(service_env) if service_env else None
    url = env.base_url
    platform = env.platform() if not (anon_key and (service_key or not need_service_key)) else None
    if platform is not None:
        endpoint = platform.endpoint()
        url, anon_key = endpoint.base_url, anon_key or endpoint.anon_key
        service_key = service_key or endpoint.service_key
    if not anon_key:
        raise ConfigError(str(env.file), "anon_key_env", f"environment variable {env.anon_key_env!r} is not set",
                          "export the platform's anon key in that variable")
    if need_service_key and not service_key:
        problem = f"environment variable {service_env!r} is not set" if service_env else "no service_key_env"
        raise ConfigError(str(env.file), "service_key_env", problem,
                          "name the variable holding the project's service-role key, and export it")
    return PlatformKeys(url.rstrip("/"), anon_key, service_key)
