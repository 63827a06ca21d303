"""Every validation rule: bad input fails before anything is created, with the key, value and what is allowed."""
from __future__ import annotations

import copy

import pytest
import yaml

from components.config import ConfigError, build_settings
from tests.harness import ROOT


def raw(stack: str) -> dict:
    cfg = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("kserve-fluid:")}


def problems(stack: str, change, secrets=None) -> list[str]:
    cfg = copy.deepcopy(raw(stack))
    change(cfg)
    with pytest.raises(ConfigError) as e:
        build_settings(cfg, stack, region=None, secrets=secrets)
    return e.value.problems


def set_in(path: str, value):
    def change(cfg):
        node = cfg
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return change


@pytest.mark.parametrize("stack", ["aws-dev", "aws-staging", "aws-prod", "alicloud-dev", "alicloud-prod", "byo-dev"])
def test_committed_stacks_are_valid(stack):
    settings = build_settings(raw(stack), stack, region="us-west-2")
    assert settings.stack == stack


def test_defaults_per_cloud():
    aws = build_settings(raw("aws-dev") | {"gpuPool": {}}, "aws-dev")
    ali = build_settings(raw("alicloud-dev") | {"gpuPool": {}}, "alicloud-dev")
    assert aws.gpu_pool.instance_type == "g5.xlarge"
    assert ali.gpu_pool.instance_type == "ecs.gn6i-c16g1.4xlarge"
    assert ali.platform.mesh == "asm" and aws.platform.mesh == "istio"


def test_prod_defaults_are_safe():
    cfg = raw("aws-prod")
    cfg.pop("bucket", None)
    cfg["cluster"] = {"name": "kf-prod"}
    s = build_settings(cfg, "aws-prod")
    assert s.bucket.protect is True
    assert s.cluster.endpoint_public_access is False


