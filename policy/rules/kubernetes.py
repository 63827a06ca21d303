"""Guardrails on one Kubernetes resource the program declares: its pods, its platform versions, its GPU use.

Pods rendered by Helm charts (operators, the device plugin) and the FUSE pods Fluid's controller starts
are not visible to a Pulumi policy; docs/guardrails.md says what covers them instead.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .values import (
    EXACT_VERSION,
    UNKNOWN,
    Context,
    Resource,
    dotted,
    get,
    image_problem,
    items,
    mappings,
    number,
    walk_maps,
)

INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
SERVING_RUNTIMES = ("kubernetes:serving.kserve.io/v1alpha1:ServingRuntime",
                    "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime")
_TEMPLATE = ("spec", "template", "spec")
POD_SPECS: dict[str, tuple[tuple[str, ...], ...]] = {
    "kubernetes:apps/v1:Deployment": (_TEMPLATE,),
    "kubernetes:apps/v1:DaemonSet": (_TEMPLATE,),
    "kubernetes:apps/v1:StatefulSet": (_TEMPLATE,),
    "kubernetes:apps/v1:ReplicaSet": (_TEMPLATE,),
    "kubernetes:batch/v1:Job": (_TEMPLATE,),
    "kubernetes:batch/v1:CronJob": (("spec", "jobTemplate", "spec", "template", "spec"),),
    "kubernetes:core/v1:Pod": (("spec",),),
    # KServe components embed a pod spec; the predictor's `model` is a container merged over its runtime's.
    INFERENCE_SERVICE: (("spec", "predictor"), ("spec", "transformer"), ("spec", "explainer")),
    **{kind: (("spec",),) for kind in SERVING_RUNTIMES},
}
FLUID_GROUP = "kubernetes:data.fluid.io/"
FLUID_ROLES = ("master", "worker", "fuse")            # every runtime starts these
FLUID_OPTIONAL_ROLES = ("jobMaster", "jobWorker")      # Alluxio's job service, when declared


def is_fluid_runtime(resource: Resource) -> bool:
    return resource.type.startswith(FLUID_GROUP) and resource.type.endswith("Runtime")


@dataclass(frozen=True)
class Container:
    path: tuple[str | int, ...]
    spec: Mapping[str, Any]
    runtime_supplies_rest: bool = False  # an InferenceService `model`: its runtime's container fills in the rest

    @property
    def where(self) -> str:
        return dotted(self.path)


def pod_specs(resource: Resource) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    for path in POD_SPECS.get(resource.type, ()):
        spec = resource.get(*path)
        if isinstance(spec, Mapping):
            yield path, spec


def containers(resource: Resource) -> Iterator[Container]:
    """Every container a resource declares, with where it is."""
    for path, spec in pod_specs(resource):
        for field in ("initContainers", "containers"):
            for index, container in enumerate(items(spec.get(field))):
                if isinstance(container, Mapping):
                    yield Container((*path, field, index), container)
        if resource.type == INFERENCE_SERVICE and isinstance(spec.get("model"), Mapping):
            yield Container((*path, "model"), spec["model"], runtime_supplies_rest=True)


# --------------------------------------------------------------------------------------------- images

def _fluid_images(resource: Resource) -> Iterator[tuple[str, str]]:
    """(where, reference) of the images a Fluid runtime sets: `image` with `imageTag` per component."""
    for key, part in (resource.get("spec") or {}).items():
        if isinstance(part, Mapping) and (part.get("image") or part.get("imageTag")):
            image, tag = part.get("image") or "<chart default>", part.get("imageTag")
            yield f"spec.{key}", f"{image}:{tag}" if tag else image


def _helm_images(resource: Resource) -> Iterator[tuple[str, str]]:
    """Images a chart's values set in the common `{repository, tag}` shape."""
    for path, block in walk_maps(resource.get("values")):
        repository, tag, digest = block.get("repository"), block.get("tag"), block.get("digest")
        if isinstance(repository, str) and isinstance(tag, str):
            yield dotted(("values", *path)), f"{repository}@{digest}" if digest else f"{repository}:{tag}"


def images(resource: Resource) -> Iterator[tuple[str, Any]]:
    for container in containers(resource):
        if "image" in container.spec or not container.runtime_supplies_rest:
            yield f"{container.where}.image", container.spec.get("image")
    if is_fluid_runtime(resource):
        yield from _fluid_images(resource)
    if resource.type in HELM_TYPES:
        yield from _helm_images(resource)


def workloads_pinned_images(resource: Resource, context: Context) -> list[str]:
    """Every image the program deploys is pinned by a version tag or a digest, so a preview today and an
    update tomorrow run the same bytes, and a compromised moving tag (`latest`, `dev`) cannot slip in."""
    problems = []
    for where, reference in images(resource):
        if reference is UNKNOWN:
            continue
        problem = "no image" if not isinstance(reference, str) or not reference else image_problem(reference)
        if problem:
            problems.append(f"{where} {reference!r}: {problem}")
    return problems


