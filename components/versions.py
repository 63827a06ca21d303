"""Every chart and image version the project deploys, pinned in one place, and the one place that points
them at a mirror registry.

Stacks override chart versions under `kserve-fluid:release.versions` (promoted dev -> staging -> prod like
any release change) and registries under `kserve-fluid:images.registries`. Chart versions follow each
chart's own convention (cert-manager, knative-operator and the KServe charts carry a leading `v`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A Helm chart: where it lives and which version is installed by default."""

    chart: str
    repo: str | None
    version: str


CHARTS: dict[str, Chart] = {
    "certManager": Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1"),
    "istioBase": Chart("base", "https://istio-release.storage.googleapis.com/charts", "1.30.3"),
    "istiod": Chart("istiod", "https://istio-release.storage.googleapis.com/charts", "1.30.3"),
    "istioGateway": Chart("gateway", "https://istio-release.storage.googleapis.com/charts", "1.30.3"),
    "knativeOperator": Chart("knative-operator", "https://knative.github.io/operator", "v1.23.0"),
    "kserveCrd": Chart("oci://ghcr.io/kserve/charts/kserve-crd", None, "v0.20.0"),
    "kserve": Chart("oci://ghcr.io/kserve/charts/kserve-resources", None, "v0.20.0"),
    "fluid": Chart("fluid", "https://fluid-cloudnative.github.io/charts", "1.0.8"),
    "nvidiaDevicePlugin": Chart("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.20.0"),
    "clusterAutoscaler": Chart("cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.59.0"),
}
V_PREFIXED = {"certManager", "knativeOperator", "kserveCrd", "kserve", "knativeServing"}

# Non-chart versions: Knative Serving is installed by the operator at `spec.version`.
KNATIVE_SERVING = "1.23.0"
# The vLLM-backed Hugging Face server KServe ships; the GPU build carries CUDA (the plain tag is CPU torch).
SERVING_IMAGE = "kserve/huggingfaceserver:v0.20.0-gpu"

# The in-cluster Hugging Face ingest: built from components/model/Dockerfile (pinned base, hashed lock, no
# install at run time) and published by .github/workflows/images.yml; pin the digest it prints here.
INGEST_IMAGE = "ghcr.io/kserve-fluid/model-ingest:v0.2.0"
# The cache runtimes' own images (Fluid 1.0.8 chart defaults), set on the runtime so they can be mirrored and
# pulled IfNotPresent (Fluid's default pull policy for them is Always).
CACHE_IMAGES = {
    "alluxio": "alluxio/alluxio-dev:2.9.0",
    "jindoSmartdata": "registry.cn-shanghai.aliyuncs.com/jindofs/smartdata:6.9.1-202509151826",
    "jindoFuse": "registry.cn-shanghai.aliyuncs.com/jindofs/jindo-fuse:6.9.1-202509151826",
}

# kubectl for in-cluster waits (ASM's ingress gateway): 1.31 added `wait --for=create`; the image exists from
# 1.28 on (kubernetes/sig-release#2260).
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.34.0"

# The Pulumi CLI the in-VPC deployer and CI install (the README's prerequisite is 3.200 or newer).
PULUMI_CLI = "3.259.0"
# How a deployer's first boot installs that CLI (components/<cloud>/deployer.py user data).
PULUMI_INSTALL = f"""curl -fsSL https://get.pulumi.com | sh -s -- --version {PULUMI_CLI}
ln -sf /root/.pulumi/bin/pulumi /usr/local/bin/pulumi
"""

# Registries the pinned charts and images pull from; `images.registries` maps any of them to a mirror.
SOURCE_REGISTRIES = ("docker.io", "quay.io", "gcr.io", "ghcr.io", "registry.k8s.io", "nvcr.io", "public.ecr.aws",
                     "registry.cn-shanghai.aliyuncs.com")


def is_exact(key: str, version: str) -> bool:
    """One exact version (Helm treats `1` or `0.15` as a range): three numbers, with the chart's own `v` rule."""
    prefix = "v" if key in V_PREFIXED and key != "knativeServing" else ""
    return bool(re.fullmatch(re.escape(prefix) + r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", version))


def example(key: str) -> str:
    default = KNATIVE_SERVING if key == "knativeServing" else CHARTS[key].version
    return default


def chart_versions(overrides: dict[str, str] | None = None) -> dict[str, Chart]:
    """The charts with stack overrides applied (keys already validated by the config module)."""
    overrides = overrides or {}
    return {key: Chart(c.chart, c.repo, overrides.get(key, c.version)) for key, c in CHARTS.items()}


def registry_of(image: str) -> tuple[str, str]:
    """`kserve/huggingfaceserver:v1` -> ('docker.io', 'kserve/huggingfaceserver:v1'), the Docker reference rules."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", image if rest else f"library/{image}"


def mirrored(image: str, registries: dict[str, str]) -> str:
    """The image as pulled through the stack's mirror for its registry (unchanged without one)."""
    registry, path = registry_of(image)
    mirror = registries.get(registry)
    return image if mirror is None else f"{mirror}/{path}"


def registry_host(registry: str, registries: dict[str, str]) -> str:
    """Where a chart's images of `registry` come from: the mirror, or the registry itself."""
    return registries.get(registry, registry)
