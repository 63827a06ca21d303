"""The namespace that holds the model's cache, ingest Job and InferenceService, with its identities."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.foundation import CACHE_SERVICE_ACCOUNT, INGEST_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT, Identity

SERVER_SERVICE_ACCOUNT = "model-server"
# Holds no rights: its tokens, minted for the endpoint's audience, are how callers authenticate when the
# endpoint trusts this cluster's own service-account issuer (endpoint.jwtIssuer: cluster).
CLIENT_SERVICE_ACCOUNT = "model-client"
# Fluid runs the cache's FUSE client privileged in the Dataset's own namespace (a FUSE mount needs
# /dev/fuse and mount propagation), so the namespace cannot enforce the restricted Pod Security level;
# it warns and audits against it instead, so any other privileged pod is visible.
POD_SECURITY = {"pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "baseline", "pod-security.kubernetes.io/audit": "baseline"}


@dataclass
class ModelNamespaceArgs:
    namespace: str
    writer: Identity  # the ingest Job
    reader: Identity  # the storage-initializer baseline
    cache: Identity | None = None  # Fluid's pods (no ServiceAccount field: they run as `default`)
    client_account: bool = False  # create CLIENT_SERVICE_ACCOUNT
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # e.g. the cloud's pod-identity webhook


class ModelNamespace(pulumi.ComponentResource):
    """One namespace per stack's model, with a ServiceAccount per job to do:

    - `default`: Fluid's runtime and DataLoad pods run as it; it carries the cache's identity only when the
      cloud's cache reads with a pod identity (AWS, Alluxio + IRSA), so any other pod without an explicit
      ServiceAccount gets that read-only identity too: keep other workloads out of this namespace;
    - `model-ingest`: the ingest Job, read-write on the model prefix;
    - `model-reader`: the storage-initializer baseline, read-only;
    - `model-server`: the inference pods, no cloud identity and no API token (they read through the cache's PVC).
    """

    def __init__(self, name: str, args: ModelNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ModelNamespace", name, None, opts)
        identities = [i for i in (args.writer, args.reader, args.cache) if i]
        labels = {**POD_SECURITY, **{k: v for i in identities for k, v in i.namespace_labels.items()}}
        self.namespace = k8s.core.v1.Namespace(name, metadata={"name": args.namespace, "labels": labels},
                                               opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on))
        self.name = self.namespace.metadata.name
        self.ready: list[pulumi.Resource] = [self.namespace]
        if args.cache and args.cache.service_account_annotations:
            self.ready.append(k8s.core.v1.ServiceAccountPatch(f"{name}-{CACHE_SERVICE_ACCOUNT}", metadata={
                "name": CACHE_SERVICE_ACCOUNT, "namespace": self.name,
                "annotations": args.cache.service_account_annotations}, opts=pulumi.ResourceOptions(parent=self.namespace)))
        self.ingest_account = self._account(name, INGEST_SERVICE_ACCOUNT, args.writer.service_account_annotations)
        self.reader_account = self._account(name, READER_SERVICE_ACCOUNT, args.reader.service_account_annotations)
        self.server_account = self._account(name, SERVER_SERVICE_ACCOUNT, {}, automount=False)
        if args.client_account:
            self._account(name, CLIENT_SERVICE_ACCOUNT, {}, automount=False)
        self._namespace_name = args.namespace
        self.register_outputs({"name": self.name})

    def token_command(self, audiences: tuple[str, ...] | list[str]) -> str:
        """How a caller gets a token the endpoint accepts (needs `create serviceaccounts/token` in the namespace)."""
        audience = " ".join(f"--audience {a}" for a in audiences)
        return f"kubectl -n {self._namespace_name} create token {CLIENT_SERVICE_ACCOUNT} {audience} --duration 1h"

    def _account(self, prefix: str, name: str, annotations: dict, automount: bool = True) -> k8s.core.v1.ServiceAccount:
        return k8s.core.v1.ServiceAccount(f"{prefix}-{name}", metadata={
            "name": name, "namespace": self.name, "annotations": annotations},
            automount_service_account_token=automount, opts=pulumi.ResourceOptions(parent=self.namespace))
