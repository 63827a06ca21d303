"""RAM principals for the model bucket, each with one policy scoped to the bucket's prefix: an RRSA role for
the ingest Job, and a read-only RAM user whose AccessKey the Fluid cache reads with."""

from __future__ import annotations

import json

import pulumi
import pulumi_alicloud as alicloud

# Multipart uploads (initiate, upload part, complete) are authorised by oss:PutObject; only abort and
# listing parts have actions of their own (OSS RAM action reference).
READ_ACTIONS = ["oss:GetObject"]
WRITE_ACTIONS = [*READ_ACTIONS, "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload", "oss:ListParts"]


def bucket_policy_document(bucket: str, prefix: str, write: bool) -> str:
    """Object actions on `<bucket>/<prefix>/*` only; no `oss:*`, no `*` resources.

    Listing is granted on the whole bucket without an `oss:Prefix` condition, as on S3: a GetObject carries
    no prefix, and a reader that may not list risks AccessDenied where "not there yet" (NoSuchKey) is meant.
    The bucket holds only models, so listing reveals model paths, not data."""
    bucket_arn = f"acs:oss:*:*:{bucket}"
    return json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": WRITE_ACTIONS if write else READ_ACTIONS, "Resource": [f"{bucket_arn}/{prefix}/*"]},
        {"Effect": "Allow", "Action": ["oss:ListObjects", "oss:ListMultipartUploads"] if write else ["oss:ListObjects"],
         "Resource": [bucket_arn]},
        {"Effect": "Allow", "Action": ["oss:GetBucketInfo"], "Resource": [bucket_arn]},
    ]})


def rrsa_role(name: str, oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], subjects: list[str],
              policy_document: str, parent: pulumi.Resource) -> alicloud.ram.Role:
    """A RAM role only the given `system:serviceaccount:<ns>:<name>` subjects of this cluster can assume
    (RRSA: the pod's projected token is exchanged with STS AssumeRoleWithOIDC)."""
    trust = pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(lambda a: json.dumps({
        "Version": "1", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [a[0]]},
            "Condition": {"StringEquals": {"oidc:aud": "sts.aliyuncs.com", "oidc:iss": a[1], "oidc:sub": subjects}},
        }]}))
    role = alicloud.ram.Role(name, role_name=name, assume_role_policy_document=trust, max_session_duration=3600,
                             opts=pulumi.ResourceOptions(parent=parent))
    policy = alicloud.ram.Policy(name, policy_name=name, policy_document=policy_document,
                                 opts=pulumi.ResourceOptions(parent=role))
    alicloud.ram.RolePolicyAttachment(name, role_name=role.role_name, policy_name=policy.policy_name,
                                      policy_type="Custom", opts=pulumi.ResourceOptions(parent=role))
    return role


def reader_access_key(name: str, bucket: str, prefix: str, parent: pulumi.Resource) -> alicloud.ram.AccessKey:
    """A RAM user that may only read `<bucket>/<prefix>/`, and its AccessKey.

    Fluid's Jindo engines take OSS credentials only from their property files, and no documented server-side
    key makes the Jindo master and workers use the node's RAM role, so the cache reads with this key. The
    secret is a Pulumi secret from the provider onwards; rotate it with `pulumi up --replace` on the key.
    """
    user = alicloud.ram.User(name, name=name, comments="kserve-fluid: the model cache reads the bucket",
                             opts=pulumi.ResourceOptions(parent=parent))
    policy = alicloud.ram.Policy(name, policy_name=name, policy_document=bucket_policy_document(bucket, prefix, write=False),
                                 opts=pulumi.ResourceOptions(parent=user))
    attachment = alicloud.ram.UserPolicyAttachment(name, user_name=user.name, policy_name=policy.policy_name,
                                                   policy_type="Custom", opts=pulumi.ResourceOptions(parent=user))
    return alicloud.ram.AccessKey(name, user_name=user.name, opts=pulumi.ResourceOptions(
        parent=user, depends_on=[attachment], additional_secret_outputs=["secret"]))
