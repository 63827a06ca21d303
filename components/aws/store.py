"""The S3 model store: how the ingest, the baseline and the Fluid cache reach an S3 bucket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.foundation import CacheAccess, Identity

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass
class S3Store:
    """An S3 bucket read and written with IRSA roles (or static keys, when the stack gives them).

    The cache runs AlluxioRuntime: its S3 client falls back to the AWS SDK's default chain, which includes
    the web-identity token IRSA injects (Fluid's Jindo engine passes S3 credentials only as keys). Alluxio
    speaks plain HTTP to S3 unless `alluxio.underfs.s3.secure.http.enabled` is true, and the bucket policy
    refuses plain HTTP, so it is always set. See docs/upstream-facts.md.
    """

    bucket: pulumi.Input[str]
    prefix: str
    region: str
    read_role: pulumi.Input[str]
    write_role: pulumi.Input[str]
    ready: list[pulumi.Resource] = field(default_factory=list)
    static_keys: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None  # cache.credentials: static
    scheme: str = "s3"

    @property
    def endpoint(self) -> str:
        return f"s3.{self.region}.amazonaws.com"

    @property
    def writer(self) -> Identity:
        return Identity({IRSA_ANNOTATION: self.write_role})

    @property
    def reader(self) -> Identity:
        """KServe's storage initializer: IRSA plus the annotations its S3 client reads."""
        return Identity({IRSA_ANNOTATION: self.read_role, "serving.kserve.io/s3-region": self.region,
                         "serving.kserve.io/s3-endpoint": self.endpoint, "serving.kserve.io/s3-usehttps": "1"})

    def url(self, model: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("s3://", self.bucket, "/", self.prefix, "/", model)

    def upload_endpoint(self) -> pulumi.Input[str] | None:
        return None  # boto3 finds the regional HTTPS endpoint itself

    def ingest_env(self) -> list[dict[str, Any]]:
        return [{"name": "REGION", "value": self.region}]

    def cache_access(self, credentials: str, runtime: str) -> CacheAccess:
        if runtime in ("", "alluxio"):
            options: dict[str, pulumi.Input[str]] = {
                "alluxio.underfs.s3.region": self.region,
                "alluxio.underfs.s3.secure.http.enabled": "true",
                # the read role has no s3:GetBucketAcl: do not try to inherit the bucket ACL as file modes
                "alluxio.underfs.s3.inherit.acl": "false",
            }
            if credentials == "static":
                return CacheAccess("alluxio", options, secret=self._keys("aws.accessKeyId", "aws.secretKey"))
            return CacheAccess("alluxio", options, identity=Identity({IRSA_ANNOTATION: self.read_role}))
        # Jindo reads S3 only with keys (fluid v1.0.8 pkg/ddc/jindocache/transform.go); validation refuses
        # it without cache.credentials: static
        return CacheAccess("jindo", {"fs.s3.region": self.region, "fs.s3.endpoint": self.endpoint},
                           secret=self._keys("fs.s3.accessKeyId", "fs.s3.accessKeySecret"))

    def _keys(self, id_name: str, secret_name: str) -> dict[str, pulumi.Input[str]]:
        if self.static_keys is None:
            raise ValueError("kserve-fluid:cache.credentials: static, but storageAccessKeyId/storageSecretAccessKey are not set")
        key_id, secret = self.static_keys
        return {id_name: pulumi.Output.secret(key_id), secret_name: pulumi.Output.secret(secret)}
