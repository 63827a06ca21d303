"""The namespace that holds the model's cache, ingest Job and InferenceService, with its identities."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.foundation import (CACHE_SERVICE_ACCOUNT, INGEST_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT,
                                   ModelStore)

SERVER_SERVICE_ACCOUNT = "model-server"


class ModelNamespace(pulumi.ComponentResource):
    """One namespace per stack's model, with a ServiceAccount per job to do:

    - `default`: Fluid's runtime and DataLoad pods run as it, so it carries the read-only cache identity;
    - `model-ingest`: the ingest Job, read-write on the model prefix;
    - `model-reader`: the storage-initializer baseline, read-only;
    - `model-server`: the inference pods, no cloud identity at all (they read through the cache PVC).
    """

    def __init__(self, name: str, namespace: str, store: ModelStore, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ModelNamespace", name, None, opts)
        labels = {**store.cache_reader.namespace_labels, **store.writer.namespace_labels}
        self.namespace = k8s.core.v1.Namespace(name, metadata={"name": namespace, "labels": labels},
                                               opts=pulumi.ResourceOptions(parent=self))
        in_ns = pulumi.ResourceOptions(parent=self.namespace)
        self.name = self.namespace.metadata.name
        self.cache_account = k8s.core.v1.ServiceAccountPatch(f"{name}-{CACHE_SERVICE_ACCOUNT}", metadata={
            "name": CACHE_SERVICE_ACCOUNT, "namespace": self.name,
            "annotations": store.cache_reader.service_account_annotations}, opts=in_ns)
        self.ingest_account = self._account(name, INGEST_SERVICE_ACCOUNT, store.writer.service_account_annotations)
        self.reader_account = self._account(name, READER_SERVICE_ACCOUNT, store.reader.service_account_annotations)
        self.server_account = self._account(name, SERVER_SERVICE_ACCOUNT, {}, automount=False)
        self.register_outputs({"name": self.name})

    def _account(self, prefix: str, name: str, annotations: dict, automount: bool = True) -> k8s.core.v1.ServiceAccount:
        return k8s.core.v1.ServiceAccount(f"{prefix}-{name}", metadata={
            "name": name, "namespace": self.name, "annotations": annotations},
            automount_service_account_token=automount, opts=pulumi.ResourceOptions(parent=self.namespace))
