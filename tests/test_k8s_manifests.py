"""deploy/k8s: the pods get every module and package the locustfile imports, and the manifests agree.

There is no cluster here (no kubectl), so this checks what a cluster would fail on first: an ImportError in the
pods (a first-party module missing from the ConfigMaps, a package missing from the pods' pip install), or a
worker count that differs between the master and the workers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from locustfiles.config import CONFIG_ENV, LoadConfig

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"

# In a child (importing Locust monkey-patches the process): the first-party files the locustfile loads, and the
# top-level names those files import that are neither the standard library nor first-party.
_CLOSURE = """
import ast, json, sys
from pathlib import Path
root = Path.cwd().resolve()
import locustfiles.rxlocust
files = sorted({str(Path(m.__file__).resolve().relative_to(root)) for m in list(sys.modules.values())
                if getattr(m, "__file__", None) and Path(m.__file__).resolve().is_relative_to(root)
                and "site-packages" not in Path(m.__file__).parts})
ours = {f.split("/")[0] for f in files}
imported = set()
for f in files:
    for node in ast.walk(ast.parse((root / f).read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
third = sorted(imported - set(sys.stdlib_module_names) - ours - {"__future__"})
print(json.dumps({"files": files, "third_party": third}))
"""


@pytest.fixture(scope="module")
def closure(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    settings = tmp_path_factory.mktemp("k8s") / "load-config.json"  # the pods' RX_LOAD_CONFIG
    LoadConfig(base_url="http://127.0.0.1:9", profile="smoke", users=1, duration_s=1).save(settings)
    done = subprocess.run([sys.executable, "-c", _CLOSURE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, CONFIG_ENV: str(settings)})
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict[str, Any]]:
    docs = [doc for name in ("master.yaml", "worker.yaml") for doc in yaml.safe_load_all((K8S / name).read_text())]
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_configmaps_hold_every_first_party_module_the_locustfile_imports(
        closure: dict[str, list[str]], deployments: dict[str, dict[str, Any]]) -> None:
    readme = (K8S / "README.md").read_text()
    shipped = [entry for entry in re.findall(r"--from-file=(\S+)", readme) if entry.endswith((".py", "/"))]
    missing = [f for f in closure["files"] if not any(f == e or (e.endswith("/") and f.startswith(e))
                                                      for e in shipped)]
    assert missing == [], "add them to the configmap commands in deploy/k8s/README.md"
    for name, deployment in deployments.items():
        mounts = {m["mountPath"] for m in _container(deployment)["volumeMounts"]}
        packages = {f"/app/{f.split('/')[0]}" for f in closure["files"]}
        assert packages <= mounts, f"{name}: mount {sorted(packages - mounts)}"


def _distribution(requirement: str) -> str:
    """The normalised distribution name of a requirement ("locust>=2.24,<3" -> "locust")."""
    return re.split(r"[<>=!~\[; (]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pip_specs(deployment: dict[str, Any]) -> list[str]:
    """The quoted requirements of the container's `pip install` (the command before its first `&&`)."""
    return re.findall(r"'([^']+)'", " ".join(_container(deployment)["args"]).split("&&")[0])


def _installed_with(specs: list[str]) -> set[str]:
    """The distributions `pip install specs` brings (their requirements, transitively, as installed here)."""
    todo = [_distribution(spec) for spec in specs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # not installed here: a platform's own dependency, not ours
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(_distribution(requirement))
    return seen


def test_the_pods_install_every_package_the_locustfile_imports(closure: dict[str, list[str]],
                                                               deployments: dict[str, dict[str, Any]]) -> None:
    providers = metadata.packages_distributions()
    for name, deployment in deployments.items():
        installed = _installed_with(_pip_specs(deployment))
        missing = [module for module in closure["third_party"]
                   if not {_distribution(d) for d in providers.get(module, [module])} & installed]
        assert missing == [], f"{name}: its pip install lacks the distributions of {missing}"


def test_the_master_expects_as_many_workers_as_the_worker_deployment_runs(
        deployments: dict[str, dict[str, Any]]) -> None:
    env = {e["name"]: e.get("value") for e in _container(deployments["rx-locust-master"])["env"]}
    assert int(env["EXPECT_WORKERS"]) == deployments["rx-locust-worker"]["spec"]["replicas"]


def test_the_pods_pin_their_packages_as_pyproject_does(deployments: dict[str, dict[str, Any]]) -> None:
    declared = {_distribution(spec): spec.replace(" ", "")
                for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name, deployment in deployments.items():
        for spec in _pip_specs(deployment):
            expected = declared.get(_distribution(spec))
            assert spec == expected, f"{name}: {spec!r}, pyproject.toml says {expected!r}"
