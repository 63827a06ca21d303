"""The Fluid model cache: a Dataset over the model's store root, the runtime whose client can read that
store (Jindo on OSS, Alluxio on S3: the cloud decides, see CacheAccess), and a DataLoad that prefetches one
model version and fails `pulumi up` fast when it fails."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.foundation import CacheAccess
from components.k8s.awaited import Awaited
from components.names import ModelNames

# Jindo FUSE options for large reads of immutable files: page cache kept across opens, read-only, and long
# attribute/entry timeouts (a version directory never changes). No negative-entry cache: a version directory
# that appears later must be found at once.
JINDO_FUSE_ARGS = ["-okernel_cache", "-oro", "-oattr_timeout=7200", "-oentry_timeout=7200", "-ometrics_port=9089"]
# A DataLoad reaches exactly one of these; the wait ends on either (pulumi-kubernetes >= 4.24 JSONPath filters).
DATALOAD_WAIT = "jsonpath={.status[?@ == 'Complete' || @ == 'Failed']}"
# Pessimistic fill rate of one cached copy, to size the DataLoad's timeout from the model's size.
FILL_MIB_PER_SECOND = 50


@dataclass
class TierSpec:
    medium: str  # MEM, SSD or HDD
    path: str
    quota_gi: float
    high: float
    low: float


@dataclass
class ModelCacheArgs:
    names: ModelNames
    namespace: pulumi.Input[str]
    root_url: pulumi.Input[str]  # the model's store root; versions are directories below it
    version: pulumi.Input[str]  # the version to prefetch
    access: CacheAccess
    replicas: int
    tiers: list[TierSpec]
    dataload_replicas: int
    size_gi: float
    images: dict[str, str] = field(default_factory=dict)  # runtime images by name (already mirrored)
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ModelCache(pulumi.ComponentResource):
    """Caches `<root>/` on the cache node pool and prefetches `<root>/<version>/` before traffic.

    The Dataset creates a read-only PVC of the same name; KServe mounts `pvc://<dataset>/<model>/<version>`.
    Workers sit on the cache pool, one per node; the FUSE client runs on each GPU node that mounts the PVC
    and stays (`OnRuntimeDeleted`), so a scale-to-zero keeps the mount and the node's page cache. A new model
    version is a new directory and a new DataLoad; the Dataset's mount never changes (jindocache ignores a
    changed mountPoint). `warm` is the version string, resolved only once the DataLoad is Complete, so anything
    built from it waits for the prefetch and is never created after a Failed one.
    """

    def __init__(self, name: str, args: ModelCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ModelCache", name, None, opts)
        names, access = args.names, args.access
        self.dataset_name = names.dataset
        self.pvc_name = names.pvc
        secret = self._credentials(name, args) if access.secret else None
        mount: dict = {"name": names.model, "mountPoint": pulumi.Output.concat(args.root_url, "/"),
                       "path": names.mount_path, "readOnly": True, "options": dict(access.options)}
        if secret:
            mount["encryptOptions"] = [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret.metadata.name, "key": key}}}
                                       for key in access.secret]
        cache_nodes = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": k, "operator": "In", "values": [v]} for k, v in scheduling.CACHE_LABELS.items()]}]}}
        tolerate_cache = [scheduling.toleration(scheduling.CACHE_TAINT)]
        self.dataset = k8s.apiextensions.CustomResource(
            name, api_version="data.fluid.io/v1alpha1", kind="Dataset",
            metadata={"name": self.dataset_name, "namespace": args.namespace},
            # Alluxio's master and workers take their tolerations from the Dataset (charts/alluxio @v1.0.8)
            spec={"mounts": [mount], "accessModes": ["ReadOnlyMany"], "nodeAffinity": cache_nodes,
                  "tolerations": tolerate_cache},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *([secret] if secret else [])]))
        kind, spec = (("AlluxioRuntime", _alluxio(args)) if access.runtime == "alluxio" else ("JindoRuntime", _jindo(args)))
        self.runtime = k8s.apiextensions.CustomResource(
            name, api_version="data.fluid.io/v1alpha1", kind=kind,
            metadata={"name": self.dataset_name, "namespace": args.namespace}, spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.dataset]))
        version = pulumi.Output.from_input(args.version)
        timeout = f"{_fill_minutes(args.size_gi, args.dataload_replicas)}m"
        self.dataload = Awaited(
            f"{name}-warm", api_version="data.fluid.io/v1alpha1", kind="DataLoad",
            metadata={"name": version.apply(names.dataload), "namespace": args.namespace,
                      "annotations": {"pulumi.com/waitFor": DATALOAD_WAIT}},
            spec={"dataset": {"name": self.dataset_name, "namespace": args.namespace}, "loadMetadata": True,
                  "target": [{"path": pulumi.Output.concat(names.mount_path, "/", version), "replicas": args.dataload_replicas}],
                  "tolerations": tolerate_cache},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.runtime], delete_before_replace=True,
                                        custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout)))
        self.warm: pulumi.Output[str] = pulumi.Output.all(self.dataload.status, version, self.dataload.metadata).apply(
            lambda a: _completed(a[0], a[1], a[2], names.namespace))
        self.ready: list[pulumi.Resource] = [self.dataload]
        self.register_outputs({"datasetName": self.dataset_name, "pvcName": self.pvc_name,
                               "dataloadName": self.dataload.metadata["name"]})

    def _credentials(self, name: str, args: ModelCacheArgs) -> k8s.core.v1.Secret:
        """The store's keys, only when its access needs them: a Secret whose payload stays a Pulumi secret."""
        return k8s.core.v1.Secret(f"{name}-credentials", metadata={
            "name": f"{args.names.model}-cache-credentials", "namespace": args.namespace}, type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in args.access.secret.items()},
            opts=pulumi.ResourceOptions(parent=self))