# ------------------------------------------------------------------------------------- pod security

ALLOWED_CAPABILITIES = ("NET_BIND_SERVICE",)


def _pod_level(path: tuple[str, ...], spec: Mapping[str, Any]) -> list[str]:
    where = dotted(path)
    problems = [f"{where}.{key} is true: the pod shares the node's {key[4:]}" for key in ("hostNetwork", "hostPID", "hostIPC")
                if spec.get(key) is True]
    problems += [f"{where}.volumes[{i}] mounts a hostPath" for i, v in enumerate(mappings(spec.get("volumes")))
                 if v.get("hostPath") is not None]
    if number(get(spec, "securityContext", "runAsUser")) == 0:
        problems.append(f"{where}.securityContext.runAsUser is 0 (root)")
    return problems


def _container_level(container: Container, pod_non_root: bool) -> list[str]:
    context = container.spec.get("securityContext")
    if context is UNKNOWN:
        return []
    context = context if isinstance(context, Mapping) else {}
    where = f"{container.where}.securityContext"
    problems = []
    if context.get("privileged") is True:
        problems.append(f"{where}.privileged is true")
    added = [c for c in items(get(context, "capabilities", "add")) if c not in ALLOWED_CAPABILITIES]
    if added:
        problems.append(f"{where}.capabilities.add {added}: only {', '.join(ALLOWED_CAPABILITIES)} may be added")
    if number(context.get("runAsUser")) == 0:
        problems.append(f"{where}.runAsUser is 0 (root)")
    if container.runtime_supplies_rest:
        return problems  # merged over its ServingRuntime's container, which supplies the rest and is judged itself
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}.allowPrivilegeEscalation must be false")
    if "ALL" not in items(get(context, "capabilities", "drop")):
        problems.append(f"{where}.capabilities.drop must include ALL")
    if context.get("runAsNonRoot") is not True and not pod_non_root:
        problems.append(f"{where}.runAsNonRoot must be true (on the container or the pod)")
    return problems


def workloads_restricted_security_context(resource: Resource, context: Context) -> list[str]:
    """The program's own pods (ingest Job, node DaemonSets, the model server) meet the Kubernetes
    'restricted' profile: no privilege, no host namespaces or paths, non-root, every capability dropped.
    Privileged pods are allowed only where a runtime needs them (see `privileged-only-for-fluid`)."""
    problems: list[str] = []
    non_root: dict[tuple[str, ...], bool] = {}
    for path, spec in pod_specs(resource):
        problems += _pod_level(path, spec)
        non_root[path] = get(spec, "securityContext", "runAsNonRoot") is True
    for container in containers(resource):
        pod = next(p for p in non_root if container.path[:len(p)] == p)
        problems += _container_level(container, non_root[pod])
    return problems


# ---------------------------------------------------------------------------------- resource bounds

def _bounds(where: str, resources: Any) -> list[str]:
    if resources is UNKNOWN:
        return []
    missing = [f"{kind}.{name}" for kind, name in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
               if get(resources, kind, name) is None]
    return [f"{where}.resources: no {', '.join(missing)}"] if missing else []


def workloads_resource_bounds(resource: Resource, context: Context) -> list[str]:
    """Every container the program declares requests CPU and memory and has a memory limit, so the
    scheduler places it honestly and it cannot starve the model server (the cache FUSE and warmers share
    the GPU nodes). A ServingRuntime's containers take their resources from each InferenceService."""
    if resource.type in SERVING_RUNTIMES:
        return []
    problems = [p for c in containers(resource) for p in _bounds(c.where, c.spec.get("resources"))]
    if is_fluid_runtime(resource):
        spec = resource.get("spec") or {}
        roles = [*FLUID_ROLES, *(r for r in FLUID_OPTIONAL_ROLES if r in spec)]
        problems += [p for role in roles for p in _bounds(f"spec.{role}", get(spec, role, "resources"))]
    return problems


# --------------------------------------------------------------------------------------- GPU serving

GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
# Mirrors components/scheduling.GPU_TAINT (tests/test_policy_rules.py checks the two agree).
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
MAX_REPLICAS = 32


def _predictor(resource: Resource) -> Mapping[str, Any] | None:
    predictor = resource.get("spec", "predictor") if resource.type == INFERENCE_SERVICE else None
    return predictor if isinstance(predictor, Mapping) else None


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, str]) -> bool:
    """Kubernetes' matching: same key (or none with Exists), Exists or the same value, same or no effect."""
    key, operator = toleration.get("key"), toleration.get("operator") or "Equal"
    if toleration.get("effect") not in (None, "", taint["effect"]):
        return False
    if not key:
        return operator == "Exists"
    return key == taint["key"] and (operator == "Exists" or toleration.get("value") == taint["value"])


