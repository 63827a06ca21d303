"""Small bad programs written with the real provider SDKs, run under mocks: the guardrails judge what the
SDKs actually send (the old credential rule was a tautology because hand-made test inputs missed that the
Kubernetes SDK marks every Secret's data secret).
"""
from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from tests import harness
from tests.test_policy_stacks import context_of, resources_of, violations

FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
FAKE_HF_TOKEN = "hf_" + "q7W" * 12


def fired(program: Callable[[], None], stack: str = "aws-dev", secrets: dict[str, str] | None = None,
          ) -> dict[str, list[str]]:
    """guardrail -> messages, for what `program` registers with `stack`'s config."""
    config = harness.stack_config(stack, secrets=secrets)
    run = harness.run(stack, program=program, config=config, secret_keys=tuple(secrets or ()))
    found: dict[str, list[str]] = {}
    for (guardrail, _), messages in violations(resources_of(run), context_of(config)).items():
        found.setdefault(guardrail, []).extend(messages)
    return found


# ---------------------------------------------------------------------------------------- credentials

def hard_coded_secret() -> None:
    k8s.core.v1.Secret("creds", string_data={"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY,
                                             "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                             "HF_TOKEN": FAKE_HF_TOKEN, "region": "us-west-2"})


def test_a_hard_coded_secret_fails_although_the_sdk_marks_it_secret() -> None:
    run = harness.run("aws-dev", program=hard_coded_secret)
    secret = run.one("kubernetes:core/v1:Secret")
    assert isinstance(secret.inputs["stringData"], harness.Secret), "the SDK marks stringData secret by itself"
    messages = fired(hard_coded_secret)["credentials-from-secret-config-or-resources"]
    assert sorted(m.split(": ", 2)[1] for m in messages) == [
        "stringData.AWS_ACCESS_KEY_ID", "stringData.AWS_SECRET_ACCESS_KEY", "stringData.HF_TOKEN"]
    assert not any(FAKE_AWS_KEY in m or FAKE_HF_TOKEN in m for m in messages)


def test_the_same_secret_from_secret_config_passes() -> None:
    def from_config() -> None:
        config = pulumi.Config("kserve-fluid")
        k8s.core.v1.Secret("creds", string_data={"HF_TOKEN": config.require_secret("hfToken")})

    assert fired(from_config, secrets={"hfToken": FAKE_HF_TOKEN}) == {}


def test_a_token_in_a_job_env_fails_wherever_it_came_from() -> None:
    def job() -> None:
        token = pulumi.Config("kserve-fluid").require_secret("hfToken")
        container = k8s.core.v1.ContainerArgs(name="c", image="a/b:1.0.0", env=[k8s.core.v1.EnvVarArgs(name="HF_TOKEN",
                                                                                                     value=token)])
        k8s.batch.v1.Job("ingest", spec=k8s.batch.v1.JobSpecArgs(template=k8s.core.v1.PodTemplateSpecArgs(
            spec=k8s.core.v1.PodSpecArgs(containers=[container], restart_policy="Never"))))

    assert "no-plaintext-credentials" in fired(job, secrets={"hfToken": FAKE_HF_TOKEN})


def test_static_keys() -> None:
    def keys() -> None:
        aws.iam.AccessKey("ci", user="ci")
        user = alicloud.ram.User("cache", name="cache")
        policy = alicloud.ram.Policy("write", policy_name="write", policy_document=json.dumps({"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": ["oss:PutObject"], "Resource": ["acs:oss:*:*:b/*"]}]}))
        alicloud.ram.UserPolicyAttachment("cache", user_name=user.name, policy_name=policy.policy_name, policy_type="Custom")
        alicloud.ram.AccessKey("cache", user_name=user.name)

    messages = fired(keys)["static-keys-read-only"]
    assert any("IRSA" in m for m in messages) and any("'write'" in m for m in messages)


# -------------------------------------------------------------------------------------------- buckets

def test_a_bare_bucket_fails_each_missing_control() -> None:
    found = fired(lambda: aws.s3.Bucket("models"))
    gaps = found["model-buckets-fully-guarded"]
    for control in ("BucketPublicAccessBlock", "default-encryption", "versioning", "without TLS"):
        assert any(control in m for m in gaps), (control, gaps)
    assert "durable-data-is-protected" in found  # not force-destroyable, not protected


def test_a_public_bucket_fails() -> None:
    def public() -> None:
        bucket = aws.s3.Bucket("models", acl="public-read-write")
        aws.s3.BucketPolicy("models", bucket=bucket.id, policy=json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::models/*"}]}))

    assert len(fired(public)["s3-bucket-not-public"]) == 2


def test_force_destroy_on_a_protected_bucket_v2_fails() -> None:
    protected = pulumi.ResourceOptions(protect=True)
    assert "durable-data-is-protected" in fired(lambda: aws.s3.BucketV2("models", force_destroy=True, opts=protected))


def test_controls_of_another_bucket_or_a_suspended_v2_versioning_do_not_count() -> None:
    def program() -> None:
        bucket = aws.s3.Bucket("models")
        aws.s3.BucketPublicAccessBlock("elsewhere", bucket="someone-elses", block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        aws.s3.BucketVersioningV2("models", bucket=bucket.id,
                                  versioning_configuration={"status": "Suspended"})

    found = fired(program)
    assert any("BucketPublicAccessBlock" in m for m in found["model-buckets-fully-guarded"])
    assert "s3-bucket-encrypted-and-versioned" in found


# --------------------------------------------------------------------------------------------- clusters

def test_a_raw_eks_cluster_is_judged_like_the_component() -> None:
    """pulumi-eks creates an aws:eks/cluster:Cluster; that child is what every engine sends to the pack."""
    def program() -> None:
        aws.s3.Bucket("models", opts=pulumi.ResourceOptions(protect=True))
        aws.eks.Cluster("kf", role_arn="arn:aws:iam::1:role/eks", vpc_config={
            "subnet_ids": ["s-1"], "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]})

    found = fired(program)
    assert any("not envelope-encrypted" in m for m in found["control-plane-encrypted-and-audited"])
    assert "control-plane-private-for-durable-data" in found


def test_an_imdsv1_launch_template_with_an_unencrypted_disk_fails() -> None:
    def program() -> None:
        aws.ec2.LaunchTemplate("nodes", metadata_options={"http_tokens": "optional", "http_put_response_hop_limit": 2},
                               block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"volume_size": 100}}])

    assert len(fired(program)["compute-imdsv2-encrypted-disks-private"]) == 3


# ------------------------------------------------------------------------------------------- workloads

def test_a_privileged_unpinned_unbounded_deployment_fails_three_guardrails() -> None:
    def program() -> None:
        container = k8s.core.v1.ContainerArgs(name="c", image="nginx",
                                              security_context=k8s.core.v1.SecurityContextArgs(privileged=True))
        k8s.apps.v1.Deployment("web", spec=k8s.apps.v1.DeploymentSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "web"}),
            template=k8s.core.v1.PodTemplateSpecArgs(metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": "web"}),
                                                     spec=k8s.core.v1.PodSpecArgs(containers=[container]))))

    found = fired(program)
    assert {"workloads-restricted-security-context", "workloads-pinned-images", "workloads-resource-bounds"} <= set(found)


@pytest.mark.parametrize("version", ["1", "0.15", "latest"])
def test_a_partial_chart_version_fails(version: str) -> None:
    def program() -> None:
        k8s.helm.v3.Release("fluid", chart="fluid", version=version,
                            repository_opts={"repo": "https://fluid-cloudnative.github.io/charts"})

    assert "helm-chart-version-pinned" in fired(program)

