"""The shapes a cloud hands to the cloud-agnostic Kubernetes parts. Nothing here knows a cloud.

Each cloud folder (`components/aws`, `components/alicloud`, `components/existing`) builds a `Foundation`
and implements `ModelStore`; the platform, model, cache and inference components only ever see these
shapes, so they are written once for every cloud (see README, "Adding a cloud").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

# ServiceAccounts in the model namespace that cloud roles trust. Fluid's runtime and DataLoad pods have no
# ServiceAccount field and run as the namespace's `default`, so a cloud whose cache reads with a pod
# identity annotates that one (see CacheAccess.identity).
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
class CacheAccess:
    """How the Fluid cache reads the bucket: decided by the cloud, applied by `components.k8s.cache`.

    `runtime` is the Fluid runtime kind whose client can use these credentials; `options` become the
    Dataset mount options; `secret` (values are Pulumi secrets) becomes a Kubernetes Secret referenced by
    the mount's `encryptOptions`; `properties` are set on the runtime's master, worker and FUSE.
    """

    runtime: str
    options: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secret: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    identity: Identity | None = None  # on the namespace's `default` ServiceAccount, when the runtime needs it


class ModelStore(Protocol):
    """The bucket holding the models, and how each kind of client reaches it."""

    scheme: str  # "s3" or "oss": the URL scheme of `url()`
    bucket: pulumi.Input[str]
    prefix: str  # models live at <prefix>/<model>/<version>/ in the bucket
    region: str
    writer: Identity  # the in-cluster ingest Job
    reader: Identity  # KServe's storage initializer (the A/B baseline)
    ready: list[pulumi.Resource]  # bucket settings and policies that must exist before the first write

    def url(self, model: str) -> pulumi.Output[str]:
        """The store root of one model: `<scheme>://<bucket>/<prefix>/<model>`."""

    def upload_endpoint(self) -> pulumi.Input[str] | None:
        """An HTTPS endpoint reachable from the deployer's machine (None: the SDK finds it)."""

    def ingest_env(self) -> list[dict[str, Any]]:
        """Extra environment of the in-cluster writer (region, in-region HTTPS endpoint)."""

    def cache_access(self, credentials: str, runtime: str) -> CacheAccess:
        """How the cache reads the bucket with `cache.credentials` (keyless|static) and `cache.runtime`."""


@dataclass
class ClusterFacts:
    """What the platform must know about the cluster a cloud built."""

    kubelet_root_dir: str = "/var/lib/kubelet"
    # Fluid's CSI plugin reads the kubelet's kubeconfig unless told not to (EKS nodes have none it can use)
    fluid_node_authorization: bool = True
    # annotations of the ingress gateway's LoadBalancer Service (idle timeouts, LB type)
    load_balancer_annotations: dict[str, str] = field(default_factory=dict)
    # the cloud ships its own NVIDIA device plugin on GPU nodes
    ships_device_plugin: bool = False
    # the ASM ingress gateway, created cloud-side; the platform waits for its Service
    mesh_gateway: list[pulumi.Resource] = field(default_factory=list)
    # the cloud's node-local metadata endpoint, which model pods must not reach
    metadata_cidr: str | None = None
    # issuer of the cluster's service-account tokens (endpoint.jwtIssuer: cluster)
    service_account_issuer: pulumi.Input[str] | None = None
    # where nodes with instance-store NVMe mount it (cache tiers default below it)
    local_nvme_path: str | None = None


@dataclass
class FoundationOutputs:
    """Stack outputs with the same keys on every cloud (None where a cloud has no such thing)."""

    cluster_name: pulumi.Input[str] | None = None
    kubeconfig: pulumi.Input[str] | None = None
    bucket_name: pulumi.Input[str] | None = None
    model_read_role: pulumi.Input[str] | None = None
    model_write_role: pulumi.Input[str] | None = None
    gpu_node_pool: pulumi.Input[str] | None = None
    cache_node_pool: pulumi.Input[str] | None = None
    kubectl_access: pulumi.Input[str] | None = None  # the command that writes a kubeconfig for a person
    deployer: pulumi.Input[str] | None = None  # how to reach the in-VPC deployer, when there is one
    extra: dict[str, Any] = field(default_factory=dict)  # cloud-specific outputs


@dataclass
class Foundation:
    """A reachable cluster with GPU and cache capacity, and the model store."""

    provider: k8s.Provider
    store: ModelStore
    cluster: ClusterFacts
    # Resources that must exist before workloads land (node pools, autoscaler); the platform waits for them.
    capacity: list[pulumi.Resource] = field(default_factory=list)
    mirrors: dict[str, str] = field(default_factory=dict)  # registry mirrors the cloud created (images.registries wins)
    outputs: FoundationOutputs = field(default_factory=FoundationOutputs)
