"""The OSS model store: how the ingest, the uploader and the Fluid cache reach an OSS bucket."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.config import PROJECT
from components.foundation import CacheAccess, Identity

ROLE_ANNOTATION = "pod-identity.alibabacloud.com/role-name"  # read by ack-pod-identity-webhook
INJECTION_LABEL = {"pod-identity.alibabacloud.com/injection": "on"}  # the webhook only injects in such namespaces

Keys = tuple[pulumi.Input[str], pulumi.Input[str]]  # AccessKey id, secret


@dataclass
class OssStore:
    """An OSS bucket written by the ingest with an RRSA role, read by the cache with an AccessKey.

    Every client speaks HTTPS, because the bucket policy refuses plain HTTP: the SDK endpoints carry
    `https://` (oss2 prepends `http://` to a bare host), and JindoSDK, HTTP by default, gets
    `fs.oss.https.enable` (its maintainers' switch; whether the Jindo servers honour it is unverified,
    docs/upstream-facts.md). The cache's Dataset takes the bare internal host.
    """

    bucket: pulumi.Input[str]
    prefix: str
    region: str
    write_role: pulumi.Input[str]  # RAM role name the ingest assumes
    managed_keys: Keys | None = None  # the read-only key this stack created (cache.credentials: keyless)
    static_keys: Keys | None = None  # the stack's storageAccessKeyId/SecretAccessKey (cache.credentials: static)
    read_role: pulumi.Input[str] | None = None  # a reader's RAM role (cloud existing); ACK stacks have none
    internal_host: str = ""  # in-region endpoint; default oss-<region>-internal.aliyuncs.com
    ready: list[pulumi.Resource] = field(default_factory=list)
    scheme: str = "oss"

    def __post_init__(self) -> None:
        self.internal_host = self.internal_host or f"oss-{self.region}-internal.aliyuncs.com"

    @classmethod
    def existing(cls, bucket: str, prefix: str, region: str, endpoint: str, read_role: str, write_role: str,
                 static_keys: Keys | None = None) -> OssStore:
        """A bucket this stack does not manage (cloud existing): no managed key, so the cache needs static keys."""
        return cls(bucket, prefix, region, write_role, static_keys=static_keys, read_role=read_role or None,
                   internal_host=endpoint.removeprefix("https://"))

    @property
    def public_host(self) -> str:
        return self.internal_host.replace("-internal.", ".")

    @property
    def writer(self) -> Identity:
        return Identity({ROLE_ANNOTATION: self.write_role}, dict(INJECTION_LABEL))

    @property
    def reader(self) -> Identity:
        """KServe's storage initializer has no oss:// support (the baseline is refused), so only a given role."""
        return Identity({ROLE_ANNOTATION: self.read_role}, dict(INJECTION_LABEL)) if self.read_role else Identity()

    def url(self, model: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("oss://", self.bucket, "/", self.prefix, "/", model)

    def upload_endpoint(self) -> pulumi.Input[str] | None:
        return f"https://{self.public_host}"

    def ingest_env(self) -> list[dict[str, Any]]:
        """The RRSA exchange goes to the public `sts.aliyuncs.com` unless alibabacloud_credentials reads these two
        (provider/oidc.py @1.0.12): then to `sts-vpc.<region>.aliyuncs.com`, inside the VPC."""
        return [{"name": "REGION", "value": self.region}, {"name": "ENDPOINT", "value": f"https://{self.internal_host}"},
                {"name": "ALIBABA_CLOUD_STS_REGION", "value": self.region},
                {"name": "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "value": "true"}]

    def cache_access(self, credentials: str, runtime: str) -> CacheAccess:
        if runtime not in ("", "jindo"):
            raise ValueError(f"{PROJECT}:cache.runtime: got {runtime!r}; OSS is read by JindoRuntime")
        keys = self.static_keys if credentials == "static" else self.managed_keys
        if keys is None:
            missing = ("storageAccessKeyId/storageSecretAccessKey are not set" if credentials == "static" else
                       "this bucket has no managed read key (cloud existing): set cache.credentials static")
            raise ValueError(f"{PROJECT}:cache.credentials: {credentials}, but {missing}")
        key_id, secret = keys
        return CacheAccess("jindo", {"fs.oss.endpoint": self.internal_host},
                           secret={"fs.oss.accessKeyId": pulumi.Output.secret(key_id),
                                   "fs.oss.accessKeySecret": pulumi.Output.secret(secret)},
                           properties={"fs.oss.https.enable": "true"})
