"""Where each chart takes its images from, so `images.registries` points every one at a mirror.

Each chart names its images under different values keys (read in the charts at the pinned versions, see
docs/upstream-facts.md); this is the one place that knows them. Without a mirror for a registry, the chart's
own defaults stay untouched.
"""

from __future__ import annotations

from components import versions

# Fluid 1.0.8 reads each component's own `imagePrefix`; the chart's top-level `imagePrefix` is only a YAML
# anchor, so overriding it alone changes nothing.
_FLUID_DOCKER_HUB = ("crdUpgrade", "dataset.controller", "csi.registrar", "csi.plugins", "webhook",
                     "webhook.filePrefetcher", "fluidapp.controller", "runtime.jindo.controller", "runtime.jindo.init",
                     "runtime.alluxio.controller", "runtime.alluxio.init")
_FLUID_OWN = {"runtime.alluxio.runtime": ("docker.io", "alluxio"), "runtime.alluxio.fuse": ("docker.io", "alluxio"),
              "runtime.jindo.smartdata": ("registry.cn-shanghai.aliyuncs.com", "jindofs"),
              "runtime.jindo.fuse": ("registry.cn-shanghai.aliyuncs.com", "jindofs")}


def _nest(path: str, leaf: dict) -> dict:
    out: dict = leaf
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _deep(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            out[key] = _deep(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def fluid(registries: dict[str, str]) -> dict:
    values = []
    if "docker.io" in registries:
        values += [_nest(path, {"imagePrefix": f"{registries['docker.io']}/fluidcloudnative"}) for path in _FLUID_DOCKER_HUB]
    for path, (registry, namespace) in _FLUID_OWN.items():
        if registry in registries:
            values.append(_nest(path, {"imagePrefix": f"{registries[registry]}/{namespace}"}))
    return _deep(*values)


def cert_manager(registries: dict[str, str]) -> dict:
    return {"imageRegistry": registries["quay.io"]} if "quay.io" in registries else {}


def istiod(registries: dict[str, str]) -> dict:
    """Istio publishes the same images to gcr.io/istio-release, which has no anonymous pull limit (Docker Hub
    allows a handful per hour per IP, and every node's pulls leave through one NAT address)."""
    return {"global": {"hub": versions.mirrored("gcr.io/istio-release", registries)}}


def knative_operator(registries: dict[str, str]) -> dict:
    if "gcr.io" not in registries:
        return {}
    base = f"{registries['gcr.io']}/knative-releases/knative.dev/operator/cmd"
    return {"knative_operator": {"knative_operator": {"image": f"{base}/operator"},
                                 "operator_webhook": {"image": f"{base}/webhook"}}}


def knative_serving_registry(registries: dict[str, str], version: str) -> dict:
    """KnativeServing `spec.registry`: `${NAME}` is the container name (activator, autoscaler, queue-proxy ...)."""
    if "gcr.io" not in registries:
        return {}
    base = f"{registries['gcr.io']}/knative-releases/knative.dev"
    return {"default": f"{base}/serving/cmd/${{NAME}}:v{version}",
            "override": {"net-istio-controller/controller": f"{base}/net-istio/cmd/controller:v{version}",
                         "net-istio-webhook/webhook": f"{base}/net-istio/cmd/webhook:v{version}"}}


def kserve(registries: dict[str, str]) -> dict:
    controller = {}
    if "docker.io" in registries:
        controller = {"controller": {"image": f"{registries['docker.io']}/kserve/kserve-controller"},
                      "storage": {"image": f"{registries['docker.io']}/kserve/storage-initializer"}}
    if "quay.io" in registries:
        controller = _deep(controller, {"controller": {"rbacProxyImage": f"{registries['quay.io']}/brancz/kube-rbac-proxy:v0.18.0"}})
    return {"kserve": controller} if controller else {}


def nvidia_device_plugin(registries: dict[str, str]) -> dict:
    return {"image": {"repository": f"{registries['nvcr.io']}/nvidia/k8s-device-plugin"}} if "nvcr.io" in registries else {}


def skip_tag_resolution(registries: dict[str, str]) -> str:
    """Registries Knative must not resolve tags against: it would need pull credentials (ECR, ACR) or would
    spend a Docker Hub pull on every revision; images stay pinned by the release's tag or digest."""
    hosts = ["index.docker.io", "docker.io", "nvcr.io", *sorted({m.split("/")[0] for m in registries.values()})]
    return ",".join(dict.fromkeys(hosts))
