"""The OSS bucket that holds the models: private, encrypted, versioned, TLS-only, protected in staging/prod."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud


@dataclass
class ModelBucketArgs:
    name: str  # OSS names are global and have no prefix option: foundation.bucket_name derives one
    kms: bool
    noncurrent_version_days: int
    protect: bool  # staging/prod: protect and retain the bucket and every setting on it
    force_destroy: bool = False  # dev, explicitly: `pulumi destroy` empties and deletes it


class ModelBucket(pulumi.ComponentResource):
    """OSS with a private ACL, server-side encryption (KMS with OSS's managed key, or AES256), versioning, a
    policy that denies plain HTTP, and lifecycle rules that expire old versions and abort abandoned uploads.

    Each setting is its own resource (the bucket's inline `acl`/`policy` are deprecated). With `protect`, the
    bucket and every setting are protected *and* retained: `pulumi destroy` refuses while protected, and once
    unprotected leaves the bucket with its encryption, versioning and policy intact. With `force_destroy` (dev
    only), `pulumi destroy` empties and deletes the bucket.
    """

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:ModelBucket", name, None, opts)
        keep = {"protect": args.protect, "retain_on_delete": args.protect}
        self.bucket = alicloud.oss.Bucket(
            name, bucket=args.name, force_destroy=args.force_destroy and not args.protect, redundancy_type="ZRS",
            lifecycle_rules=[  # no lifecycle resource exists in pulumi-alicloud 4.0
                {"id": "expire-noncurrent-versions", "enabled": True, "prefix": "",
                 "noncurrent_version_expirations": [{"days": args.noncurrent_version_days}]},
                {"id": "abort-incomplete-multipart", "enabled": True, "prefix": "",
                 "abort_multipart_uploads": [{"days": 7}]},
            ],
            # the resources below own these; the bucket reads them back into its own (optional) fields
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["serverSideEncryptionRule", "versioning"], **keep))
        setting = pulumi.ResourceOptions(parent=self.bucket, **keep)
        bucket = self.bucket.bucket
        acl = alicloud.oss.BucketAcl(name, bucket=bucket, acl="private", opts=setting)
        encryption = alicloud.oss.BucketServerSideEncryption(name, bucket=bucket,
                                                             sse_algorithm="KMS" if args.kms else "AES256", opts=setting)
        versioning = alicloud.oss.BucketVersioning(name, bucket=bucket, status="Enabled", opts=setting)
        policy = alicloud.oss.BucketPolicy(name, bucket=bucket, policy=json.dumps({"Version": "1", "Statement": [{
            "Effect": "Deny", "Action": ["oss:*"], "Principal": ["*"],
            "Resource": [f"acs:oss:*:*:{args.name}", f"acs:oss:*:*:{args.name}/*"],
            "Condition": {"Bool": {"acs:SecureTransport": ["false"]}}}]}), opts=setting)
        self.name = bucket
        self.ready: list[pulumi.Resource] = [acl, encryption, versioning, policy]
        self.register_outputs({"name": self.name})
