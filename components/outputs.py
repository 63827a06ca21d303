"""Stack outputs: one typed set with the same keys on every cloud. Tools read these keys (tools.promote,
tools.coldstart), so they are named once here."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi

# Read by tools.promote (verification) and tools.coldstart (what to measure); keep them stable.
PROMOTION_KEYS = ("release", "releaseDigest", "servedRelease", "servedRevision", "modelRevision", "modelDigest",
                  "servingImage", "inferenceServiceReady")
COLDSTART_KEYS = ("namespace", "inferenceService", "baselineInferenceService", "modelHost", "baselineModelHost",
                  "ingressAddress", "modelName", "scaleToZeroSeconds", "endpointScheme", "endpointAuth")


@dataclass
class StackOutputs:
    # the release, as configured and as served
    release: Any
    releaseDigest: str
    servedRelease: Any  # from the awaited InferenceService: known only once this release served
    servedRevision: Any  # the Knative revision that became Ready
    inferenceServiceReady: Any
    servingImage: str
    modelName: str
    modelRevision: Any  # the commit a branch resolved to, or a local model's digest
    modelDigest: Any  # sha256 of the version's manifest: its content
    modelVersion: Any  # the version directory below modelUrl's root
    modelUrl: Any
    # reaching it
    namespace: str
    inferenceService: str
    modelHost: str
    baselineInferenceService: str | None
    baselineModelHost: str | None
    ingressAddress: Any
    endpointScheme: str
    endpointAuth: str
    endpointOpen: bool
    caCertificate: Any
    tokenCommand: str | None
    curl: Any
    # the cache and timing
    datasetName: str
    pvcName: str
    scaleToZeroSeconds: int
    scaleToZeroGraceSeconds: int  # former name of scaleToZeroSeconds, kept for one release
    gpuNodeIdleMinutes: int
    platformVersions: Any
    progress: str  # a command that shows what `pulumi up` waits for
    idleCostPerHour: float | None  # estimate, USD (components/costs.py): the model at zero, GPU pool at its minimum
    # the cloud's, same keys everywhere (None where a cloud has no such thing)
    clusterName: Any
    kubeconfig: Any
    kubectlAccess: Any
    deployer: Any
    bucketName: Any
    modelReadRole: Any
    modelWriteRole: Any
    gpuNodePool: Any
    cacheNodePool: Any
    cloudOutputs: Any  # cloud-specific extras (region, ARNs)


def export(outputs: StackOutputs) -> None:
    for field in fields(outputs):  # not dataclasses.asdict: it would deep-copy the Outputs
        pulumi.export(field.name, getattr(outputs, field.name))


KEYS = tuple(f.name for f in fields(StackOutputs))
