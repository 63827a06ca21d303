"""Every committed stack runs the whole program under mocks (and in preview) and exports the same keys."""

from __future__ import annotations

import pytest

from components.outputs import COLDSTART_KEYS, KEYS, PROMOTION_KEYS
from tests import harness
from tests.conftest import STACKS


def test_all_stacks_are_covered():
    assert set(STACKS) >= {"aws-dev", "aws-staging", "aws-prod", "alicloud-dev", "alicloud-prod", "byo-dev"}


@pytest.mark.parametrize("name", STACKS)
def test_stack_runs_and_exports_the_same_keys_on_every_cloud(stack, name):
    run = stack(name)
    assert set(run.outputs) == set(KEYS)
    assert set(PROMOTION_KEYS) | set(COLDSTART_KEYS) <= set(KEYS)
    assert run.outputs["pvcName"] == run.outputs["datasetName"]
    assert run.outputs["modelHost"] == f"{run.outputs['modelName']}.{run.outputs['namespace']}.{harness.load(name).platform.domain}"
    assert "/openai/v1/completions" in run.outputs["curl"]
    assert run.outputs["servedRelease"] == run.outputs["releaseDigest"]  # read back from the awaited service


@pytest.mark.parametrize("name", ["aws-dev", "aws-prod", "alicloud-dev", "alicloud-prod"])
def test_kubeconfig_is_a_secret_output(stack, name):
    assert isinstance(stack(name).outputs["kubeconfig"], harness.Secret)


def test_a_branch_is_exported_as_the_commit_it_resolved_to(stack):
    outputs = stack("aws-dev").outputs
    assert outputs["release"]["model"]["revision"] == "main"
    assert len(outputs["modelRevision"]) == 40 and outputs["modelRevision"] != "main"
    assert outputs["modelVersion"] == outputs["modelRevision"]


@pytest.mark.parametrize("name", ["aws-dev", "alicloud-prod"])
def test_the_ingest_job_writes_the_resolved_commit_over_https_from_a_cache_node(stack, name):
    from components import versions
    from components.scheduling import CACHE_LABELS

    run = stack(name)
    job = run.one("Job")
    pod = job.inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == versions.INGEST_IMAGE
    assert len(env["HF_REVISION"]) == 40 and env["MODEL_ROOT"] == run.outputs["modelUrl"].rsplit("/", 1)[0]
    assert run.outputs["modelUrl"].endswith("/" + env["HF_REVISION"])
    assert env.get("ENDPOINT", "https://").startswith("https://")
    assert pod["nodeSelector"] == dict(CACHE_LABELS)


def test_existing_cloud_creates_no_cloud_resources(stack):
    run = stack("byo-dev")
    assert {r.type for r in run.registrations if r.type.split(":")[0] in ("aws", "alicloud", "eks")} == set()
    assert run.one("pulumi:providers:kubernetes").name == "existing-cluster"
    assert {"InferenceService", "Dataset", "AlluxioRuntime", "DataLoad"} <= {r.type.split(":")[-1] for r in run.registrations}


def test_release_output_is_the_stack_files_release_block_with_defaults(stack):
    from components import config

    run = stack("aws-prod")
    settings = harness.load("aws-prod")
    assert run.outputs["release"] == settings.release.model_dump(by_alias=True, mode="json")
    assert run.outputs["releaseDigest"] == config.Release.model_validate(run.outputs["release"]).digest()


@pytest.mark.parametrize("name", STACKS)
def test_stack_runs_in_preview(name):
    run = harness.run(name, preview=True)
    assert run.error is None, run.error
    assert run.of_type("InferenceService") and run.of_type("DataLoad")
