"""Every committed stack runs the whole program under mocks and exports what users and tools read."""
from __future__ import annotations

import pytest

from tests import harness
from tests.conftest import STACKS

COMMON_OUTPUTS = {"release", "namespace", "modelName", "modelUrl", "modelDigest", "inferenceService", "modelHost",
                  "ingressAddress", "datasetName", "pvcName", "platformVersions", "curl", "scaleToZeroGraceSeconds",
                  "endpointOpen", "inferenceServiceReady", "baselineInferenceService", "baselineModelHost"}


def test_all_stacks_are_covered():
    assert set(STACKS) >= {"aws-dev", "aws-staging", "aws-prod", "alicloud-dev", "alicloud-prod", "byo-dev"}


@pytest.mark.parametrize("name", STACKS)
def test_stack_runs_and_exports(stack, name):
    run = stack(name)
    assert COMMON_OUTPUTS <= set(run.outputs)
    assert run.outputs["pvcName"] == run.outputs["datasetName"]
    assert run.outputs["modelHost"] == f"{run.outputs['modelName']}.{run.outputs['namespace']}.example.com"
    assert "/openai/v1/completions" in run.outputs["curl"]


@pytest.mark.parametrize("name", ["aws-dev", "aws-prod", "alicloud-dev", "alicloud-prod"])
def test_kubeconfig_is_a_secret_output(stack, name):
    assert isinstance(stack(name).outputs["kubeconfig"], harness.Secret)


def test_existing_cloud_creates_no_cloud_resources(stack):
    run = stack("byo-dev")
    clouds = {r.type for r in run.registrations if r.type.split(":")[0] in ("aws", "alicloud", "eks")}
    assert clouds == set()
    assert run.one("pulumi:providers:kubernetes").name == "existing-cluster"
    # the same platform, cache and service still land on the given cluster
    assert {"InferenceService", "Dataset", "JindoRuntime", "DataLoad"} <= {r.type.split(":")[-1] for r in run.registrations}


def test_release_output_equals_the_stack_files_release_block(stack):
    run = stack("aws-prod")
    cfg = harness.stack_config("aws-prod")
    import json
    release = json.loads(cfg["kserve-fluid:release"])
    assert run.outputs["release"]["model"]["revision"] == release["model"]["revision"]
    assert run.outputs["release"]["servingImage"] == release["servingImage"]


def test_bad_config_fails_before_any_resource_is_registered():
    run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"gpuPool": {"instanceType": "m5.large"}}))
    assert run.error is not None and "kserve-fluid:gpuPool.instanceType" in str(run.error)
    assert run.registrations == []


@pytest.mark.parametrize("name", STACKS)
def test_stack_runs_in_preview(name):
    run = harness.run(name, preview=True)
    assert run.error is None, run.error
    assert run.of_type("InferenceService") and run.of_type("DataLoad")
