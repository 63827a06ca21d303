"""Each guardrail of policy/rules.py on passing and failing inputs, then the pack itself (policy/__main__.py)
driven through pulumi-policy's own Analyze path: secrets, unknown values, protect and the stack environment."""
from __future__ import annotations

import base64
import json
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi.runtime.config
import pulumi_policy.policy
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from policy import rules

ROOT = Path(__file__).resolve().parent.parent
FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
FAKE_ALIBABA_KEY = "LTAI5tExampleKey0123"


def check(rule: rules.Rule, resource_type: str, props: dict[str, Any], **kwargs: Any) -> list[str]:
    return rule(resource_type, props, **kwargs)


# ------------------------------------------------------------------------------------------------- S3

S3 = rules.s3_bucket_private_encrypted_versioned
GOOD_BLOCK = {"bucket": "b", "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
              "restrictPublicBuckets": True}
KMS_RULE = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"},
            "bucketKeyEnabled": True}


@pytest.mark.parametrize("props", [GOOD_BLOCK, {**GOOD_BLOCK, "restrictPublicBuckets": rules.UNKNOWN}])
def test_s3_public_access_block_passes(props: dict[str, Any]) -> None:
    assert check(S3, rules.S3_PUBLIC_ACCESS_BLOCK, props) == []


@pytest.mark.parametrize("flag", rules.PUBLIC_ACCESS_FLAGS)
@pytest.mark.parametrize("value", [False, None])
def test_s3_public_access_block_needs_all_four(flag: str, value: Any) -> None:
    props = {k: v for k, v in {**GOOD_BLOCK, flag: value}.items() if v is not None}
    assert check(S3, rules.S3_PUBLIC_ACCESS_BLOCK, props) == [
        f"{flag} must be true (got {value!r}): all four public-access blocks stay on"]


@pytest.mark.parametrize("rule", [KMS_RULE, {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
                                             "bucketKeyEnabled": True}])
def test_s3_encryption_passes(rule: dict[str, Any]) -> None:
    assert check(S3, rules.S3_ENCRYPTION, {"bucket": "b", "rules": [rule]}) == []
    assert check(S3, rules.S3_ENCRYPTION, {"bucket": "b", "rules": rules.UNKNOWN}) == []


