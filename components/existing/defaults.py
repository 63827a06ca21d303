"""Bring your own cluster: defaults and rules. The bucket's scheme (s3 or oss) picks the cache runtime."""

from __future__ import annotations

import re

from components.aws.defaults import alicloud_only, aws_only
from components.cloud import Cloud
from components.config import PROJECT, Raw, Settings

P = PROJECT
BUCKET_URL = re.compile(r"(s3|oss)://([a-z0-9][a-z0-9.-]+[a-z0-9])/?")

DEFAULTS = {
    "systemPool": {"instanceType": "existing.nodes"},
    "gpuPool": {"instanceType": "existing.nodes"},
    "cachePool": {"instanceType": "existing.nodes"},
    "platform": {"install": {"clusterAutoscaler": False}},
}


def scheme(url: str) -> str:
    return url.split("://")[0]


def validate(s: Settings, raw: Raw) -> list[str]:
    problems, b = [], s.bucket
    if not b.url:
        problems.append(f"{P}:bucket.url: missing; with cloud 'existing' name the model bucket as s3://<bucket> or oss://<bucket>")
    elif not BUCKET_URL.fullmatch(b.url):
        problems.append(f"{P}:bucket.url: got {b.url!r}; s3://<bucket> or oss://<bucket> (a bucket name, no path: the path is bucket.prefix)")
    url_scheme = scheme(b.url) if b.url else ""
    if url_scheme == "oss" and s.cache.credentials == "keyless":
        problems.append(f"{P}:cache.credentials: got 'keyless'; JindoSDK cannot assume an RRSA role, so an oss:// bucket this stack does not create is read with a key: set cache.credentials static and storageAccessKeyId/storageSecretAccessKey with `pulumi config set --secret`")
    elif s.cache.credentials == "keyless" and not b.read_role:
        problems.append(f"{P}:bucket.readRole: missing; with cloud 'existing' and keyless credentials give the IAM role ARN the cache assumes, or set cache.credentials: static")
    if s.release.model.from_hugging_face and s.cache.credentials == "keyless" and not b.write_role:
        problems.append(f"{P}:bucket.writeRole: missing; the in-cluster Hugging Face ingest needs a role that can write the bucket")
    if not (b.region or s.region):
        problems.append(f"{P}:bucket.region: missing; with cloud 'existing' give the bucket's region")
    if url_scheme == "oss" and not b.endpoint:
        problems.append(f"{P}:bucket.endpoint: missing; an OSS bucket needs its endpoint host, e.g. oss-cn-hangzhou-internal.aliyuncs.com")
    if s.inference.baseline and url_scheme != "s3":
        problems.append(f"{P}:inference.baseline: got True; KServe's storage initializer has no oss:// support, the baseline runs on S3 only")
    expected = {"s3": "alluxio", "oss": "jindo"}.get(url_scheme)
    if expected and s.cache.runtime not in ("", expected) and s.cache.credentials == "keyless":
        problems.append(f"{P}:cache.runtime: got {s.cache.runtime!r}; keyless reads of {url_scheme}:// need {expected!r}")
    problems += [p for p in alicloud_only(s) if "mesh" not in p] + aws_only(s)
    return problems


CLOUD = Cloud(name="existing", builder="components.existing.foundation:build", defaults=DEFAULTS, validate=validate)
