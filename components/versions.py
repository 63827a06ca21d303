"""Every chart and image version the project deploys, pinned in one place.

Stacks override any entry under `kserve-fluid:release.versions`, so a version bump is promoted
dev -> staging -> prod like any other release change. Chart versions follow each chart's own
convention (cert-manager, knative-operator and the KServe charts carry a leading `v`).
"""
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

# Non-chart versions: Knative Serving is installed by the operator at `spec.version`.
KNATIVE_SERVING = "1.23.0"
# The vLLM-backed Hugging Face server KServe ships; the GPU build carries CUDA.
SERVING_IMAGE = "kserve/huggingfaceserver:v0.20.0-gpu"
# Image of the in-cluster Hugging Face ingest Job (stdlib + pip-installed hub/boto3/oss2 clients).
INGEST_IMAGE = "python:3.12-slim"
# Python packages the ingest Job installs, pinned so a re-run fetches the same code.
INGEST_PACKAGES = ("huggingface_hub[hf_transfer]==0.36.0", "boto3==1.40.61", "oss2==2.19.1",
                   "alibabacloud-credentials==1.0.3")


def chart_versions(overrides: dict[str, str] | None = None) -> dict[str, Chart]:
    """The charts with stack overrides applied (keys already validated by the config module)."""
    overrides = overrides or {}
    return {key: Chart(c.chart, c.repo, overrides.get(key, c.version)) for key, c in CHARTS.items()}
