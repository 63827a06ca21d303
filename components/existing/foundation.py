"""Bring your own cluster: a kubeconfig (or the ambient context) and an existing bucket and roles."""
from __future__ import annotations

import pulumi_kubernetes as k8s

from components.config import Settings
from components.foundation import Foundation, model_store


def build(s: Settings) -> Foundation:
    """Nothing cloud-side is created; the same platform, cache and service land on the given cluster."""
    provider = k8s.Provider("existing-cluster", kubeconfig=s.kubeconfig, context=s.cluster.context,
                            enable_server_side_apply=True)
    scheme, bucket = s.bucket.url.rstrip("/").split("://")
    region = s.bucket.region or s.region or ""
    store = model_store(scheme, bucket, s.bucket.prefix, region, s.bucket.read_role or "", s.bucket.write_role or "",
                        endpoint=s.bucket.endpoint)
    return Foundation(provider=provider, store=store, outputs={"bucketName": bucket})
