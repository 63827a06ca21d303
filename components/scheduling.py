"""The placement contract between node pools (cloud parts) and workloads (Kubernetes parts).

Both clouds label and taint their pools with exactly these values, so the shared cache and
inference components place pods the same way on EKS and ACK.
"""

ROLE_LABEL = "kserve-fluid/role"

GPU_LABELS = {ROLE_LABEL: "gpu", "nvidia.com/gpu.present": "true"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}

CACHE_LABELS = {ROLE_LABEL: "cache"}
CACHE_TAINT = {"key": "kserve-fluid/cache", "value": "true", "effect": "NoSchedule"}


def toleration(taint: dict[str, str]) -> dict[str, str]:
    """The Kubernetes toleration matching one of the taints above."""
    return {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": taint["effect"]}


def pool_placement(role: str, dedicated: bool = True) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Labels and taints of a node pool by its role: `system` (untainted, for the operators), `gpu`
    (the device plugin's label, a taint so only GPU pods land) or `cache` (tainted when dedicated, so
    nothing else competes for its disk and network)."""
    if role == "gpu":
        return dict(GPU_LABELS), [GPU_TAINT]
    if role == "cache":
        return dict(CACHE_LABELS), [CACHE_TAINT] if dedicated else []
    return {ROLE_LABEL: "system"}, []
