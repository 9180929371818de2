"""CI follows the layout: one workflow per pipeline, named after it, whose path filters run it on a
change to that pipeline, the shared library or the build, and only then, over all of its services."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import build_zips

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PIPELINES = sorted(path.name for path in (REPO / "services").iterdir() if path.is_dir())
ALWAYS = {"shared/**", "requirements/**", "tools/build_zips.py"}


def workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_each_pipeline_has_its_workflow_with_its_paths(pipeline: str):
    triggers = workflow(pipeline)["on"]
    for event in ("push", "pull_request"):
        paths = set(triggers[event]["paths"])
        assert {f"services/{pipeline}/**", f"terraform/modules/{pipeline}/**", *ALWAYS} <= paths
        others = {f"services/{other}/**" for other in PIPELINES if other != pipeline}
        assert not paths & others, "another pipeline's change must not run this one"


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_each_pipeline_workflow_runs_its_core_and_every_service(pipeline: str):
    jobs = workflow(pipeline)["jobs"]
    assert jobs["core"]["uses"] == "./.github/workflows/_pipeline_core.yml"
    assert jobs["core"]["with"]["pipeline"] == pipeline
    services = {name for name, folder in build_zips.service_dirs().items() if folder.parent.name == pipeline}
    assert set(jobs["services"]["strategy"]["matrix"]["service"]) == services
    assert jobs["services"]["with"] == {"pipeline": pipeline, "service": "${{ matrix.service }}"}


def test_no_workflow_is_left_for_a_service_or_a_pipeline_that_is_gone():
    names = {path.stem for path in WORKFLOWS.glob("*.yml")}
    expected = set(PIPELINES) | {"_service", "_pipeline_core", "integration", "terraform"}
    assert names - expected <= {"lint"}  # the static gates may have a workflow of their own
