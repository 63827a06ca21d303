"""The OSS bucket that holds the models: private, encrypted, versioned, TLS-only, protected in prod."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud


@dataclass
class ModelBucketArgs:
    name: str
    kms: bool
    noncurrent_version_days: int
    protect: bool


class ModelBucket(pulumi.ComponentResource):
    """OSS with a private ACL, server-side encryption (KMS or AES256), versioning, a policy that denies
    plain HTTP, and lifecycle rules for old versions and abandoned multipart uploads. `force_destroy`
    stays off; with `protect` the bucket is protected and retained by `pulumi destroy`."""

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:ModelBucket", name, None, opts)
        deny_http = json.dumps({"Version": "1", "Statement": [{
            "Effect": "Deny", "Action": ["oss:*"], "Principal": ["*"],
            "Resource": [f"acs:oss:*:*:{args.name}", f"acs:oss:*:*:{args.name}/*"],
            "Condition": {"Bool": {"acs:SecureTransport": ["false"]}}}]})
        self.bucket = alicloud.oss.Bucket(
            name, bucket=args.name, force_destroy=False, redundancy_type="ZRS",
            server_side_encryption_rule={"sse_algorithm": "KMS" if args.kms else "AES256"},
            versioning={"status": "Enabled"},
            lifecycle_rules=[
                {"id": "expire-noncurrent-versions", "enabled": True, "prefix": "",
                 "noncurrent_version_expirations": [{"days": args.noncurrent_version_days}]},
                {"id": "abort-incomplete-multipart", "enabled": True, "prefix": "",
                 "abort_multipart_uploads": [{"days": 7}]},
            ],
            policy=deny_http,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect))
        acl = alicloud.oss.BucketAcl(name, bucket=self.bucket.bucket, acl="private",
                                     opts=pulumi.ResourceOptions(parent=self.bucket))
        self.name = self.bucket.bucket
        self.intranet_endpoint = self.bucket.intranet_endpoint
        self.ready = [acl]
        self.register_outputs({"name": self.name})
