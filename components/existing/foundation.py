"""Bring your own cluster: a kubeconfig (or the ambient context) and an existing bucket and roles."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.aws.store import S3Store
from components.config import Settings
from components.existing.defaults import BUCKET_URL
from components.foundation import ClusterFacts, Foundation, FoundationOutputs, ModelStore


def build(s: Settings) -> Foundation:
    """Nothing cloud-side is created; the same platform, cache and service land on the given cluster, whose
    nodes must carry the pool labels and taints of components/scheduling.py (README, "Bring your own")."""
    provider = k8s.Provider("existing-cluster", kubeconfig=s.kubeconfig, context=s.cluster.context,
                            enable_server_side_apply=True)
    scheme, bucket = BUCKET_URL.fullmatch(s.bucket.url or "").groups()
    region = s.bucket.region or s.region or ""
    keys = (s.storage_access_key_id, s.storage_secret_access_key) if s.cache.credentials == "static" else None
    store: ModelStore
    if scheme == "s3":
        store = S3Store(bucket, s.bucket.prefix, region, s.bucket.read_role or "", s.bucket.write_role or "", static_keys=keys)
    else:
        from components.alicloud.store import OssStore

        store = OssStore.existing(bucket, s.bucket.prefix, region, s.bucket.endpoint or "", s.bucket.read_role or "",
                                  s.bucket.write_role or "", static_keys=keys)
    return Foundation(provider=provider, store=store, cluster=ClusterFacts(),
                      outputs=FoundationOutputs(bucket_name=bucket, model_read_role=s.bucket.read_role,
                                                model_write_role=s.bucket.write_role))
