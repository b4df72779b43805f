"""Deploy files checked offline against their published schemas: the Kubernetes manifests against the Kubernetes
API's (the schemas `kubernetes-validate` ships, strict: an unknown field fails) and the GitHub workflows against the
workflow schema `check-jsonschema` vendors. Each checker is first shown to refuse a broken file, so a pass means
something."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted(p for p in (ROOT / "deploy" / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
K8S_VERSION = kubernetes_validate.latest_version()


def _resources(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _check_workflows(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_the_kubernetes_schema(path: Path) -> None:
    resources = _resources(path)
    assert resources
    for resource in resources:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def test_kubernetes_check_refuses_a_broken_deployment() -> None:
    deployment = next(r for p in MANIFESTS for r in _resources(p) if r["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS}


def test_workflows_match_the_github_workflow_schema() -> None:
    assert WORKFLOWS
    run = _check_workflows(WORKFLOWS)
    assert run.returncode == 0, run.stdout + run.stderr


def test_workflow_check_refuses_a_broken_workflow(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    job = next(iter(workflow["jobs"].values()))
    del job["runs-on"]
    job["timeout-minutes"] = "an hour"
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(workflow, sort_keys=False))
    run = _check_workflows([broken])
    assert run.returncode == 1, run.stdout
    assert "broken.yml" in run.stdout
