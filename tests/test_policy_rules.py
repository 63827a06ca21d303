"""Each guardrail of policy/rules/ on small passing and failing inputs: the edges of every rule and of the
shared helpers (CIDR coverage, image pins, policy documents, tolerations, versions, credential shapes).

The same rules on what the real program registers are in test_policy_stacks.py (committed stacks, bad
configs, mutations) and test_policy_programs.py (bad programs through the real SDKs); the served pack is in
test_policy_pack.py.
"""
from __future__ import annotations

import ast
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import scheduling
from policy import rules
from policy.rules import cloud, credentials, kubernetes, stack, values
from policy.rules.values import UNKNOWN, Context, Resource

ROOT = Path(__file__).resolve().parent.parent
FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
FAKE_HF_TOKEN = "hf_" + "a1B2c3D4e5" * 4
NO_CONTEXT = Context()


def res(kind: str, props: dict[str, Any] | None = None, *, name: str = "r", protect: bool = False,
        deps: dict[str, tuple[str, ...]] | None = None) -> Resource:
    return Resource(kind, name, props or {}, protect=protect, urn=f"urn:pulumi:s::p::{kind}::{name}",
                    property_dependencies=deps or {})


def messages(rule: rules.ResourceRule, kind: str, props: dict[str, Any], **kwargs: Any) -> list[str]:
    return rule(res(kind, props, **kwargs), NO_CONTEXT)


def findings(rule: rules.StackRule, resources: list[Resource], context: Context = NO_CONTEXT) -> list[tuple[str, str]]:
    return [(f.resource.name if f.resource else "", f.message) for f in rule(resources, context)]


def one(problems: list[Any], fragment: str) -> None:
    """Exactly one problem, and it says `fragment`."""
    assert len(problems) == 1, problems
    assert fragment in str(problems[0]), problems


# ---------------------------------------------------------------------------------------- the catalogue

def test_guardrail_names_are_unique_and_every_rule_has_a_docstring() -> None:
    names = [g.name for g in (*rules.GUARDRAILS, *rules.STACK_GUARDRAILS)]
    assert len(names) == len(set(names))
    assert all(g.check.__doc__ and len(g.check.__doc__) > 60 for g in (*rules.GUARDRAILS, *rules.STACK_GUARDRAILS))


def test_the_pack_reads_no_environment_label() -> None:
    """The stack's own `environment` is not an input of any rule: a relabelled stack is judged the same."""
    for source in [ROOT / "policy" / "__main__.py", *(ROOT / "policy" / "rules").glob("*.py")]:
        constants = {n.value for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.Constant)}
        assert not constants & {"environment", "kserve-fluid:environment"}, source


def test_secret_config_keys_are_the_projects_secret_keys() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(credentials.SECRET_CONFIG_KEYS) == {k for k, v in declared.items() if isinstance(v, dict) and v.get("secret")}


def test_gpu_taint_is_the_one_the_node_pools_carry() -> None:
    assert kubernetes.GPU_TAINT == scheduling.GPU_TAINT


# ---------------------------------------------------------------------------------------------- helpers

@pytest.mark.parametrize(("cidrs", "wide"), [
    (["0.0.0.0/0"], True), (["1.2.3.4/0"], True), (["0.0.0.0/1", "128.0.0.0/1"], True), (["::/0"], True),
    (["10.0.0.0/8"], False), (["203.0.113.0/24", "198.51.100.0/24"], False), (["100.0.0.0/15"], True),
    (["100.0.0.0/16"], False), (["2001:db8::/48"], False), (["not-a-cidr"], True), ([UNKNOWN], False),
])
def test_internet_wide(cidrs: list[Any], wide: bool) -> None:
    assert values.internet_wide(cidrs) is wide


@pytest.mark.parametrize(("cidrs", "private"), [
    (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], True), ([], False), (["10.0.0.0/7"], False),
    (["0.0.0.0/0"], False), (["fd00::/8"], True),
])
def test_private_only(cidrs: list[str], private: bool) -> None:
    assert values.private_only(cidrs) is private


@pytest.mark.parametrize(("reference", "problem"), [
    ("kserve/huggingfaceserver:v0.20.0-gpu", None), ("ghcr.io/kserve-fluid/model-ingest:v0.2.0", None),
    ("registry.example.com:5000/a/b:6.9.1-202509151826", None), ("a/b@sha256:" + "0" * 64, None),
    ("docker.io/randomuser/vllm:dev", "moves"), ("python:latest", "moves"), ("python", "no tag"),
    ("registry.example.com:5000/a/b", "no tag"), ("kserve/huggingfaceserver:gpu", "moves"),
])
def test_image_problem(reference: str, problem: str | None) -> None:
    found = values.image_problem(reference)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(("version", "exact"), [
    ("v1.21.1", True), ("1.0.8", True), ("1.2.3-rc.1+build.5", True), ("1", False), ("0.15", False),
    ("1.x", False), ("^1.2.0", False), ("latest", False), (">=1.0.0", False), ("1.2.*", False),
])
def test_exact_version(version: str, exact: bool) -> None:
    assert bool(values.EXACT_VERSION.fullmatch(version)) is exact


@pytest.mark.parametrize("principal", ["*", ["*"], {"AWS": "*"}, {"*": ["*"]}, {"AWS": ["arn:x", "*"]}])
def test_public_principal_spellings(principal: Any) -> None:
    assert values.public_principal({"Principal": principal})
    assert not values.public_principal({"Principal": {"AWS": "arn:aws:iam::1:root"}})


def test_statements_parse_json_strings_single_statements_and_unknowns() -> None:
    assert values.statements(json.dumps({"Statement": {"Effect": "Allow"}})) == [{"Effect": "Allow"}]
    assert values.statements(UNKNOWN) is None and values.statements("{not json") is None


def test_same_source_by_value_or_by_dependency() -> None:
    a = res("t", {"bucket": "b1"}, deps={"bucket": ("urn:x",)})
    assert a.same_source("bucket", res("u", {"name": "b1"}), "name")
    assert a.same_source("bucket", res("u", {"name": UNKNOWN}, deps={"name": ("urn:x",)}), "name")
    assert not a.same_source("bucket", res("u", {"name": "b2"}), "name")


# ------------------------------------------------------------------------------------------------- S3

GOOD_BLOCK = {flag: True for flag in cloud.PUBLIC_ACCESS_FLAGS}
KMS_RULE = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"},
            "bucketKeyEnabled": True}
