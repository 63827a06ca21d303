"""RAM roles for the model bucket: RRSA roles for pods, a node role for the cache pool."""
from __future__ import annotations

import json

import pulumi
import pulumi_alicloud as alicloud

READ_ACTIONS = ["oss:GetObject", "oss:GetObjectMeta"]
WRITE_ACTIONS = [*READ_ACTIONS, "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload",
                 "oss:ListParts", "oss:InitiateMultipartUpload", "oss:UploadPart", "oss:CompleteMultipartUpload"]


def bucket_policy_document(bucket: str, prefix: str, actions: list[str]) -> str:
    """Object actions on `<bucket>/<prefix>/*` and listing of that prefix only; no `oss:*`, no `*`."""
    return json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": [f"acs:oss:*:*:{bucket}/{prefix}/*"]},
        {"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": [f"acs:oss:*:*:{bucket}"],
         "Condition": {"StringLike": {"oss:Prefix": [f"{prefix}/*", prefix]}}},
        {"Effect": "Allow", "Action": ["oss:GetBucketInfo"], "Resource": [f"acs:oss:*:*:{bucket}"]},
    ]})


def rrsa_trust(oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str],
               subjects: list[str]) -> pulumi.Output[str]:
    """Only the given `system:serviceaccount:<ns>:<name>` subjects of this cluster may assume the role."""
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(lambda a: json.dumps({
        "Version": "1", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [a[0]]},
            "Condition": {"StringEquals": {"oidc:aud": "sts.aliyuncs.com", "oidc:iss": a[1], "oidc:sub": subjects}},
        }]}))


# Trust for a node role: ECS instances (the cache pool's nodes) assume it.
ECS_TRUST = json.dumps({"Version": "1", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}]})


def ram_role(name: str, trust: pulumi.Input[str], bucket: str, prefix: str, actions: list[str],
             parent: pulumi.Resource) -> alicloud.ram.Role:
    """A RAM role with one custom policy scoped to the bucket prefix."""
    role = alicloud.ram.Role(name, role_name=name, assume_role_policy_document=trust, max_session_duration=3600,
                             opts=pulumi.ResourceOptions(parent=parent))
    policy = alicloud.ram.Policy(name, policy_name=name, policy_document=bucket_policy_document(bucket, prefix, actions),
                                 opts=pulumi.ResourceOptions(parent=role))
    alicloud.ram.RolePolicyAttachment(name, role_name=role.role_name, policy_name=policy.policy_name,
                                      policy_type="Custom", opts=pulumi.ResourceOptions(parent=role))
    return role
