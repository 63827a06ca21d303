"""IAM roles for service accounts (IRSA): least-privilege, keyless access to the model bucket."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
WRITE_ACTIONS = [*READ_ACTIONS, "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                 "s3:ListMultipartUploadParts"]


def irsa_role(name: str, oidc_provider_arn: pulumi.Input[str], oidc_provider_url: pulumi.Input[str],
              subjects: list[str], policy_json: pulumi.Input[str], parent: pulumi.Resource) -> aws.iam.Role:
    """A role only the given `system:serviceaccount:<ns>:<name>` subjects of this cluster can assume."""
    issuer = pulumi.Output.from_input(oidc_provider_url).apply(lambda u: u.removeprefix("https://"))
    trust = aws.iam.get_policy_document_output(statements=[{
        "actions": ["sts:AssumeRoleWithWebIdentity"],
        "principals": [{"type": "Federated", "identifiers": [oidc_provider_arn]}],
        "conditions": [
            {"test": "StringEquals", "variable": issuer.apply(lambda i: f"{i}:aud"), "values": ["sts.amazonaws.com"]},
            {"test": "StringEquals", "variable": issuer.apply(lambda i: f"{i}:sub"), "values": subjects},
        ],
    }])
    role = aws.iam.Role(name, assume_role_policy=trust.json, opts=pulumi.ResourceOptions(parent=parent))
    aws.iam.RolePolicy(name, role=role.id, policy=policy_json, opts=pulumi.ResourceOptions(parent=role))
    return role


def bucket_policy(bucket_arn: pulumi.Input[str], prefix: str, actions: list[str],
                  kms_key_arn: pulumi.Input[str] | None, write: bool) -> pulumi.Output[str]:
    """Object actions on `<bucket>/<prefix>/*` only; no `s3:*`, no `*` resources.

    Listing is granted on the whole bucket, without an `s3:prefix` condition: S3 answers a GetObject of a
    missing key with 404 only to a caller that "has s3:ListBucket", and a GetObject carries no s3:prefix, so a
    prefix-conditioned grant turns "not there yet" (a first manifest read) into 403 AccessDenied. The bucket
    holds only models, so listing it reveals model paths, not data."""
    statements = [
        {"sid": "Objects", "actions": actions, "resources": [pulumi.Output.concat(bucket_arn, f"/{prefix}/*")]},
        {"sid": "List", "actions": ["s3:ListBucket", "s3:ListBucketMultipartUploads"] if write else ["s3:ListBucket"],
         "resources": [bucket_arn]},
        {"sid": "Locate", "actions": ["s3:GetBucketLocation"], "resources": [bucket_arn]},
    ]
    if kms_key_arn is not None:
        statements.append({"sid": "Key", "resources": [kms_key_arn],
                           "actions": ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]})
    return aws.iam.get_policy_document_output(statements=statements).json
