"""The Fluid cache and the InferenceService: wiring, placement, warm-up, waits and ordering."""
from __future__ import annotations

import json

from components.k8s.inference import RUNTIME_NAME, curl_command
from tests import harness


def test_pvc_is_the_dataset_and_the_storage_uri_points_at_it(stack):
    for name in ("aws-prod", "alicloud-dev"):
        run = stack(name)
        dataset = run.one("Dataset")
        model = run.outputs["modelName"]
        assert dataset.metadata["name"] == run.outputs["pvcName"] == f"{model}-cache"
        predictor = run.one("InferenceService", model).plain["spec"]["predictor"]
        assert predictor["model"]["storageUri"] == f"pvc://{model}-cache/{model}"
        mount = dataset.plain["spec"]["mounts"][0]
        assert mount["path"] == f"/{model}" and mount["readOnly"] is True
        assert dataset.plain["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_dataset_mounts_the_model_prefix_with_store_options(stack):
    s3 = stack("aws-dev").one("Dataset").plain["spec"]["mounts"][0]
    assert s3["mountPoint"] == "s3://kf-dev-models-bucket/models/bloom-560m/"
    assert s3["options"] == {"fs.s3.region": "us-west-2", "fs.s3.endpoint": "s3.us-west-2.amazonaws.com"}
    oss = stack("alicloud-dev").one("Dataset").plain["spec"]["mounts"][0]
    assert oss["mountPoint"].startswith("oss://") and oss["mountPoint"].endswith("/models/bloom-560m/")
    assert oss["options"] == {"fs.oss.endpoint": "oss-cn-hangzhou-internal.aliyuncs.com"}


def test_dataload_targets_the_dataset_and_model_path_and_is_awaited(stack):
    run = stack("aws-prod")
    load = run.one("DataLoad").plain
    assert load["spec"]["dataset"] == {"name": "llama-31-8b-instruct-cache", "namespace": "models"}
    assert load["spec"]["target"] == [{"path": "/llama-31-8b-instruct", "replicas": 3}]
    assert load["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Complete"
    digest = run.outputs["modelDigest"]
    assert load["metadata"]["name"] == f"llama-31-8b-instruct-warm-{digest[:10]}"


def test_new_model_revision_means_a_new_dataload():
    base = harness.run("aws-dev")
    cfg = harness.stack_config("aws-dev")
    release = json.loads(cfg["kserve-fluid:release"])
    release["model"]["revision"] = "a" * 40
    cfg["kserve-fluid:release"] = json.dumps(release)
    changed = harness.run("aws-dev", config=cfg)
    assert base.one("DataLoad").metadata["name"] != changed.one("DataLoad").metadata["name"]
    assert base.one("Job").metadata["name"] != changed.one("Job").metadata["name"]
    assert base.one("DataLoad").metadata["name"].startswith("bloom-560m-warm-")


def test_cache_runs_on_the_cache_pool_and_fuse_on_gpu_nodes(stack):
    spec = stack("aws-prod").one("JindoRuntime").plain["spec"]
    toleration = {"key": "kserve-fluid/cache", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    for part in ("master", "worker"):
        assert spec[part]["nodeSelector"] == {"kserve-fluid/role": "cache"}
        assert spec[part]["tolerations"] == [toleration]
    assert spec["replicas"] == 3
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"} \
        in spec["fuse"]["tolerations"]
    assert {"-okernel_cache", "-oro", "-oattr_timeout=7200", "-oentry_timeout=7200"} <= set(spec["fuse"]["args"])
    assert spec["fuse"]["properties"]["fs.s3.download.thread.concurrency"] == "32"
    level = spec["tieredstore"]["levels"][0]
    assert level == {"mediumtype": "SSD", "volumeType": "hostPath", "path": "/mnt/cache", "quota": "100Gi",
                     "high": "0.95", "low": "0.7"}
    affinity = stack("aws-prod").one("Dataset").plain["spec"]["nodeAffinity"]
    assert affinity["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kserve-fluid/role", "operator": "In", "values": ["cache"]}]


def test_memory_tier_uses_shm():
    cfg = harness.stack_config("aws-dev", {"cache": {"replicas": 2, "levels": [{"medium": "MEM", "quotaGi": 8}]}})
    level = harness.run("aws-dev", config=cfg).one("JindoRuntime").plain["spec"]["tieredstore"]["levels"][0]
    assert level["mediumtype"] == "MEM" and level["path"] == "/dev/shm" and level["volumeType"] == "emptyDir"


def test_inference_service_scales_to_zero_on_the_gpu_pool(stack):
    isvc = stack("aws-prod").one("InferenceService")
    p = isvc.plain["spec"]["predictor"]
    assert p["minReplicas"] == 0 and p["maxReplicas"] == 4
    assert p["nodeSelector"] == {"kserve-fluid/role": "gpu", "nvidia.com/gpu.present": "true"}
    assert p["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                                 "effect": "NoSchedule"}]
    limits = p["model"]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1" and limits["cpu"] == "24" and limits["memory"] == "48Gi"
    assert p["model"]["runtime"] == RUNTIME_NAME and p["serviceAccountName"] == "model-server"
    assert "--max-model-len=8192" in p["model"]["args"]
    assert isvc.metadata["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert isvc.metadata["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_runtime_warms_the_page_cache_in_parallel_before_serving(stack):
    run = stack("aws-dev")
    container = run.one("ServingRuntime").plain["spec"]["containers"][0]
    script = container["command"][2]
    assert "xargs -0 -r -P \"$WARMUP_JOBS\"" in script and "exec python3 -m huggingfaceserver" in script
    env = run.one("InferenceService").plain["spec"]["predictor"]["model"]["env"]
    assert {"name": "WARMUP_JOBS", "value": "16"} in env


def test_order_model_then_cache_then_service(stack):
    run = stack("aws-dev")
    dataset, runtime, load = run.one("Dataset"), run.one("JindoRuntime"), run.one("DataLoad")
    isvc, job = run.one("InferenceService"), run.one("Job")
    assert run.depends_on(runtime, dataset) and run.depends_on(load, runtime) and run.depends_on(load, job)
    assert run.depends_on(isvc, load) and run.depends_on(isvc, run.one("ServingRuntime"))
    # Pulumi deletes in reverse: the service goes before the cache, the cache before Fluid
    assert not run.depends_on(load, isvc) and not run.depends_on(dataset, runtime)


def test_baseline_off_by_default_and_correct_when_on(stack):
    assert len(stack("aws-dev").of_type("InferenceService")) == 1
    assert stack("aws-dev").outputs["baselineInferenceService"] is None
    cfg = harness.stack_config("aws-dev", {"inference": {"maxReplicas": 1, "baseline": True}})
    run = harness.run("aws-dev", config=cfg)
    baseline = run.one("InferenceService", "bloom-560m-baseline").plain["spec"]["predictor"]
    assert baseline["model"]["storageUri"] == "s3://kf-dev-models-bucket/models/bloom-560m"
    assert baseline["serviceAccountName"] == "model-reader"
    assert {"name": "WARMUP_JOBS", "value": "0"} in baseline["model"]["env"]
    reader = run.one("ServiceAccount", "models-model-reader").metadata["annotations"]
    assert reader["serving.kserve.io/s3-region"] == "us-west-2" and reader["eks.amazonaws.com/role-arn"]
    assert run.outputs["baselineModelHost"] == "bloom-560m-baseline.models.example.com"


def test_serverless_labels_for_ack_virtual_nodes():
    cfg = harness.stack_config("alicloud-dev", {"inference": {"maxReplicas": 1, "serverless": True}})
    labels = harness.run("alicloud-dev", config=cfg).one("InferenceService").metadata["labels"]
    assert labels["serverless.fluid.io/inject"] == "true"


def test_server_account_has_no_cloud_identity(stack):
    account = stack("aws-dev").one("ServiceAccount", "models-model-server").plain
    assert account["automountServiceAccountToken"] is False
    assert not account["metadata"].get("annotations")


def test_curl_command():
    assert curl_command("http", "1.2.3.4", "m.ns.example.com", "m", False).startswith(
        "curl -H 'Host: m.ns.example.com' http://1.2.3.4/openai/v1/completions")
    https = curl_command("https", "lb", "m.ns.example.com", "m", True)
    assert "--connect-to m.ns.example.com:443:lb:443 https://m.ns.example.com/openai/v1/completions" in https
    assert 'Authorization: Bearer $TOKEN' in https