@pytest.mark.parametrize("stack,path,value,expected", [
    ("aws-dev", "gpuPool.instanceType", "m5.large",
     "kserve-fluid:gpuPool.instanceType: got 'm5.large'; not a GPU instance type for aws, use one of g5.*"),
    ("alicloud-dev", "gpuPool.instanceType", "ecs.g7.xlarge",
     "kserve-fluid:gpuPool.instanceType: got 'ecs.g7.xlarge'; not a GPU instance type for alicloud, use one of ecs.gn*"),
    ("alicloud-dev", "cachePool.instanceType", "m5n.xlarge", "kserve-fluid:cachePool.instanceType: got 'm5n.xlarge'"),
    ("aws-dev", "inference.minReplicas", 3, "kserve-fluid:inference: minReplicas 3 exceeds maxReplicas 1"),
    ("aws-dev", "inference.maxReplicas", 0, "kserve-fluid:inference.maxReplicas: got 0; Input should be greater"),
    ("aws-dev", "cache.dataloadReplicas", 5,
     "kserve-fluid:cache: dataloadReplicas 5 exceeds cache replicas 2"),
    ("aws-dev", "cache.levels", [{"medium": "SSD", "quotaGi": 0.5}],
     "kserve-fluid:cache.levels: quota x replicas = 1 GiB cannot hold 1 cached copy of the 1.2 GiB model"),
    ("aws-dev", "cache.levels", [{"medium": "NVME", "quotaGi": 50}],
     "kserve-fluid:cache.levels.0.medium: got 'NVME'; Input should be 'MEM', 'SSD' or 'HDD'"),
    ("aws-dev", "cache.levels", [{"medium": "SSD", "quotaGi": 50, "high": 0.5, "low": 0.6}],
     "kserve-fluid:cache.levels.0: low watermark 0.6 must be below high watermark 0.5"),
    ("aws-dev", "cache.replicas", 9, "kserve-fluid:cache.replicas: got 9; the cache pool holds at most"),
    ("aws-dev", "gpuPool.minSize", 2, "kserve-fluid:gpuPool: minSize 2 <= desiredSize 0 <= maxSize 1 must hold"),
    ("aws-dev", "gpuPool.instanceTyp", "g5.xlarge", "kserve-fluid:gpuPool.instanceTyp: unknown key; allowed here:"),
    ("aws-dev", "cluster.zones", 1, "kserve-fluid:cluster.zones: got 1; Input should be greater than or equal to 2"),
    ("aws-dev", "release.servingImage", "kserve/huggingfaceserver:latest",
     "kserve-fluid:release: servingImage 'kserve/huggingfaceserver:latest' must carry a pinned tag"),
    ("aws-dev", "release.versions", {"kserve": "latest"}, "kserve-fluid:release: versions.kserve: 'latest' is not a pinned"),
    ("aws-dev", "release.versions", {"kservee": "v0.20.0"}, "kserve-fluid:release: versions.kservee: unknown component"),
    ("aws-dev", "release.model.source", "s3://bucket/model",
     "kserve-fluid:release.model: source 's3://bucket/model': use hf://<org>/<repo> or a local directory"),
    ("aws-dev", "release.model.revision", None, "kserve-fluid:release.model: revision: missing"),
    ("aws-dev", "release.model.name", "Bloom_560M", "kserve-fluid:release.model.name: got 'Bloom_560M'"),
    ("aws-staging", "release.model.revision", "main",
     "kserve-fluid:release.model.revision: got 'main'; staging serves a pinned 40-hex commit sha"),
    ("aws-dev", "inference.baseline", True, None),  # allowed on S3 (checked below for OSS)
    ("alicloud-dev", "inference.baseline", True, "kserve-fluid:inference.baseline: got True; KServe's storage"),
    ("aws-dev", "platform.mesh", "asm", "kserve-fluid:platform.mesh: got 'asm'; Alibaba Service Mesh is only"),
    ("aws-dev", "platform.fluidSource", "ack-addon", "kserve-fluid:platform.fluidSource: got 'ack-addon'"),
    ("aws-dev", "inference.serverless", True, "kserve-fluid:inference.serverless: got True"),
    ("aws-dev", "endpoint.auth", "jwt", "kserve-fluid:endpoint: auth 'jwt' needs jwtIssuer and jwksUri"),
    ("aws-dev", "endpoint.tls", True, "kserve-fluid:endpoint: tls needs tlsIssuer"),
    ("aws-prod", "endpoint.auth", "none", "kserve-fluid:endpoint.auth: got 'none'; a prod endpoint needs auth 'jwt'"),
    ("aws-prod", "endpoint.tls", False, "kserve-fluid:endpoint.tls: got False; a prod endpoint serves TLS"),
    ("aws-prod", "bucket.protect", False, "kserve-fluid:bucket.protect: got False; prod model buckets are protected"),
    ("aws-prod", "cluster.endpointPublicAccess", True, "kserve-fluid:cluster.publicAccessCidrs: got []; a prod API"),
    ("aws-prod", "cluster", {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
     "kserve-fluid:cluster.publicAccessCidrs: got ['0.0.0.0/0']"),
    ("aws-prod", "cluster", {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}, None),
    ("aws-dev", "bucket.url", "s3://other", "kserve-fluid:bucket.url: got 's3://other'; only for cloud 'existing'"),
    ("byo-dev", "bucket.url", None, "kserve-fluid:bucket.url: missing; with cloud 'existing' name the model bucket"),
    ("byo-dev", "bucket.readRole", None, "kserve-fluid:bucket.readRole: missing"),
    ("byo-dev", "bucket.region", None, "kserve-fluid:bucket.region: missing"),
    ("aws-dev", "cache.credentials", "static", "kserve-fluid:storageAccessKeyId: missing"),
])
def test_bad_input_names_key_value_and_allowed(stack, path, value, expected):
    if expected is None:
        cfg = raw(stack)
        set_in(path, value)(cfg)
        build_settings(cfg, stack, region="us-west-2")
        return
    found = problems(stack, set_in(path, value))
    assert any(p.startswith(expected) for p in found), found


def test_unknown_cloud_and_environment():
    assert problems("aws-dev", set_in("cloud", "gcp")) == [
        "kserve-fluid:cloud: got 'gcp'; use one of aws, alicloud, existing"]
    assert problems("aws-dev", set_in("environment", "qa")) == [
        "kserve-fluid:environment: got 'qa'; use one of dev, staging, prod"]


def test_unknown_top_level_key_is_reported_with_the_rest():
    found = problems("aws-dev", lambda c: c.update(gpupool={}, inference={"maxReplicas": 0}))
    assert any(p.startswith("kserve-fluid:gpupool: unknown key") for p in found)
    assert any(p.startswith("kserve-fluid:inference.maxReplicas") for p in found)


def test_fluid_addon_and_chart_cannot_coexist():
    found = problems("alicloud-dev", set_in("platform", {"mesh": "asm", "fluidSource": "ack-addon",
                                                         "install": {"fluid": True}}))
    assert any("cannot coexist" in p and p.startswith("kserve-fluid:platform.install.fluid") for p in found)
    cfg = raw("alicloud-dev")
    cfg["platform"] = {"mesh": "asm", "fluidSource": "ack-addon"}
    assert build_settings(cfg, "alicloud-dev").platform.install.fluid is False


def test_static_credentials_accepted_when_secrets_given():
    cfg = raw("aws-dev")
    cfg["cache"] = {**cfg["cache"], "credentials": "static"}
    s = build_settings(cfg, "aws-dev", secrets={"storageAccessKeyId": "id", "storageSecretAccessKey": "key"})
    assert s.cache.credentials == "static"


def test_every_error_is_one_line():
    found = problems("aws-prod", lambda c: c.update(endpoint={"auth": "none"}, gpuPool={"instanceType": "t3.large"}))
    assert len(found) >= 2 and all("\n" not in p for p in found)