def _fill_minutes(size_gi: float, copies: int) -> int:
    """Long enough for the copies at a pessimistic fill rate, plus the runtime's start; short enough that a
    stuck prefetch fails within minutes of when it should have finished."""
    return math.ceil(size_gi * 1024 * copies / FILL_MIB_PER_SECOND / 60) + 10


def _completed(status: Any, version: str, metadata: Any, namespace: str) -> str:
    phase = (status or {}).get("phase") if isinstance(status, dict) else None
    if phase in (None, "Complete"):  # None: a preview, or the mocks
        return version
    name = (metadata or {}).get("name", "") if isinstance(metadata, dict) else ""
    reasons = "; ".join(c.get("message", "") for c in (status.get("conditions") or []) if c.get("message"))
    raise RuntimeError(f"DataLoad {name} ended {phase}: {reasons or 'see its events'} "
                       f"(kubectl -n {namespace} describe dataload {name}; kubectl -n {namespace} logs job/{name}-loader-job)")


def _tiers(args: ModelCacheArgs) -> dict:
    return {"levels": [{
        "mediumtype": tier.medium,
        "volumeType": "emptyDir" if tier.medium == "MEM" else "hostPath",
        "path": "/dev/shm" if tier.medium == "MEM" else tier.path,
        "quota": f"{tier.quota_gi:g}Gi", "high": f"{tier.high:g}", "low": f"{tier.low:g}",
    } for tier in args.tiers]}


def _memory_tier_gi(args: ModelCacheArgs) -> float:
    return sum(t.quota_gi for t in args.tiers if t.medium == "MEM")


def _resources(cpu: str, memory_gi: float, cpu_limit: str, memory_limit_gi: float) -> dict:
    return {"requests": {"cpu": cpu, "memory": f"{memory_gi:g}Gi"},
            "limits": {"cpu": cpu_limit, "memory": f"{memory_limit_gi:g}Gi"}}


def _image(args: ModelCacheArgs, key: str) -> dict:
    ref = args.images.get(key)
    if not ref:
        return {}
    image, _, tag = ref.rpartition(":")
    return {"image": image, "imageTag": tag}


def _jindo(args: ModelCacheArgs) -> dict:
    on_cache_pool = {"nodeSelector": dict(scheduling.CACHE_LABELS), "tolerations": [scheduling.toleration(scheduling.CACHE_TAINT)]}
    properties = dict(args.access.properties)
    mem = _memory_tier_gi(args)
    return {
        "replicas": args.replicas,
        # pod networking (not the host's) so the model namespace's NetworkPolicy applies to the cache
        "networkmode": "ContainerNetwork",
        "tieredstore": _tiers(args),
        # a worker's memory limit must hold its memory tier (Fluid refuses a smaller one)
        "master": {**on_cache_pool, "properties": properties, "resources": _resources("500m", 1, "2", 4)},
        "worker": {**on_cache_pool, "properties": properties, "resources": _resources("1", 2 + mem, "3", 4 + mem)},
        "jindoVersion": {**_image(args, "jindoSmartdata"), "imagePullPolicy": "IfNotPresent"},
        "fuse": {"args": JINDO_FUSE_ARGS, "properties": properties, "cleanPolicy": "OnRuntimeDeleted",
                 **_image(args, "jindoFuse"), "imagePullPolicy": "IfNotPresent",
                 "resources": _resources("500m", 1, "4", 8)},
    }


def _alluxio(args: ModelCacheArgs) -> dict:
    on_cache_pool = {"nodeSelector": dict(scheduling.CACHE_LABELS), "networkMode": "ContainerNetwork"}
    mem = _memory_tier_gi(args)
    return {
        "replicas": args.replicas,
        "tieredstore": _tiers(args),
        "properties": dict(args.access.properties),
        "alluxioVersion": {**_image(args, "alluxio"), "imagePullPolicy": "IfNotPresent"},
        "master": {**on_cache_pool, "resources": _resources("500m", 2, "2", 4)},
        "jobMaster": {"resources": _resources("250m", 1, "1", 2)},
        "worker": {**on_cache_pool, "resources": _resources("1", 3 + mem, "3", 6 + mem)},
        "jobWorker": {"resources": _resources("500m", 1, "2", 4)},
        "fuse": {"cleanPolicy": "OnRuntimeDeleted", **_image(args, "alluxio"), "imagePullPolicy": "IfNotPresent",
                 "resources": _resources("500m", 2, "4", 8)},
    }
