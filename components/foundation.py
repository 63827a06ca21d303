"""What a cloud hands to the cloud-agnostic Kubernetes parts.

`components.aws`, `components.alicloud` and `components.existing` each build a `Foundation`; the platform,
model, cache and inference components only ever see this shape, so they are written once for both clouds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


# ServiceAccounts in the model namespace that cloud roles trust. Fluid's runtime and DataLoad pods have
# no ServiceAccount field and run as the namespace's `default`, so that one carries the cache identity.
CACHE_SERVICE_ACCOUNT = "default"
INGEST_SERVICE_ACCOUNT = "model-ingest"
READER_SERVICE_ACCOUNT = "model-reader"


@dataclass
class Identity:
    """How pods get object-store credentials without keys (IRSA on EKS, RRSA on ACK).

    `service_account_annotations` go on the ServiceAccount the pods run as; `namespace_labels` on its
    namespace (ACK's pod-identity webhook only injects into labelled namespaces).
    """

    service_account_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelStore:
    """The bucket holding the models and the identities that read and write it."""

    scheme: str  # "s3" or "oss"
    bucket: pulumi.Input[str]
    prefix: str  # models live at <prefix>/<model name>/ in the bucket
    region: str
    endpoint: pulumi.Input[str]  # in-region endpoint the cache reads through
    cache_reader: Identity  # Fluid runtime and DataLoad pods (the namespace's default ServiceAccount)
    writer: Identity  # model ingest Job
    reader: Identity  # KServe storage initializer (the A/B baseline)
    # Jindo properties that make the cache read keyless where the runtime cannot use pod identities
    cache_properties: dict[str, str] = field(default_factory=dict)
    ready: list[pulumi.Resource] = field(default_factory=list)  # bucket settings and policies

    def url(self, model: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.scheme, "://", self.bucket, "/", self.prefix, "/", model)

    def mount_options(self) -> dict[str, pulumi.Input[str]]:
        """The Dataset mount options Jindo needs to find the bucket."""
        if self.scheme == "s3":
            return {"fs.s3.region": self.region, "fs.s3.endpoint": self.endpoint}
        return {"fs.oss.endpoint": self.endpoint}


@dataclass
class Foundation:
    """A reachable cluster with GPU and cache capacity, and the model store."""

    provider: k8s.Provider
    store: ModelStore
    kubelet_root_dir: str = "/var/lib/kubelet"
    # Resources that must exist before workloads land (node pools); the platform waits for them.
    capacity: list[pulumi.Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # cloud-specific stack outputs


def pod_identity(scheme: str, role: pulumi.Input[str]) -> Identity:
    """IRSA (role ARN) for S3 on EKS, RRSA (RAM role name) for OSS on ACK."""
    if scheme == "s3":
        return Identity({"eks.amazonaws.com/role-arn": role})
    return Identity({"pod-identity.alibabacloud.com/role-name": role},
                    {"pod-identity.alibabacloud.com/injection": "on"})


def in_region_endpoint(scheme: str, region: str) -> str:
    return f"s3.{region}.amazonaws.com" if scheme == "s3" else f"oss-{region}-internal.aliyuncs.com"


# JindoSDK cannot use RRSA tokens; on OSS it reads keyless through the cache node's own RAM role.
NODE_ROLE_CACHE_PROPERTIES = {"fs.oss.provider.endpoint": "ECS_ROLE", "fs.oss.provider.format": "JSON"}


def model_store(scheme: str, bucket: pulumi.Input[str], prefix: str, region: str, read_role: pulumi.Input[str],
                write_role: pulumi.Input[str], endpoint: pulumi.Input[str] | None = None,
                ready: list[pulumi.Resource] | None = None) -> ModelStore:
    """The same store shape for every cloud: only the identity mechanism and endpoints differ."""
    endpoint = endpoint or in_region_endpoint(scheme, region)
    reader = pod_identity(scheme, read_role)
    if scheme == "s3":
        reader.service_account_annotations |= {"serving.kserve.io/s3-region": region,
                                               "serving.kserve.io/s3-endpoint": endpoint,
                                               "serving.kserve.io/s3-usehttps": "1"}
    return ModelStore(
        scheme=scheme, bucket=bucket, prefix=prefix, region=region, endpoint=endpoint,
        cache_reader=pod_identity(scheme, read_role) if scheme == "s3" else Identity(),
        writer=pod_identity(scheme, write_role), reader=reader,
        cache_properties={} if scheme == "s3" else dict(NODE_ROLE_CACHE_PROPERTIES), ready=ready or [])