DENY_PLAIN_HTTP = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:b", "arn:b/*"],
                                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
PUBLIC_READ = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:b/*"}]}


@pytest.mark.parametrize("props", [GOOD_BLOCK, {**GOOD_BLOCK, "ignorePublicAcls": "true"},
                                   {**GOOD_BLOCK, "restrictPublicBuckets": UNKNOWN}])
def test_public_access_block_passes(props: dict[str, Any]) -> None:
    assert messages(cloud.s3_bucket_not_public, cloud.S3_PUBLIC_ACCESS_BLOCK, props) == []


@pytest.mark.parametrize("flag", cloud.PUBLIC_ACCESS_FLAGS)
def test_public_access_block_needs_all_four(flag: str) -> None:
    one(messages(cloud.s3_bucket_not_public, cloud.S3_PUBLIC_ACCESS_BLOCK, {**GOOD_BLOCK, flag: False}), flag)


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    (cloud.S3_BUCKETS[0], {"acl": "public-read-write"}, "acl 'public-read-write'"),
    (cloud.S3_BUCKETS[1], {"grants": [{"type": "Group", "uri": cloud.PUBLIC_GRANTEES[0], "permissions": ["READ"]}]},
     "AllUsers"),
    (cloud.S3_BUCKETS[0], {"policy": json.dumps(PUBLIC_READ)}, "allows s3:GetObject to Principal '*'"),
    (cloud.S3_POLICY, {"policy": PUBLIC_READ}, "Principal '*'"),
    (cloud.S3_ACLS[1], {"acl": "public-read"}, "acl 'public-read'"),
    (cloud.S3_ACLS[0], {"accessControlPolicy": {"grants": [{"grantee": {"uri": cloud.PUBLIC_GRANTEES[1]}}]}},
     "AuthenticatedUsers"),
])
def test_public_buckets_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(cloud.s3_bucket_not_public, kind, props), fragment)


def test_confined_or_denying_policies_are_not_public() -> None:
    confined = {"Statement": [{**PUBLIC_READ["Statement"][0], "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}
    for policy in (confined, DENY_PLAIN_HTTP):
        assert messages(cloud.s3_bucket_not_public, cloud.S3_POLICY, {"policy": policy}) == []


@pytest.mark.parametrize(("kind", "props"), [
    (cloud.S3_ENCRYPTION[0], {"rules": [KMS_RULE]}),
    (cloud.S3_ENCRYPTION[1], {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
    (cloud.S3_ENCRYPTION[0], {"rules": UNKNOWN}),
    (cloud.S3_VERSIONING[0], {"versioningConfiguration": {"status": "Enabled"}}),
    (cloud.S3_BUCKETS[0], {"versioning": {"enabled": True}, "serverSideEncryptionConfiguration": {"rule": KMS_RULE}}),
])
def test_s3_encryption_and_versioning_pass(kind: str, props: dict[str, Any]) -> None:
    """AES256 needs no bucket key: that is an SSE-KMS feature (the old rule failed it)."""
    assert messages(cloud.s3_bucket_encrypted_and_versioned, kind, props) == []


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    (cloud.S3_ENCRYPTION[0], {"rules": []}, "no default encryption rule"),
    (cloud.S3_ENCRYPTION[0], {"rules": [{**KMS_RULE, "bucketKeyEnabled": False}]}, "bucketKeyEnabled False"),
    (cloud.S3_ENCRYPTION[1], {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}]}, "'none'"),
    (cloud.S3_VERSIONING[1], {"versioningConfiguration": {"status": "Suspended"}}, "not Enabled"),
    (cloud.S3_BUCKETS[1], {"versionings": [{"enabled": False}]}, "not Enabled"),
    (cloud.S3_BUCKETS[1], {"serverSideEncryptionConfigurations": [{"rules": [
        {"applyServerSideEncryptionByDefaults": [{"sseAlgorithm": "aws:kms"}]}]}]}, "bucketKeyEnabled None"),
])
def test_s3_encryption_and_versioning_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(cloud.s3_bucket_encrypted_and_versioned, kind, props), fragment)


# ------------------------------------------------------------------------------------------------ OSS

@pytest.mark.parametrize(("kind", "props", "rule", "fragment"), [
    (cloud.OSS_BUCKET, {"acl": "public-read"}, cloud.oss_bucket_not_public, "acl 'public-read'"),
    (cloud.OSS_ACL, {"acl": "public-read-write"}, cloud.oss_bucket_not_public, "'public-read-write'"),
    (cloud.OSS_POLICY, {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": ["*"],
                                                           "Action": ["oss:GetObject"]}]})},
     cloud.oss_bucket_not_public, "Principal '*'"),
    (cloud.OSS_PUBLIC_ACCESS_BLOCK, {"blockPublicAccess": False}, cloud.oss_bucket_not_public, "blockPublicAccess"),
    (cloud.OSS_ENCRYPTION, {"sseAlgorithm": "none"}, cloud.oss_bucket_encrypted_and_versioned, "'none'"),
    (cloud.OSS_BUCKET, {"serverSideEncryptionRule": {"sseAlgorithm": "XOR"}}, cloud.oss_bucket_encrypted_and_versioned,
     "'XOR'"),
    (cloud.OSS_VERSIONING, {"status": "Suspended"}, cloud.oss_bucket_encrypted_and_versioned, "not Enabled"),
])
def test_oss_controls_fail(kind: str, props: dict[str, Any], rule: rules.ResourceRule, fragment: str) -> None:
    one(messages(rule, kind, props), fragment)


@pytest.mark.parametrize(("kind", "props"), [
    (cloud.OSS_BUCKET, {"acl": "private", "serverSideEncryptionRule": {"sseAlgorithm": "KMS"}}),
    (cloud.OSS_BUCKET, {}), (cloud.OSS_ACL, {"acl": "private"}), (cloud.OSS_ENCRYPTION, {"sseAlgorithm": "SM4"}),
    (cloud.OSS_VERSIONING, {"status": "Enabled"}),
])
def test_oss_controls_pass(kind: str, props: dict[str, Any]) -> None:
    assert messages(cloud.oss_bucket_not_public, kind, props) == []
    assert messages(cloud.oss_bucket_encrypted_and_versioned, kind, props) == []


# -------------------------------------------------------------------------------------- control planes

PLANE = cloud.control_plane_encrypted_and_audited
EKS_INPUTS = {"name": "kf", "encryptionConfigKeyArn": "arn:k", "enabledClusterLogTypes": list(cloud.EKS_LOG_TYPES)}
EKS_CHILD = {"encryptionConfig": {"provider": {"keyArn": "arn:k"}, "resources": ["secrets"]},
             "enabledClusterLogTypes": list(cloud.EKS_LOG_TYPES), "vpcConfig": {"endpointPublicAccess": False}}
ACK = {"encryptionProviderKey": "key-1", "controlPlaneLogComponents": ["apiserver", "kcm"], "slbInternetEnabled": False}


@pytest.mark.parametrize(("kind", "props"), [
    (cloud.EKS_COMPONENT, EKS_INPUTS), (cloud.EKS_CLUSTER, EKS_CHILD), (cloud.ACK_CLUSTER, ACK),
    (cloud.EKS_COMPONENT, {}),  # inputs not sent: the aws:eks/cluster:Cluster child is judged instead
    (cloud.EKS_COMPONENT, {"kubeconfig": "...", "core": {}}),  # the component's outputs (stack policies)
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "encryptionConfig": UNKNOWN}),
])
def test_control_planes_pass(kind: str, props: dict[str, Any]) -> None:
    assert messages(PLANE, kind, props) == []


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "encryptionConfigKeyArn": None}, "not envelope-encrypted"),
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "enabledClusterLogTypes": ["api"]}, "miss audit, authenticator"),
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "encryptionConfig": None}, "not envelope-encrypted"),
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "encryptionConfig": {"provider": {"keyArn": "k"}, "resources": ["other"]}},
     "not envelope-encrypted"),
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "enabledClusterLogTypes": None}, "miss api, audit, authenticator"),
    (cloud.ACK_CLUSTER, {**ACK, "encryptionProviderKey": ""}, "encryptionProviderKey"),
    (cloud.ACK_CLUSTER, {**ACK, "controlPlaneLogComponents": []}, "miss apiserver"),
    (cloud.ACK_CLUSTER, {**ACK, "auditLogConfig": {"enabled": False}}, "audit log"),
])
def test_control_planes_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(PLANE, kind, props), fragment)


@pytest.mark.parametrize(("kind", "props", "reachable"), [
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}, True),
    (cloud.EKS_COMPONENT, {**EKS_INPUTS}, True),  # EKS defaults: public, 0.0.0.0/0
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, True),
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "publicAccessCidrs": ["1.2.3.4/0"]}, True),
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "publicAccessCidrs": ["203.0.113.0/24"]}, False),
    (cloud.EKS_COMPONENT, {**EKS_INPUTS, "endpointPublicAccess": False}, False),
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "vpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}}, True),
    (cloud.EKS_CLUSTER, EKS_CHILD, False),
    (cloud.EKS_CLUSTER, {**EKS_CHILD, "vpcConfig": UNKNOWN}, UNKNOWN),
    (cloud.ACK_CLUSTER, {**ACK, "slbInternetEnabled": True}, True), (cloud.ACK_CLUSTER, ACK, False),
])
def test_internet_reachable_api_servers(kind: str, props: dict[str, Any], reachable: Any) -> None:
    plane = cloud.control_plane(res(kind, props))
    assert plane is not None and plane.internet_reachable is reachable


# ------------------------------------------------------------------------------------------- machines

COMPUTE = cloud.compute_imdsv2_encrypted_disks_private
IMDS = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
TEMPLATE = {"metadataOptions": IMDS, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]}
INSTANCE = {"metadataOptions": IMDS, "rootBlockDevice": {"encrypted": True}, "associatePublicIpAddress": False}
ECS = {"httpTokens": "required", "systemDiskEncrypted": True, "internetMaxBandwidthOut": 0}
POOL = {"instanceMetadataOptions": {"httpTokens": "required"}, "systemDiskEncrypted": True}


@pytest.mark.parametrize(("kind", "props"), [
    (cloud.LAUNCH_TEMPLATE, TEMPLATE), (cloud.LAUNCH_TEMPLATE, {**TEMPLATE, "metadataOptions": {"httpEndpoint": "disabled"}}),
    (cloud.EC2_INSTANCE, INSTANCE), (cloud.EKS_NODE_GROUP, {"launchTemplate": {"id": "lt-1"}}),
    (cloud.ECS_INSTANCE, ECS), (cloud.ACK_NODE_POOL, POOL), (cloud.EBS_VOLUME, {"encrypted": True}),
])
def test_machines_pass(kind: str, props: dict[str, Any]) -> None:
    assert messages(COMPUTE, kind, props) == []


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    (cloud.LAUNCH_TEMPLATE, {**TEMPLATE, "metadataOptions": {**IMDS, "httpTokens": "optional"}}, "httpTokens 'optional'"),
    (cloud.LAUNCH_TEMPLATE, {**TEMPLATE, "metadataOptions": {**IMDS, "httpPutResponseHopLimit": 2}}, "HopLimit 2"),
    (cloud.LAUNCH_TEMPLATE, {**TEMPLATE, "blockDeviceMappings": [{"ebs": {"encrypted": "false"}}]}, "not encrypted"),
    (cloud.LAUNCH_TEMPLATE, {"metadataOptions": IMDS}, "no blockDeviceMappings"),
    (cloud.EC2_INSTANCE, {**INSTANCE, "metadataOptions": {"httpPutResponseHopLimit": 1}}, "httpTokens None"),
    (cloud.EC2_INSTANCE, {**INSTANCE, "ebsBlockDevices": [{"encrypted": False}]}, "ebsBlockDevices[0]"),
    (cloud.EC2_INSTANCE, {**INSTANCE, "associatePublicIpAddress": True}, "associatePublicIpAddress"),
    (cloud.EKS_NODE_GROUP, {}, "no launchTemplate"),
    (cloud.EKS_NODE_GROUP, {"launchTemplate": {"id": "lt"}, "remoteAccess": {"ec2SshKey": "k"}}, "SSH"),
    (cloud.ECS_INSTANCE, {**ECS, "httpTokens": "optional"}, "IMDSv2"),
    (cloud.ECS_INSTANCE, {**ECS, "internetMaxBandwidthOut": 10}, "public address"),
    (cloud.ACK_NODE_POOL, {"systemDiskEncrypted": True}, "IMDSv2"),
    (cloud.ACK_NODE_POOL, {**POOL, "systemDiskEncrypted": False}, "system disk"),
    (cloud.ACK_NODE_POOL, {**POOL, "dataDisks": [{"encrypted": "false"}]}, "dataDisks[0]"),
    (cloud.EBS_VOLUME, {}, "not encrypted"),
])
def test_machines_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(COMPUTE, kind, props), fragment)


# ------------------------------------------------------------------------------- keys, networks, IAM

@pytest.mark.parametrize(("kind", "props", "fragment"), [
    (cloud.AWS_KMS_KEY, {"enableKeyRotation": True}, None),
    (cloud.AWS_KMS_KEY, {"customerMasterKeySpec": "RSA_2048"}, None),
    (cloud.AWS_KMS_KEY, {}, "enableKeyRotation"),
    (cloud.AWS_KMS_KEY, {"enableKeyRotation": True, "rotationPeriodInDays": 2560}, "exceeds 365"),
    (cloud.ALICLOUD_KMS_KEY, {"automaticRotation": "Enabled", "rotationInterval": "365d"}, None),
    (cloud.ALICLOUD_KMS_KEY, {"automaticRotation": "Enabled", "rotationInterval": "8760h"}, None),
    (cloud.ALICLOUD_KMS_KEY, {"automaticRotation": "Disabled"}, "automaticRotation"),
    (cloud.ALICLOUD_KMS_KEY, {"automaticRotation": "Enabled", "rotationInterval": "730d"}, "rotationInterval"),
])
def test_kms_keys_rotate(kind: str, props: dict[str, Any], fragment: str | None) -> None:
    problems = messages(cloud.kms_keys_rotate, kind, props)
    assert problems == [] if fragment is None else (one(problems, fragment) or True)


@pytest.mark.parametrize(("kind", "props", "wide"), [
    (cloud.SECURITY_GROUP, {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22}]}, True),
    (cloud.SECURITY_GROUP, {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}], "ingress": [{"cidrBlocks": ["10.0.0.0/16"]}]}, False),
    (cloud.SECURITY_GROUP_RULE, {"type": "ingress", "ipv6CidrBlocks": ["::/0"]}, True),
    (cloud.SECURITY_GROUP_RULE, {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]}, False),
    (cloud.SECURITY_GROUP_INGRESS, {"cidrIpv4": "0.0.0.0/0"}, True),
    (cloud.SECURITY_GROUP_INGRESS, {"referencedSecurityGroupId": "sg-1"}, False),
    (cloud.ECS_SECURITY_GROUP_RULE, {"type": "ingress", "cidrIp": "0.0.0.0/0"}, True),
    (cloud.ECS_SECURITY_GROUP_RULE, {"type": "egress", "cidrIp": "0.0.0.0/0"}, False),
])
def test_no_internet_ingress(kind: str, props: dict[str, Any], wide: bool) -> None:
    assert bool(messages(cloud.no_internet_ingress, kind, props)) is wide


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    ("aws:iam/rolePolicy:RolePolicy", {"policy": policy_document({"Effect": "Allow", "Action": "*", "Resource": "*"})},
     "Action '*'"),
    ("aws:iam/policy:Policy", {"policy": policy_document({"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:b"})},
     "'s3:*'"),
    ("aws:iam/rolePolicy:RolePolicy", {"policy": policy_document({"Effect": "Allow", "Action": ["s3:GetObject"],
                                                                  "Resource": "*"})}, "every bucket or key"),
    ("alicloud:ram/policy:Policy", {"policyDocument": policy_document({"Effect": "Allow", "NotAction": "ram:*",
                                                                       "Resource": "*"})}, "NotAction"),
    ("aws:iam/role:Role", {"assumeRolePolicy": policy_document({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                                "Action": "sts:AssumeRole"})}, "anyone"),
])
def test_broad_iam_policies_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(cloud.iam_policies_least_privilege, kind, props), fragment)


def test_scoped_iam_policies_pass() -> None:
    scoped = policy_document({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:b/models/*"]},
                             {"Effect": "Allow", "Action": ["ec2:DescribeImages", "s3:ListAllMyBuckets"], "Resource": "*"},
                             {"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert messages(cloud.iam_policies_least_privilege, "aws:iam/rolePolicy:RolePolicy", {"policy": scoped}) == []


# ---------------------------------------------------------------------------------------- credentials

@pytest.mark.parametrize("name", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "fs.oss.accessKeyId",
                                  "fs.oss.accessKeySecret", "fs.s3.accessKeySecret", "HF_TOKEN", "password",
                                  "OPENAI_API_KEY", "credentials", "tls.key", ".dockerconfigjson"])
def test_credential_names(name: str) -> None:
    assert credentials.looks_like_credential(name)


@pytest.mark.parametrize("name", ["fs.oss.endpoint", "bucket", "kubeconfig-context", "HF_HUB_ENABLE", "secretName",
                                  "tokenTTL", "automountServiceAccountToken.enabled", "keySecretRef"])
def test_not_credential_names(name: str) -> None:
    assert not credentials.looks_like_credential(name)


@pytest.mark.parametrize(("value", "what"), [
    (FAKE_AWS_KEY, "AWS access key id"), ("id=LTAI5tExampleKey0123", "Alibaba"), (FAKE_HF_TOKEN, "Hugging Face"),
    ("ghp_" + "x" * 36, "GitHub"), ("-----BEGIN RSA PRIVATE KEY-----\n...", "private key"),
    ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXNpZw", "JSON Web Token"),
])
def test_credential_shapes(value: str, what: str) -> None:
    assert what in (credentials.credential_kind(value) or "")


@pytest.mark.parametrize("value", [f"x{FAKE_AWS_KEY}", "AKIA1234", "hf_short", "arn:aws:kms:us-west-2:1:key/k"])
def test_not_credential_shapes(value: str) -> None:
    assert credentials.credential_kind(value) is None


PLAINTEXT = credentials.no_plaintext_credentials


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    ("kubernetes:batch/v1:Job", {"spec": {"template": {"spec": {"containers": [
        {"env": [{"name": "HF_TOKEN", "value": "abc"}]}]}}}}, "HF_TOKEN is set to a literal"),
    ("kubernetes:core/v1:ConfigMap", {"data": {"AWS_SECRET_ACCESS_KEY": "abc"}}, "credential-named value"),
    ("kubernetes:data.fluid.io/v1alpha1:Dataset", {"spec": {"mounts": [{"options": {"fs.oss.accessKeySecret": "s"}}]}},
     "spec.mounts[0].options.fs.oss.accessKeySecret"),
    ("kubernetes:helm.sh/v3:Release", {"values": {"env": [{"name": "KEY", "value": f"id={FAKE_AWS_KEY}"}]}},
     "values.env[0].value: contains an AWS access key id"),
    ("aws:ec2/instance:Instance", {"userData": f"export HF={FAKE_HF_TOKEN}"}, "Hugging Face token"),
])
def test_plaintext_credentials_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    problems = messages(PLAINTEXT, kind, props)
    one(problems, fragment)
    assert FAKE_AWS_KEY not in problems[0] and FAKE_HF_TOKEN not in problems[0]


@pytest.mark.parametrize(("kind", "props"), [
    ("kubernetes:batch/v1:Job", {"spec": {"template": {"spec": {"containers": [{"env": [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "HF_TOKEN"}}},
        {"name": "HF_TOKEN_PATH", "value": ""}]}]}}}}),
    ("kubernetes:core/v1:ServiceAccount", {"automountServiceAccountToken": True}),
    ("kubernetes:cert-manager.io/v1:Certificate", {"spec": {"secretName": "tls", "privateKey": {"algorithm": "ECDSA"}}}),
    (credentials.K8S_SECRET, {"stringData": {"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY}}),  # judged by provenance instead
])
def test_no_plaintext_credentials_pass(kind: str, props: dict[str, Any]) -> None:
    assert messages(PLAINTEXT, kind, props) == []


PROVENANCE = credentials.credentials_from_secret_config_or_resources


def test_hard_coded_secret_credentials_fail_whatever_their_secrecy() -> None:
    secret = res(credentials.K8S_SECRET, {"stringData": {"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY, "region": "us-west-2"},
                                          "data": {"HF_TOKEN": base64.b64encode(FAKE_HF_TOKEN.encode()).decode()}})
    found = findings(PROVENANCE, [secret])
    assert [m.split(":")[0] for _, m in found] == ["stringData.AWS_ACCESS_KEY_ID", "data.HF_TOKEN"]
    assert all(FAKE_AWS_KEY not in m and FAKE_HF_TOKEN not in m for _, m in found)


def test_credentials_from_secret_config_or_another_resource_pass() -> None:
    from_config = res(credentials.K8S_SECRET, {"stringData": {"HF_TOKEN": FAKE_HF_TOKEN}})
    derived = res(credentials.K8S_SECRET, {"stringData": {"fs.oss.accessKeySecret": "s3cr3t"}},
                  deps={"stringData": ("urn:accessKey",)})
    provider = res("pulumi:providers:kubernetes", {"kubeconfig": f"users: [{{token: {FAKE_HF_TOKEN}}}]"})
    assert findings(PROVENANCE, [from_config, derived, provider], Context(frozenset({FAKE_HF_TOKEN}))) == []
    assert len(findings(PROVENANCE, [from_config, derived, provider])) == 2


def attachment(user: str, policy: str, policy_type: str = "Custom") -> Resource:
    return res(credentials.RAM_USER_POLICY_ATTACHMENT, {"userName": user, "policyName": policy, "policyType": policy_type},
               name=f"{user}-{policy}")


def ram_policy(name: str, *actions_: str) -> Resource:
    return res(credentials.RAM_POLICY, {"policyName": name, "policyDocument": policy_document(
        {"Effect": "Allow", "Action": list(actions_), "Resource": ["acs:oss:*:*:b/*"]})}, name=name)


KEY = res(credentials.RAM_ACCESS_KEY, {"userName": "reader"}, name="reader-key")


@pytest.mark.parametrize(("extra", "fragment"), [
    ([attachment("reader", "read"), ram_policy("read", "oss:GetObject", "oss:ListObjects")], None),
    ([attachment("reader", "AliyunOSSReadOnlyAccess", "System")], None),
    ([attachment("reader", "write"), ram_policy("write", "oss:GetObject", "oss:PutObject")], "'write'"),
    ([attachment("reader", "AliyunOSSFullAccess", "System")], "'AliyunOSSFullAccess'"),
    ([attachment("reader", "elsewhere")], "not created by this stack"),
    ([], "no policy"),
    ([attachment("someone-else", "read"), ram_policy("read", "oss:GetObject")], "no policy"),
])
def test_static_keys_read_only(extra: list[Resource], fragment: str | None) -> None:
    found = findings(credentials.static_keys_read_only, [KEY, *extra])
    assert found == [] if fragment is None else (one(found, fragment) or True)


def test_iam_access_keys_fail() -> None:
    one(findings(credentials.static_keys_read_only, [res(credentials.AWS_ACCESS_KEY, {"user": "u"})]), "IRSA")


# ----------------------------------------------------------------------------------------- workloads

def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers), **spec}}}}


SAFE = {"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False, "runAsNonRoot": True}
BOUNDED = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
GOOD_CONTAINER = {"name": "c", "image": "a/b:1.2.3", "securityContext": SAFE, "resources": BOUNDED}
SECURE = kubernetes.workloads_restricted_security_context


@pytest.mark.parametrize(("props", "fragment"), [
    (pod({**GOOD_CONTAINER, "securityContext": {**SAFE, "privileged": True}}), "privileged is true"),
    (pod({**GOOD_CONTAINER, "securityContext": {**SAFE, "allowPrivilegeEscalation": None}}), "allowPrivilegeEscalation"),
    (pod({**GOOD_CONTAINER, "securityContext": {**SAFE, "capabilities": {"drop": ["NET_RAW"]}}}), "drop must include ALL"),
    (pod({**GOOD_CONTAINER, "securityContext": {**SAFE, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}),
     "SYS_ADMIN"),
    (pod({**GOOD_CONTAINER, "securityContext": {**SAFE, "runAsNonRoot": None}}), "runAsNonRoot must be true"),
    (pod(GOOD_CONTAINER, hostNetwork=True), "hostNetwork is true"),
    (pod(GOOD_CONTAINER, volumes=[{"name": "v", "hostPath": {"path": "/"}}]), "hostPath"),
    (pod(GOOD_CONTAINER, securityContext={"runAsUser": 0}), "runAsUser is 0"),
    (pod({**GOOD_CONTAINER, "securityContext": None}), "allowPrivilegeEscalation"),
])
def test_unsafe_pods_fail(props: dict[str, Any], fragment: str) -> None:
    problems = messages(SECURE, "kubernetes:apps/v1:DaemonSet", props)
    assert problems and any(fragment in p for p in problems), problems


def test_safe_pods_pass_and_the_pod_may_carry_run_as_non_root() -> None:
    container = {**GOOD_CONTAINER, "securityContext": {**SAFE, "runAsNonRoot": None}}
    assert messages(SECURE, "kubernetes:batch/v1:Job", pod(container, securityContext={"runAsNonRoot": True})) == []
    assert messages(SECURE, "kubernetes:apps/v1:Deployment", pod(GOOD_CONTAINER)) == []


def isvc(**predictor: Any) -> dict[str, Any]:
    return {"metadata": {"name": "m", "namespace": "models"}, "spec": {"predictor": predictor}}


def model(gpus: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"modelFormat": {"name": "huggingface"}, "runtime": "rt",
            "resources": {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"memory": "16Gi", "nvidia.com/gpu": gpus}},
            **extra}


def test_a_model_container_takes_its_security_from_the_runtime_but_cannot_weaken_it() -> None:
    INFERENCE = kubernetes.INFERENCE_SERVICE
    assert messages(SECURE, INFERENCE, isvc(model=model())) == []
    one(messages(SECURE, INFERENCE, isvc(model=model(securityContext={"privileged": True}))), "privileged")


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    ("kubernetes:apps/v1:DaemonSet", pod({**GOOD_CONTAINER, "image": "busybox"}), "no tag"),
    ("kubernetes:batch/v1:Job", pod({**GOOD_CONTAINER, "image": "python:3.12.7-slim"}), None),
    ("kubernetes:batch/v1:Job", pod({**GOOD_CONTAINER, "image": "python:3-slim"}), "'3-slim' moves"),
    ("kubernetes:batch/v1:Job", pod({**GOOD_CONTAINER, "image": "python:slim"}), "moves"),
    ("kubernetes:apps/v1:Deployment", pod({k: v for k, v in GOOD_CONTAINER.items() if k != "image"}), "no image"),
    (kubernetes.SERVING_RUNTIMES[0], {"spec": {"containers": [{"name": "k", "image": "kserve/hf:latest"}]}}, "moves"),
    (kubernetes.INFERENCE_SERVICE, isvc(model=model()), None),
    ("kubernetes:data.fluid.io/v1alpha1:AlluxioRuntime", {"spec": {"fuse": {"image": "alluxio/fuse"}}}, "no tag"),
    ("kubernetes:data.fluid.io/v1alpha1:JindoRuntime", {"spec": {"jindoVersion": {"image": "j/s", "imageTag": "6.9.1"}}},
     None),
    ("kubernetes:helm.sh/v3:Release", {"values": {"image": {"repository": "r/ca", "tag": "master"}}}, "values.image"),
])
def test_pinned_images(kind: str, props: dict[str, Any], fragment: str | None) -> None:
    problems = messages(kubernetes.workloads_pinned_images, kind, props)
    assert problems == [] if fragment is None else (one(problems, fragment) or True)


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    ("kubernetes:apps/v1:DaemonSet", pod({**GOOD_CONTAINER, "resources": {"requests": {"cpu": "1"}}}),
     "no requests.memory, limits.memory"),
    (kubernetes.INFERENCE_SERVICE, isvc(model={"runtime": "rt"}), "spec.predictor.model.resources"),
    ("kubernetes:data.fluid.io/v1alpha1:JindoRuntime", {"spec": {"master": {"resources": BOUNDED},
                                                                "worker": {"resources": BOUNDED}}}, "spec.fuse"),
    ("kubernetes:data.fluid.io/v1alpha1:AlluxioRuntime", {"spec": {r: {"resources": BOUNDED} for r in
                                                                  ("master", "worker", "fuse", "jobMaster")}
                                                         | {"jobWorker": {}}}, "spec.jobWorker"),
])
def test_unbounded_workloads_fail(kind: str, props: dict[str, Any], fragment: str) -> None:
    one(messages(kubernetes.workloads_resource_bounds, kind, props), fragment)


def test_serving_runtime_containers_take_their_resources_from_each_service() -> None:
    runtime = {"spec": {"containers": [{"name": "kserve-container", "image": "a/b:1.0"}]}}
    assert messages(kubernetes.workloads_resource_bounds, kubernetes.SERVING_RUNTIMES[0], runtime) == []


GPU = kubernetes.gpu_inference_tolerates_taint_and_requests_gpus
TOLERATION = scheduling.toleration(scheduling.GPU_TAINT)
ON_GPU_NODES = {"nvidia.com/gpu.present": "true"}


@pytest.mark.parametrize("props", [
    isvc(model=model(1), tolerations=[TOLERATION], nodeSelector=ON_GPU_NODES),
    isvc(model=model(1.0), tolerations=[{"operator": "Exists"}]),
    isvc(containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "2"}}}],
         tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]),
    isvc(model={"modelFormat": {"name": "sklearn"}}), isvc(model=model(UNKNOWN)),
])
def test_gpu_predictor_passes(props: dict[str, Any]) -> None:
    assert messages(GPU, kubernetes.INFERENCE_SERVICE, props) == []


@pytest.mark.parametrize(("props", "fragment"), [
    (isvc(model=model(1)), "does not tolerate"),
    (isvc(model=model(1), tolerations=[{**TOLERATION, "value": "true"}]), "does not tolerate"),  # wrong value
    (isvc(model=model(1), tolerations=[{**TOLERATION, "effect": "NoExecute"}]), "does not tolerate"),
    (isvc(model=model(1), tolerations=[{"key": "kserve-fluid/cache", "operator": "Exists"}]), "does not tolerate"),
    (isvc(model={"modelFormat": {"name": "huggingface"}}, nodeSelector=ON_GPU_NODES), "requests no nvidia.com/gpu"),
])
def test_gpu_predictor_fails(props: dict[str, Any], fragment: str) -> None:
    one(messages(GPU, kubernetes.INFERENCE_SERVICE, props), fragment)


@pytest.mark.parametrize(("predictor", "fragment"), [
    ({"minReplicas": 0, "maxReplicas": 4}, None), ({"maxReplicas": 32.0}, None), ({"maxReplicas": UNKNOWN}, None),
    ({"minReplicas": 0}, "got None"), ({"maxReplicas": 0}, "got 0;"), ({"maxReplicas": 33}, "got 33;"),
    ({"maxReplicas": 2.5}, "got 2.5;"), ({"maxReplicas": True}, "got True;"),
    ({"minReplicas": 3, "maxReplicas": 2}, "minReplicas 3 exceeds maxReplicas 2"),
])
def test_replicas_bounded(predictor: dict[str, Any], fragment: str | None) -> None:
    problems = messages(kubernetes.inference_replicas_bounded, kubernetes.INFERENCE_SERVICE, isvc(**predictor))
    assert problems == [] if fragment is None else (one(problems, fragment) or True)


@pytest.mark.parametrize(("args", "fails"), [
    (["--dtype=auto"], False), (["--trust-remote-code"], True), (["--trust_remote_code=true"], True),
    (["--trust-remote-code=false"], False),
])
def test_inference_runs_no_remote_code(args: list[str], fails: bool) -> None:
    props = isvc(model=model(args=args))
    assert bool(messages(kubernetes.inference_runs_no_remote_code, kubernetes.INFERENCE_SERVICE, props)) is fails


@pytest.mark.parametrize(("kind", "props", "fragment"), [
    ("kubernetes:helm.sh/v3:Release", {"chart": "fluid", "version": "1.0.8"}, None),
    ("kubernetes:helm.sh/v4:Chart", {"chart": "oci://ghcr.io/kserve/charts/kserve-crd", "version": "v0.20.0"}, None),
    ("kubernetes:helm.sh/v3:Release", {"chart": "fluid", "version": "1"}, "'1' is not one exact version"),
    ("kubernetes:helm.sh/v3:Release", {"chart": "kserve", "version": "0.15"}, "'0.15'"),
    ("kubernetes:helm.sh/v3:Release", {"chart": "fluid"}, "no version"),
    ("kubernetes:helm.sh/v3:Release", {"chart": "fluid", "version": "~1.0.0"}, "'~1.0.0'"),
    (kubernetes.OPERATOR_VERSIONED[0], {"spec": {"version": "1.23"}}, "KnativeServing spec: version '1.23'"),
    (kubernetes.OPERATOR_VERSIONED[0], {"spec": {"version": "1.23.0"}}, None),
])
def test_versions_pinned(kind: str, props: dict[str, Any], fragment: str | None) -> None:
    problems = messages(kubernetes.helm_chart_version_pinned, kind, props)
    assert problems == [] if fragment is None else (one(problems, fragment) or True)


# ------------------------------------------------------------------------------- stack rules, small

BUCKET_URN = "urn:pulumi:s::p::aws:s3/bucket:Bucket::models"


def s3_bucket(*, force_destroy: bool = False, protect: bool = True, kms_key: str | None = "arn:k",
              drop: tuple[str, ...] = ()) -> list[Resource]:
    """A bucket and its controls joined as a first preview joins them: by dependency, the bucket id unknown."""
    on = {"bucket": (BUCKET_URN,)}
    default = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": kms_key} if kms_key else {"sseAlgorithm": "AES256"}
    parts = {
        "bucket": Resource(cloud.S3_BUCKETS[0], "models", {"forceDestroy": force_destroy}, protect, BUCKET_URN),
        "block": res(cloud.S3_PUBLIC_ACCESS_BLOCK, {**GOOD_BLOCK, "bucket": UNKNOWN}, protect=protect, deps=on),
        "encryption": res(cloud.S3_ENCRYPTION[0], {"bucket": UNKNOWN, "rules": [
            {"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]}, protect=protect,
            deps={**on, "rules": ("urn:key",)}),
        "versioning": res(cloud.S3_VERSIONING[0], {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Enabled"}},
                          protect=protect, deps=on),
        "policy": res(cloud.S3_POLICY, {"bucket": UNKNOWN, "policy": json.dumps(DENY_PLAIN_HTTP)}, protect=protect, deps=on),
        "key": Resource(cloud.AWS_KMS_KEY, "key", {"enableKeyRotation": True}, protect, "urn:key"),
    }
    return [r for part, r in parts.items() if part not in drop]


def test_a_complete_durable_bucket_passes_every_stack_rule() -> None:
    assert rules.check_stack(s3_bucket()) == []
    assert rules.check_stack(s3_bucket(force_destroy=True, protect=False, kms_key=None)) == []


@pytest.mark.parametrize(("part", "fragment"), [
    ("block", "no BucketPublicAccessBlock"), ("encryption", "no default-encryption"), ("versioning", "not Enabled"),
    ("policy", "without TLS"),
])
def test_a_bucket_missing_a_control_fails(part: str, fragment: str) -> None:
    one(findings(stack.model_buckets_fully_guarded, s3_bucket(drop=(part,))), fragment)


def test_durable_buckets_need_a_customer_key_and_protection() -> None:
    one(findings(stack.model_buckets_fully_guarded, s3_bucket(kms_key=None)), "customer KMS key")
    unprotected = findings(stack.durable_data_is_protected, s3_bucket(protect=False))
    assert sorted(name for name, _ in unprotected) == ["key", "models", "r", "r", "r", "r"]


def test_a_control_of_another_bucket_does_not_count() -> None:
    mine = s3_bucket(drop=("block",))
    other = res(cloud.S3_PUBLIC_ACCESS_BLOCK, {**GOOD_BLOCK, "bucket": "someone-elses"}, protect=True)
    one(findings(stack.model_buckets_fully_guarded, [*mine, other]), "no BucketPublicAccessBlock")


def eks(**inputs: Any) -> Resource:
    return res(cloud.EKS_COMPONENT, {**EKS_INPUTS, **inputs}, name="kf")


@pytest.mark.parametrize(("cluster", "force_destroy", "fails"), [
    (eks(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]), False, True),
    (eks(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]), True, False),
    (eks(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]), False, False),
    (eks(endpointPublicAccess=False), False, False),
    (res(cloud.ACK_CLUSTER, {**ACK, "slbInternetEnabled": True}), False, True),
])
def test_internet_api_servers_only_with_disposable_data(cluster: Resource, force_destroy: bool, fails: bool) -> None:
    found = findings(stack.control_plane_private_for_durable_data, [cluster, *s3_bucket(force_destroy=force_destroy)])
    assert bool(found) is fails


GATEWAY = res("kubernetes:helm.sh/v3:Release", {"chart": "gateway", "name": "istio-ingressgateway",
                                                "namespace": "istio-system", "values": {"service": {"type": "LoadBalancer"}}},
              name="gateway")
SERVICE = res(kubernetes.INFERENCE_SERVICE, isvc(model=model()), name="model")
JWT = res(stack.REQUEST_AUTHENTICATION, {"metadata": {"namespace": "istio-system"}, "spec": {
    "selector": {"matchLabels": {"istio": "ingressgateway"}},
    "jwtRules": [{"issuer": "https://oidc.example.com", "audiences": ["kserve-fluid"]}]}}, name="jwt")
DENY = res(stack.AUTHORIZATION_POLICY, {"metadata": {"namespace": "istio-system"}, "spec": {
    "selector": {"matchLabels": {"istio": "ingressgateway"}}, "action": "DENY",
    "rules": [{"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": {"ports": ["80", "443"]}}],
               "when": [stack.PROBE_EXCEPTION]}]}}, name="deny")


def with_spec(resource: Resource, **spec: Any) -> Resource:
    return Resource(resource.type, resource.name, {**resource.props, "spec": {**resource.props["spec"], **spec}},
                    urn=resource.urn)


@pytest.mark.parametrize(("extra", "fails"), [
    ([JWT, DENY], False), ([JWT], True), ([DENY], True), ([], True),
    ([JWT, with_spec(DENY, action="ALLOW")], True),
    ([JWT, with_spec(DENY, selector={"matchLabels": {"istio": "other"}})], True),
    ([with_spec(JWT, jwtRules=[{"issuer": "http://oidc.example.com", "audiences": ["a"]}]), DENY], True),
    ([with_spec(JWT, jwtRules=[{"issuer": "https://oidc.example.com"}]), DENY], True),  # any token of the issuer
    ([JWT, with_spec(DENY, rules=[{"from": [{"source": {"notRequestPrincipals": ["*"]}}],
                                   "to": [{"operation": {"ports": ["80", "443"], "paths": ["/v1/*"]}}]}])], True),
    ([JWT, with_spec(DENY, rules=[{"from": [{"source": {"notRequestPrincipals": ["*"]}}],
                                   "when": [{"key": "request.headers[x-skip]", "notValues": ["1"]}]}])], True),
])
def test_a_public_gateway_needs_the_jwt_pair(extra: list[Resource], fails: bool) -> None:
    assert bool(findings(stack.endpoint_authenticated, [GATEWAY, SERVICE, *extra])) is fails


@pytest.mark.parametrize("service", [{"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"]},
                                     {"type": "ClusterIP"},
                                     {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}}])
def test_a_private_gateway_needs_no_token(service: dict[str, Any]) -> None:
    private = Resource(GATEWAY.type, GATEWAY.name, {**GATEWAY.props, "values": {"service": service}}, urn=GATEWAY.urn)
    assert findings(stack.endpoint_authenticated, [private, SERVICE]) == []
    world = Resource(GATEWAY.type, GATEWAY.name, {**GATEWAY.props, "values": {"service": {
        "loadBalancerSourceRanges": ["0.0.0.0/0"]}}}, urn=GATEWAY.urn)
    assert findings(stack.endpoint_authenticated, [world, SERVICE]) != []


SERVERS = [{"hosts": ["*"], "port": {"number": 443, "protocol": "HTTPS", "name": "https"},
            "tls": {"mode": "SIMPLE", "credentialName": "gateway-tls"}},
           {"hosts": ["*"], "port": {"number": 80, "protocol": "HTTP", "name": "http"}, "tls": {"httpsRedirect": True}}]
CERTIFICATE = res(stack.CERTIFICATE, {"metadata": {"namespace": "istio-system"}, "spec": {"secretName": "gateway-tls"}})


def serving(servers: Any) -> Resource:
    gateway = {} if servers is None else {stack.KNATIVE_GATEWAY: {"servers": servers}}
    return res(stack.KNATIVE_SERVING, {"spec": {"ingress": {"istio": {"enabled": True, **gateway}}}}, name="knative")


@pytest.mark.parametrize(("servers", "certificate", "fragment"), [
    (SERVERS, True, None), (None, True, "plain HTTP only"), (SERVERS[1:], True, "no HTTPS server"),
    ([SERVERS[0], {**SERVERS[1], "tls": {}}], True, "HTTP port 80 serves without redirecting"),
    (SERVERS, False, "'gateway-tls' is issued by no Certificate"),
])
def test_endpoint_tls_only(servers: Any, certificate: bool, fragment: str | None) -> None:
    found = findings(stack.endpoint_tls_only, [GATEWAY, SERVICE, serving(servers), *([CERTIFICATE] if certificate else [])])
    assert found == [] if fragment is None else (one(found, fragment) or True)


def namespace(**labels: str) -> Resource:
    return res(stack.NAMESPACE, {"metadata": {"name": "models", "labels": {stack.PSA + k: v for k, v in labels.items()}}},
               name="models")


FLUID = res("kubernetes:data.fluid.io/v1alpha1:JindoRuntime", {"metadata": {"namespace": "models"}}, name="cache")


@pytest.mark.parametrize(("resources", "fragment"), [
    ([namespace(enforce="privileged", warn="baseline", audit="baseline"), FLUID], None),
    ([namespace(enforce="baseline"), FLUID], None), ([namespace()], None),
    ([namespace(enforce="privileged", warn="baseline", audit="baseline")], "runs no Fluid runtime"),
    ([namespace(enforce="privileged", warn="baseline"), FLUID], "audit"),
])
def test_privileged_only_for_fluid(resources: list[Resource], fragment: str | None) -> None:
    found = findings(stack.privileged_only_for_fluid, resources)
    assert found == [] if fragment is None else (one(found, fragment) or True)


RUNTIME = res(kubernetes.SERVING_RUNTIMES[0], {"metadata": {"name": "rt", "namespace": "models"}}, name="runtime")


@pytest.mark.parametrize(("resources", "fails"), [
    ([SERVICE, RUNTIME], False), ([SERVICE], True),
    ([res(kubernetes.INFERENCE_SERVICE, isvc(model={"modelFormat": {"name": "huggingface"}}))], True),
    ([res(kubernetes.INFERENCE_SERVICE, isvc(containers=[GOOD_CONTAINER]))], False),
    ([SERVICE, res(kubernetes.SERVING_RUNTIMES[0], {"metadata": {"name": "rt", "namespace": "other"}})], True),
    ([SERVICE, res(kubernetes.SERVING_RUNTIMES[1], {"metadata": {"name": "rt"}})], False),
])
def test_inference_runtime_guarded(resources: list[Resource], fails: bool) -> None:
    assert bool(findings(stack.inference_runtime_guarded, resources)) is fails
