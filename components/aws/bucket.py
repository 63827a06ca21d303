"""The S3 bucket that holds the models: private, encrypted, versioned, TLS-only, protected in prod."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class ModelBucketArgs:
    name: str | None  # None: a unique name from the resource name
    kms: bool
    noncurrent_version_days: int
    protect: bool


class ModelBucket(pulumi.ComponentResource):
    """S3 with all four public-access blocks, SSE (KMS with a bucket key, or AES256), versioning,
    a policy that denies plain HTTP, and lifecycle rules that expire old versions and abandoned
    multipart uploads. `force_destroy` stays off; with `protect` the bucket and its key are also
    protected and retained, so `pulumi destroy` never deletes a model.
    """

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:ModelBucket", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.key = aws.kms.Key(f"{name}-key", description="model bucket encryption", enable_key_rotation=True,
                               deletion_window_in_days=30, opts=keep) if args.kms else None
        self.bucket = aws.s3.Bucket(name, bucket=args.name, bucket_prefix=None if args.name else f"{name}-",
                                    force_destroy=False, opts=keep)
        bucket_child = pulumi.ResourceOptions(parent=self.bucket)
        block = aws.s3.BucketPublicAccessBlock(name, bucket=self.bucket.id, block_public_acls=True,
                                               block_public_policy=True, ignore_public_acls=True,
                                               restrict_public_buckets=True, opts=bucket_child)
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(name, bucket=self.bucket.id, rules=[{
            "apply_server_side_encryption_by_default": (
                {"sse_algorithm": "aws:kms", "kms_master_key_id": self.key.arn} if self.key
                else {"sse_algorithm": "AES256"}),
            "bucket_key_enabled": True,
        }], opts=bucket_child)
        versioning = aws.s3.BucketVersioning(name, bucket=self.bucket.id,
                                             versioning_configuration={"status": "Enabled"}, opts=bucket_child)
        lifecycle = aws.s3.BucketLifecycleConfiguration(name, bucket=self.bucket.id, rules=[
            {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": {},
             "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
            {"id": "abort-incomplete-multipart", "status": "Enabled", "filter": {},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
        ], opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[versioning]))
        policy = aws.s3.BucketPolicy(name, bucket=self.bucket.id, policy=aws.iam.get_policy_document_output(
            statements=[{
                "sid": "DenyInsecureTransport", "effect": "Deny", "actions": ["s3:*"],
                "principals": [{"type": "*", "identifiers": ["*"]}],
                "resources": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
            }]).json, opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[block]))
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.ready = [block, encryption, versioning, lifecycle, policy]
        self.register_outputs({"name": self.name, "arn": self.arn})
