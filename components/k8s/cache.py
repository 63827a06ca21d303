"""The Fluid model cache: a Dataset over the model prefix, a JindoRuntime, and a DataLoad prefetch."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.config import CacheSettings
from components.foundation import ModelStore

# FUSE mount options for large sequential reads of immutable files: page cache kept across opens,
# read-only, and long attribute/entry timeouts so the kernel does not re-ask the cache for metadata.
FUSE_ARGS = ["-okernel_cache", "-oro", "-oattr_timeout=7200", "-oentry_timeout=7200", "-onegative_timeout=7200",
             "-ometrics_port=9089"]


@dataclass
class ModelCacheArgs:
    namespace: pulumi.Input[str]
    model: str
    store: ModelStore
    cache: CacheSettings
    # changes whenever the model's bytes change (upload manifest digest or ingest revision key)
    model_digest: pulumi.Input[str]
    # static credentials (only with cache.credentials: static), Pulumi secrets
    access_key_id: pulumi.Input[str] | None = None
    secret_access_key: pulumi.Input[str] | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def _read_tuning(scheme: str, concurrency: int) -> dict[str, str]:
    """Jindo client knobs: many parallel range reads with read-ahead, for multi-GB safetensors shards."""
    return {
        "fs.jindofsx.data.cache.enable": "true",
        "fs.jindofsx.stream.maxPendingBlocks": "200",
        f"fs.{scheme}.download.queue.size": str(max(concurrency // 2, 1)),
        f"fs.{scheme}.download.thread.concurrency": str(concurrency),
        f"fs.{scheme}.read.readahead.buffer.count": "16",
    }


class ModelCache(pulumi.ComponentResource):
    """Caches `<bucket>/<prefix>/<model>/` on the cache node pool and prefetches it before traffic.

    The Dataset creates a read-only PVC of the same name (`pvc://<dataset>/<model>` for KServe). Workers
    sit on the cache pool, one per node; the FUSE client runs on the GPU node next to the model server.
    The DataLoad's name carries the model digest, so a new model version is warmed by a new DataLoad,
    and everything that waits on `warm` waits until that DataLoad is Complete.
    """

    def __init__(self, name: str, args: ModelCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ModelCache", name, None, opts)
        store, cache, model = args.store, args.cache, args.model
        self.dataset_name = f"{model}-cache"
        self.pvc_name = self.dataset_name  # Fluid names the PVC after the Dataset
        self.path = f"/{model}"
        mount: dict = {"name": model, "mountPoint": pulumi.Output.concat(store.url(model), "/"),
                       "path": self.path, "readOnly": True, "options": store.mount_options()}
        secret = self._credentials(name, args) if cache.credentials == "static" else None
        if secret:
            mount["encryptOptions"] = [
                {"name": f"fs.{store.scheme}.{key}", "valueFrom": {"secretKeyRef": {
                    "name": secret.metadata.name, "key": f"fs.{store.scheme}.{key}"}}}
                for key in ("accessKeyId", "accessKeySecret")]
        cache_nodes = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": k, "operator": "In", "values": [v]} for k, v in scheduling.CACHE_LABELS.items()]}]}}
        after = [*args.depends_on, *store.ready, *([secret] if secret else [])]
        self.dataset = k8s.apiextensions.CustomResource(
            name, api_version="data.fluid.io/v1alpha1", kind="Dataset",
            metadata={"name": self.dataset_name, "namespace": args.namespace},
            spec={"mounts": [mount], "accessModes": ["ReadOnlyMany"], "nodeAffinity": cache_nodes},
            opts=pulumi.ResourceOptions(parent=self, depends_on=after))

        on_cache_pool = {"nodeSelector": dict(scheduling.CACHE_LABELS),
                         "tolerations": [scheduling.toleration(scheduling.CACHE_TAINT)]}
        keyless = store.cache_properties if cache.credentials == "keyless" else {}
        tuning = _read_tuning(store.scheme, cache.download_concurrency)
        self.runtime = k8s.apiextensions.CustomResource(
            name, api_version="data.fluid.io/v1alpha1", kind="JindoRuntime",
            metadata={"name": self.dataset_name, "namespace": args.namespace},
            spec={
                "replicas": cache.replicas,
                # pod networking (not the host's) so the model namespace's NetworkPolicy applies to workers
                "networkmode": "ContainerNetwork",
                "properties": keyless,
                "tieredstore": {"levels": [{
                    "mediumtype": level.medium,
                    "volumeType": "emptyDir" if level.medium == "MEM" else "hostPath",
                    "path": "/dev/shm" if level.medium == "MEM" else level.path,
                    "quota": f"{level.quota_gi:g}Gi", "high": f"{level.high:g}", "low": f"{level.low:g}",
                } for level in cache.levels]},
                "master": on_cache_pool,
                "worker": on_cache_pool,
                "fuse": {"args": FUSE_ARGS, "properties": {**tuning, **keyless},
                         "tolerations": [scheduling.toleration(scheduling.GPU_TAINT)],
                         "cleanPolicy": "OnDemand"},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.dataset]))

        self.dataload = k8s.apiextensions.CustomResource(
            f"{name}-warm", api_version="data.fluid.io/v1alpha1", kind="DataLoad",
            metadata={
                "name": pulumi.Output.from_input(args.model_digest).apply(lambda d: f"{model}-warm-{d[:10]}" if d else f"{model}-warm"),
                "namespace": args.namespace,
                "annotations": {"pulumi.com/waitFor": "jsonpath={.status.phase}=Complete"},
            },
            spec={"dataset": {"name": self.dataset_name, "namespace": args.namespace}, "loadMetadata": True,
                  "target": [{"path": self.path, "replicas": cache.dataload_replicas}],
                  "tolerations": [scheduling.toleration(scheduling.CACHE_TAINT)]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.runtime], delete_before_replace=True,
                                        custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m")))
        self.warm: list[pulumi.Resource] = [self.dataload]
        self.register_outputs({"datasetName": self.dataset_name, "pvcName": self.pvc_name,
                               "dataloadName": self.dataload.metadata["name"]})

    def _credentials(self, name: str, args: ModelCacheArgs) -> k8s.core.v1.Secret:
        """Static keys, only when configured: a Secret whose payload stays a Pulumi secret."""
        scheme = args.store.scheme
        return k8s.core.v1.Secret(f"{name}-credentials", metadata={
            "name": f"{args.model}-cache-credentials", "namespace": args.namespace}, type="Opaque",
            string_data={f"fs.{scheme}.accessKeyId": pulumi.Output.secret(args.access_key_id),
                         f"fs.{scheme}.accessKeySecret": pulumi.Output.secret(args.secret_access_key)},
            opts=pulumi.ResourceOptions(parent=self))
