"""The S3 bucket that holds the models: private, encrypted, versioned, TLS-only, protected in staging/prod."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class ModelBucketArgs:
    name: str | None  # None: a unique name from the resource name
    kms: bool
    noncurrent_version_days: int
    protect: bool  # staging/prod: protect and retain the bucket, its settings and its key
    force_destroy: bool = False  # dev, explicitly: `pulumi destroy` empties and deletes it


class ModelBucket(pulumi.ComponentResource):
    """S3 with all four public-access blocks, SSE (KMS with a bucket key, or AES256), versioning, a policy
    that denies plain HTTP, and lifecycle rules that expire old versions and abort abandoned multipart uploads.

    With `protect`, the bucket, every setting on it and its key are protected *and* retained: `pulumi destroy`
    refuses while protected, and once unprotected leaves the bucket with its encryption, versioning and policy
    intact (never a bare bucket whose key is scheduled for deletion). With `force_destroy` (dev only),
    `pulumi destroy` empties and deletes the bucket.
    """

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:ModelBucket", name, None, opts)
        keep = {"protect": args.protect, "retain_on_delete": args.protect}
        self.key = aws.kms.Key(f"{name}-key", description="model bucket encryption", enable_key_rotation=True,
                               deletion_window_in_days=30, opts=pulumi.ResourceOptions(parent=self, **keep)) if args.kms else None
        self.bucket = aws.s3.Bucket(name, bucket=args.name, bucket_prefix=None if args.name else f"{name}-",
                                    force_destroy=args.force_destroy and not args.protect,
                                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.key] if self.key else [], **keep))

        def setting(after: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self.bucket, depends_on=after or [], **keep)

        block = aws.s3.BucketPublicAccessBlock(name, bucket=self.bucket.id, block_public_acls=True,
                                               block_public_policy=True, ignore_public_acls=True,
                                               restrict_public_buckets=True, opts=setting())
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(name, bucket=self.bucket.id, rules=[{
            "apply_server_side_encryption_by_default": (
                {"sse_algorithm": "aws:kms", "kms_master_key_id": self.key.arn} if self.key
                else {"sse_algorithm": "AES256"}),
            "bucket_key_enabled": bool(self.key),
        }], opts=setting())
        versioning = aws.s3.BucketVersioning(name, bucket=self.bucket.id,
                                             versioning_configuration={"status": "Enabled"}, opts=setting())
        lifecycle = aws.s3.BucketLifecycleConfiguration(name, bucket=self.bucket.id, rules=[
            {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {},
             "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
            {"id": "abort-incomplete-multipart", "status": "Enabled", "filter": {},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ], opts=setting([versioning]))
        policy = aws.s3.BucketPolicy(name, bucket=self.bucket.id, policy=aws.iam.get_policy_document_output(
            statements=[{
                "sid": "DenyInsecureTransport", "effect": "Deny", "actions": ["s3:*"],
                "principals": [{"type": "*", "identifiers": ["*"]}],
                "resources": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
            }]).json, opts=setting([block]))
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.key_arn = self.key.arn if self.key else None
        self.ready: list[pulumi.Resource] = [block, encryption, versioning, lifecycle, policy]
        self.register_outputs({"name": self.name, "arn": self.arn})