def gpu_inference_tolerates_taint_and_requests_gpus(resource: Resource, context: Context) -> list[str]:
    """GPU nodes carry the nvidia.com/gpu=present:NoSchedule taint. A predictor that asks for a GPU must
    tolerate exactly that taint or it never schedules (a cold start that never ends); a predictor pinned to
    GPU nodes must ask for a GPU or it holds an expensive node without using it."""
    predictor = _predictor(resource)
    if predictor is None:
        return []
    limits = [get(c.spec, "resources", "limits", GPU_RESOURCE) for c in containers(resource)
              if c.path[:2] == ("spec", "predictor")]
    limits = [v for v in limits if v is not None]
    if any(v is UNKNOWN for v in limits):
        return []
    requests_gpu = any((number(v) or 0) > 0 for v in limits)
    problems = []
    if requests_gpu and not any(tolerates(t, GPU_TAINT) for t in mappings(predictor.get("tolerations"))):
        problems.append(f"spec.predictor requests {GPU_RESOURCE} but does not tolerate the GPU nodes' taint "
                        f"{GPU_TAINT['key']}={GPU_TAINT['value']}:{GPU_TAINT['effect']}")
    if get(predictor, "nodeSelector", GPU_NODE_LABEL) == "true" and not requests_gpu:
        problems.append(f"spec.predictor is pinned to GPU nodes ({GPU_NODE_LABEL}=true) but requests no "
                        f"{GPU_RESOURCE}; set resources.limits['{GPU_RESOURCE}']")
    return problems


def inference_replicas_bounded(resource: Resource, context: Context) -> list[str]:
    """Autoscaling needs a ceiling: each replica is a GPU node. KServe/Knative read a missing or 0
    maxReplicas as *unbounded*, so it must be set, between 1 and 32, and not below minReplicas."""
    predictor = _predictor(resource)
    if predictor is None:
        return []
    max_raw, min_raw = predictor.get("maxReplicas"), predictor.get("minReplicas")
    if max_raw is UNKNOWN:
        return []
    maximum = number(max_raw)
    if maximum is None or not maximum.is_integer() or not 1 <= maximum <= MAX_REPLICAS:
        return [(f"spec.predictor.maxReplicas: got {max_raw!r}; set an integer from 1 to {MAX_REPLICAS} "
                 "(missing or 0 means unbounded; kserve-fluid:inference.maxReplicas)")]
    minimum = number(min_raw)
    if minimum is not None and minimum > maximum:
        return [f"spec.predictor.minReplicas {min_raw!r} exceeds maxReplicas {max_raw!r}"]
    return []


REMOTE_CODE_FLAGS = ("--trust-remote-code", "--trust_remote_code")


def inference_runs_no_remote_code(resource: Resource, context: Context) -> list[str]:
    """The model server loads weights, not code: vLLM's --trust-remote-code runs Python from the model
    repository inside the serving pod, code no image pin or review covers."""
    if _predictor(resource) is None:
        return []
    return [f"{c.where}: {arg} runs the model repository's Python in the server" for c in containers(resource)
            for arg in [*items(c.spec.get("args")), *items(c.spec.get("command"))]
            if isinstance(arg, str) and arg.split("=", 1)[0] in REMOTE_CODE_FLAGS and not arg.endswith("=false")]


# ------------------------------------------------------------------------------------------ versions

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
OPERATOR_VERSIONED = ("kubernetes:operator.knative.dev/v1beta1:KnativeServing",
                      "kubernetes:operator.knative.dev/v1beta1:KnativeEventing")


def helm_chart_version_pinned(resource: Resource, context: Context) -> list[str]:
    """Every chart, and every platform an operator installs, is one exact version (major.minor.patch).
    Helm reads "1" or "0.15" as a range and installs the newest match, so a preview today and an update
    tomorrow would differ, and a KServe CRD chart could drift from its controller chart."""
    if resource.type in HELM_TYPES:
        what, version = resource.get("chart") or "chart", resource.get("version")
    elif resource.type in OPERATOR_VERSIONED:
        what, version = f"{resource.type.rsplit(':', 1)[1]} spec", resource.get("spec", "version")
    else:
        return []
    if version is UNKNOWN:
        return []
    if not isinstance(version, str) or not version.strip():
        return [f"{what}: no version; pin an exact version"]
    if not EXACT_VERSION.fullmatch(version.strip()):
        return [f"{what}: version {version!r} is not one exact version (major.minor.patch)"]
    return []