@pytest.mark.parametrize(("rules_", "message"), [
    ([], "rules: missing"),
    ([{**KMS_RULE, "applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}],
     "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm: got 'none'"),
    ([{"bucketKeyEnabled": True}], "sseAlgorithm: got None"),
    ([{**KMS_RULE, "bucketKeyEnabled": False}], "rules[0].bucketKeyEnabled: got False"),
    ([{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}], "rules[0].bucketKeyEnabled: got None"),
])
def test_s3_encryption_fails(rules_: list[Any], message: str) -> None:
    problems = check(S3, rules.S3_ENCRYPTION, {"bucket": "b", "rules": rules_})
    assert len(problems) == 1 and message in problems[0]


def test_s3_versioning() -> None:
    assert check(S3, rules.S3_VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}) == []
    assert check(S3, rules.S3_VERSIONING, {"versioningConfiguration": {"status": "Suspended"}}) == [
        "versioningConfiguration.status: got 'Suspended'; must be 'Enabled'"]
    assert check(S3, rules.S3_VERSIONING, {}) == ["versioningConfiguration.status: got None; must be 'Enabled'"]


@pytest.mark.parametrize(("props", "kwargs", "expected"), [
    ({"forceDestroy": False}, {}, []),
    ({}, {"stack_env": "staging"}, []),
    ({"forceDestroy": False}, {"stack_env": "prod", "protect": True}, []),
    ({"forceDestroy": True}, {}, [("forceDestroy: true would let `pulumi destroy` delete every model object; "
                                  "leave it off")]),
    ({"forceDestroy": False}, {"stack_env": "prod"}, [("prod model bucket is not protected; set the `protect` "
                                                       "resource option (kserve-fluid:bucket.protect)")]),
])
def test_s3_bucket(props: dict[str, Any], kwargs: dict[str, Any], expected: list[str]) -> None:
    assert check(S3, rules.S3_BUCKET, props, **kwargs) == expected


def test_s3_rule_ignores_other_types() -> None:
    assert check(S3, "aws:s3/bucketPolicy:BucketPolicy", {"policy": "{}"}, stack_env="prod") == []


# ------------------------------------------------------------------------------------------------ OSS

OSS = rules.oss_bucket_private_encrypted_versioned
GOOD_OSS = {"bucket": "models", "serverSideEncryptionRule": {"sseAlgorithm": "KMS"},
            "versioning": {"status": "Enabled"}}


@pytest.mark.parametrize(("props", "kwargs"), [
    (GOOD_OSS, {}),
    ({**GOOD_OSS, "acl": "private", "serverSideEncryptionRule": {"sseAlgorithm": "AES256"}}, {}),
    ({**GOOD_OSS, "forceDestroy": False}, {"stack_env": "prod", "protect": True}),
])
def test_oss_bucket_passes(props: dict[str, Any], kwargs: dict[str, Any]) -> None:
    assert check(OSS, rules.OSS_BUCKET, props, **kwargs) == []


@pytest.mark.parametrize(("change", "kwargs", "message"), [
    ({"acl": "public-read"}, {}, "acl: got 'public-read'; must be 'private'"),
    ({"serverSideEncryptionRule": None}, {}, "serverSideEncryptionRule.sseAlgorithm: got None"),
    ({"serverSideEncryptionRule": {"sseAlgorithm": "SM4X"}}, {}, "sseAlgorithm: got 'SM4X'; use one of KMS, AES256"),
    ({"versioning": {"status": "Suspended"}}, {}, "versioning.status: got 'Suspended'"),
    ({"versioning": None}, {}, "versioning.status: got None"),
    ({"forceDestroy": True}, {}, "forceDestroy: true"),
    ({}, {"stack_env": "prod"}, "prod model bucket is not protected"),
])
def test_oss_bucket_fails(change: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    problems = check(OSS, rules.OSS_BUCKET, {**GOOD_OSS, **change}, **kwargs)
    assert len(problems) == 1 and message in problems[0]


def test_oss_bucket_acl_resource() -> None:
    assert check(OSS, rules.OSS_BUCKET_ACL, {"bucket": "models", "acl": "private"}) == []
    assert check(OSS, rules.OSS_BUCKET_ACL, {"bucket": "models", "acl": "public-read-write"}) == [
        "acl: got 'public-read-write'; model buckets are 'private'"]


# -------------------------------------------------------------------------------------- credentials

SECRET_RULE = rules.kubernetes_secret_credentials_are_secret
CREDENTIAL_KEYS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "fs.oss.accessKeyId",
                   "fs.oss.accessKeySecret", "fs.s3.accessKeyId", "fs.s3.accessKeySecret", "HF_TOKEN", "password"]


@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_credential_names(key: str) -> None:
    assert rules.looks_like_credential(key)


@pytest.mark.parametrize("key", ["fs.oss.endpoint", "bucket", "region", "kubeconfig-context", "HF_HUB_ENABLE"])
def test_not_credential_names(key: str) -> None:
    assert not rules.looks_like_credential(key)


@pytest.mark.parametrize("field", ["stringData", "data"])
@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_plaintext_credential_in_a_kubernetes_secret(field: str, key: str) -> None:
    props = {"metadata": {"name": "creds"}, field: {key: "c2VjcmV0", "fs.oss.endpoint": "oss-cn-hangzhou.aliyuncs.com"}}
    assert check(SECRET_RULE, rules.K8S_SECRET, props) == [
        (f"{field}.{key}: a credential in plaintext; pass it as a Pulumi secret "
        "(`pulumi config set --secret ...`, pulumi.Output.secret)")]


@pytest.mark.parametrize("secret_keys", [{"stringData/AWS_ACCESS_KEY_ID", "stringData/AWS_SECRET_ACCESS_KEY"},
                                         {"stringData"}])
def test_secret_credentials_pass(secret_keys: set[str]) -> None:
    props = {"stringData": {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key", "region": "us-west-2"}}
    assert check(SECRET_RULE, rules.K8S_SECRET, props, secret_keys=secret_keys) == []


def test_unknown_or_empty_credentials_are_not_judged() -> None:
    props = {"stringData": {"HF_TOKEN": rules.UNKNOWN, "AWS_SECRET_ACCESS_KEY": ""}, "data": rules.UNKNOWN}
    assert check(SECRET_RULE, rules.K8S_SECRET, props) == []
    assert check(SECRET_RULE, "kubernetes:core/v1:ConfigMap", {"data": {"token": "x"}}) == []


LITERAL = rules.no_literal_access_keys


@pytest.mark.parametrize(("resource_type", "props", "path", "what"), [
    ("kubernetes:helm.sh/v3:Release", {"values": {"env": [{"name": "KEY", "value": f"id={FAKE_AWS_KEY}"}]}},
     "values.env[0].value", "an AWS access key id"),
    ("alicloud:cs/managedKubernetes:ManagedKubernetes", {"tags": {"owner": FAKE_ALIBABA_KEY}}, "tags.owner",
     "an Alibaba Cloud AccessKey id"),
    (rules.K8S_SECRET, {"data": {"config": base64.b64encode(f"key: {FAKE_AWS_KEY}\n".encode()).decode()}},
     "data.config", "an AWS access key id"),
])
def test_literal_access_keys_fail(resource_type: str, props: dict[str, Any], path: str, what: str) -> None:
    problems = check(LITERAL, resource_type, props)
    assert problems == [(f"{path}: contains {what} in plaintext; use workload identity (IRSA/RRSA) or a secret "
                        "config value")]
    assert FAKE_AWS_KEY not in problems[0] and FAKE_ALIBABA_KEY not in problems[0]


@pytest.mark.parametrize(("props", "secret_keys"), [
    ({"stringData": {"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY}}, {"stringData/AWS_ACCESS_KEY_ID"}),
    ({"values": {"id": f"x{FAKE_AWS_KEY}"}}, set()),  # part of a longer token, not a key id
    ({"values": {"id": "AKIA1234"}}, set()),
    ({"data": {"blob": "bm90IGEga2V5"}}, set()),
])
def test_literal_access_keys_pass(props: dict[str, Any], secret_keys: set[str]) -> None:
    assert check(LITERAL, rules.K8S_SECRET, props, secret_keys=secret_keys) == []


def test_secret_paths() -> None:
    class Wrapped:
        pass
    secret = Wrapped()
    value = {"a": secret, "b": [1, secret, {"c": secret}], "d": {"e": "plain"}}
    assert rules.secret_paths(value, lambda v: v is secret) == {"a", "b/1", "b/2/c"}


# ------------------------------------------------------------------------------------------- clusters

EKS = rules.eks_cluster_encrypted_private_in_prod
KEYED = {"name": "kf-prod", "encryptionConfigKeyArn": "arn:aws:kms:us-west-2:1:key/k"}


@pytest.mark.parametrize(("props", "env"), [
    (KEYED, "dev"),
    ({**KEYED, "encryptionConfigKeyArn": rules.UNKNOWN}, "dev"),
    ({**KEYED, "endpointPublicAccess": False}, "prod"),
    ({**KEYED, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}, "prod"),
    ({**KEYED, "publicAccessCidrs": rules.UNKNOWN}, "prod"),
])
def test_eks_passes(props: dict[str, Any], env: str) -> None:
    assert check(EKS, rules.EKS_CLUSTER, props, stack_env=env) == []


@pytest.mark.parametrize(("props", "env", "message"), [
    ({"name": "kf-dev"}, "dev", "encryptionConfigKeyArn: missing"),
    (KEYED, "prod", "prod API server is open to the internet"),
    ({**KEYED, "endpointPublicAccess": True, "publicAccessCidrs": []}, "prod", "prod API server is open"),
    ({**KEYED, "publicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]}, "prod", "prod API server is open"),
])
def test_eks_fails(props: dict[str, Any], env: str, message: str) -> None:
    problems = check(EKS, rules.EKS_CLUSTER, props, stack_env=env)
    assert len(problems) == 1 and message in problems[0]


def test_ack_encryption_in_prod() -> None:
    ack = rules.ack_cluster_encrypted_in_prod
    assert check(ack, rules.ACK_CLUSTER, {"name": "kf-prod", "encryptionProviderKey": "key-id"}, stack_env="prod") == []
    assert check(ack, rules.ACK_CLUSTER, {"name": "kf-dev"}, stack_env="dev") == []
    assert check(ack, rules.ACK_CLUSTER, {"name": "kf-prod"}, stack_env="prod") == [
        "encryptionProviderKey: missing; a prod ACK cluster encrypts Kubernetes Secrets with a KMS key"]


# ----------------------------------------------------------------------------------- InferenceService

GPU = rules.gpu_inference_tolerates_taint_and_requests_gpus
TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
ON_GPU_NODES = {"nvidia.com/gpu.present": "true"}


def isvc(**predictor: Any) -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "spec": {"predictor": predictor}}


def model(gpus: Any) -> dict[str, Any]:
    return {"modelFormat": {"name": "huggingface"}, "resources": {"limits": {"nvidia.com/gpu": gpus, "cpu": "4"}}}


@pytest.mark.parametrize("props", [
    isvc(model=model(1), tolerations=[TOLERATION], nodeSelector=ON_GPU_NODES, maxReplicas=1),
    isvc(model=model(1.0), tolerations=[{"operator": "Exists"}]),
    isvc(containers=[{"name": "kserve-container", "resources": {"limits": {"nvidia.com/gpu": "2"}}}],
         tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]),
    isvc(model={"modelFormat": {"name": "sklearn"}}),
    isvc(model=model(rules.UNKNOWN)),
])
def test_gpu_predictor_passes(props: dict[str, Any]) -> None:
    assert check(GPU, rules.INFERENCE_SERVICE, props) == []


@pytest.mark.parametrize(("props", "message"), [
    (isvc(model=model(1)), "spec.predictor requests nvidia.com/gpu but has no toleration"),
    (isvc(model=model(1), tolerations=[{"key": "kserve-fluid/cache", "operator": "Exists"}]), "has no toleration"),
    (isvc(containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]), "has no toleration"),
    (isvc(model={"modelFormat": {"name": "huggingface"}}, nodeSelector=ON_GPU_NODES),
     "spec.predictor is pinned to GPU nodes (nvidia.com/gpu.present=true) but requests no nvidia.com/gpu"),
    (isvc(model=model(0), tolerations=[TOLERATION], nodeSelector=ON_GPU_NODES), "requests no nvidia.com/gpu"),
])
def test_gpu_predictor_fails(props: dict[str, Any], message: str) -> None:
    problems = check(GPU, rules.INFERENCE_SERVICE, props)
    assert len(problems) == 1 and message in problems[0]


REPLICAS = rules.inference_replicas_bounded


@pytest.mark.parametrize("predictor", [
    {"minReplicas": 0, "maxReplicas": 4}, {"maxReplicas": 32}, {"minReplicas": 1.0, "maxReplicas": 1.0},
    {"maxReplicas": rules.UNKNOWN},
])
def test_replicas_pass(predictor: dict[str, Any]) -> None:
    assert check(REPLICAS, rules.INFERENCE_SERVICE, isvc(**predictor)) == []


@pytest.mark.parametrize(("predictor", "message"), [
    ({"minReplicas": 0}, ("spec.predictor.maxReplicas: got None; set an integer from 1 to 32 (missing or 0 means "
                         "unbounded; kserve-fluid:inference.maxReplicas)")),
    ({"maxReplicas": 0}, "maxReplicas: got 0;"),
    ({"maxReplicas": 33}, "maxReplicas: got 33;"),
    ({"maxReplicas": 2.5}, "maxReplicas: got 2.5;"),
    ({"maxReplicas": True}, "maxReplicas: got True;"),
    ({"minReplicas": 3, "maxReplicas": 2}, "spec.predictor.minReplicas 3 exceeds maxReplicas 2"),
])
def test_replicas_fail(predictor: dict[str, Any], message: str) -> None:
    problems = check(REPLICAS, rules.INFERENCE_SERVICE, isvc(**predictor))
    assert len(problems) == 1 and message in problems[0]


def test_inference_rules_ignore_other_types() -> None:
    deployment = {"spec": {"predictor": {"maxReplicas": 0}}}
    assert check(REPLICAS, "kubernetes:apps/v1:Deployment", deployment) == []
    assert check(GPU, "kubernetes:apps/v1:Deployment", deployment) == []


# ---------------------------------------------------------------------------------------------- Helm

HELM = rules.helm_chart_version_pinned


@pytest.mark.parametrize("version", ["v1.21.1", "1.0.8", "0.20.0", "9.59.0", "v0.20.0", "1.2.3-rc.1+build.5"])
@pytest.mark.parametrize("resource_type", [rules.HELM_RELEASE, rules.HELM_CHART_V4])
def test_pinned_chart_versions_pass(resource_type: str, version: str) -> None:
    assert check(HELM, resource_type, {"chart": "fluid", "version": version}) == []


@pytest.mark.parametrize("version", ["latest", "1.2.*", "*", "^1.2.0", "~1.2.0", ">=1.0.0", "<2", "1.x", "1.X.0",
                                     "x", ">1.0 <2.0", "1.0 || 2.0"])
def test_ranges_and_tags_fail(version: str) -> None:
    assert check(HELM, rules.HELM_RELEASE, {"chart": "fluid", "version": version}) == [
        f"fluid: version {version!r} is a range or tag, not one exact version"]


@pytest.mark.parametrize("props", [{"chart": "fluid"}, {"chart": "fluid", "version": ""},
                                   {"chart": "fluid", "version": "  "}])
def test_missing_chart_version_fails(props: dict[str, Any]) -> None:
    assert check(HELM, rules.HELM_RELEASE, props) == ["fluid: no version; pin an exact chart version"]


def test_check_all_names_the_guardrail() -> None:
    assert rules.check_all(rules.HELM_RELEASE, {"chart": "fluid"}) == [
        "helm-chart-version-pinned: fluid: no version; pin an exact chart version"]
    assert len({g.name for g in rules.GUARDRAILS}) == len(rules.GUARDRAILS)


# ------------------------------------------------------------------------ the pack, through pulumi-policy

SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def wire_secret(value: Any) -> dict[str, Any]:
    return {SIG: SECRET_SIG, "value": value}


@pytest.fixture
def pack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """policy/__main__.py loaded as the CLI loads it (its directory first on sys.path), not served."""
    monkeypatch.syspath_prepend(str(ROOT / "policy"))
    monkeypatch.delitem(sys.modules, "rules", raising=False)
    module = runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="kserve_fluid_policy_pack")
    monkeypatch.setattr(pulumi_policy.policy, "deserialize_properties", module["deserialize_marking_secrets"])
    config = dict(pulumi.runtime.config.CONFIG.get())
    yield module
    sys.modules.pop("rules", None)
    pulumi.runtime.config.CONFIG.get().clear()
    pulumi.runtime.config.CONFIG.get().update(config)


def analyze(pack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, resource_type: str, props: dict[str, Any], *,
            protect: bool = False, environment: str | None = None) -> list[tuple[str, str]]:
    """(policy, message) of every diagnostic the pack reports for one resource, as the engine would see them."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"kserve-fluid:environment": environment} if environment else {}))
    pulumi.runtime.config.CONFIG.get().clear()
    servicer = pulumi_policy.policy._PolicyAnalyzerServicer(
        pack["PACK_NAME"], "0.1.0", pack["POLICIES"], pulumi_policy.EnforcementLevel.MANDATORY)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type, name="r", urn=f"urn:pulumi:s::kserve-fluid::{resource_type}::r",
        properties=json_format.ParseDict(props, struct_pb2.Struct()),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect))
    response = servicer.Analyze(request, None)
    return [(d.policyName, d.message) for d in response.diagnostics]


def test_the_pack_serves_every_guardrail(pack: dict[str, Any]) -> None:
    assert [p.name for p in pack["POLICIES"]] == [g.name for g in rules.GUARDRAILS]
    assert pack["PACK_NAME"] == "kserve-fluid-guardrails"


def test_pack_sees_which_inputs_are_secrets(pack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    secret = {"stringData": {"AWS_ACCESS_KEY_ID": wire_secret(FAKE_AWS_KEY), "region": "us-west-2"}}
    assert analyze(pack, monkeypatch, rules.K8S_SECRET, secret) == []
    whole = {"stringData": wire_secret({"fs.oss.accessKeyId": FAKE_ALIBABA_KEY, "fs.oss.accessKeySecret": "s"})}
    assert analyze(pack, monkeypatch, rules.K8S_SECRET, whole) == []
    plain = {"stringData": {"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY}}
    diagnostics = analyze(pack, monkeypatch, rules.K8S_SECRET, plain)
    assert [name for name, _ in diagnostics] == ["kubernetes-secret-credentials-are-secret", "no-literal-access-keys"]
    assert "stringData.AWS_ACCESS_KEY_ID: a credential in plaintext" in diagnostics[0][1]
    assert all(FAKE_AWS_KEY not in message for _, message in diagnostics)


def test_pack_reads_the_stack_environment_and_protect(pack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = {"forceDestroy": False}
    assert analyze(pack, monkeypatch, rules.S3_BUCKET, bucket) == []
    assert analyze(pack, monkeypatch, rules.S3_BUCKET, bucket, environment="staging") == []
    assert analyze(pack, monkeypatch, rules.S3_BUCKET, bucket, environment="prod", protect=True) == []
    diagnostics = analyze(pack, monkeypatch, rules.S3_BUCKET, bucket, environment="prod")
    assert [name for name, _ in diagnostics] == ["s3-bucket-private-encrypted-versioned"]
    assert "prod model bucket is not protected" in diagnostics[0][1]


def test_pack_defers_checks_on_unknown_values(pack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown KMS key ARN during preview neither fails nor turns the policy into an advisory note, and the
    known inputs of the same resource are still checked."""
    cluster = {"name": "kf-prod", "encryptionConfigKeyArn": UNKNOWN_STRING, "endpointPublicAccess": False}
    assert analyze(pack, monkeypatch, rules.EKS_CLUSTER, cluster, environment="prod") == []
    diagnostics = analyze(pack, monkeypatch, rules.EKS_CLUSTER, {**cluster, "endpointPublicAccess": True},
                          environment="prod")
    assert [name for name, _ in diagnostics] == ["eks-cluster-encrypted-private-in-prod"]
    assert "prod API server is open to the internet" in diagnostics[0][1]


def test_pack_reads_engine_numbers(pack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine sends numbers as floats (4.0): still a valid maxReplicas."""
    props = isvc(model=model(1), tolerations=[TOLERATION], minReplicas=0, maxReplicas=4)
    assert analyze(pack, monkeypatch, rules.INFERENCE_SERVICE, props) == []
    diagnostics = analyze(pack, monkeypatch, rules.INFERENCE_SERVICE, isvc(model=model(1), tolerations=[TOLERATION]))
    assert [name for name, _ in diagnostics] == ["inference-replicas-bounded"]
