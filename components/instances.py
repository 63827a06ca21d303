"""Instance facts (GPU count and memory, vCPU, memory) the validation compares a stack's sizing against.

Each cloud keeps the table of its own types beside its code (`components/<cloud>/defaults.py`), with the
source of the figures. A type missing from the table is allowed with a warning: the checks that need its
size are skipped, never guessed.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceFacts:
    vcpu: int
    memory_gi: float
    gpus: int = 0
    gpu_memory_gi: float = 0  # per GPU, as the driver reports it (usable by CUDA)
    gpu_model: str = ""
    local_nvme_gb: int = 0  # instance store


def gpu_type(instance_type: str, families: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(instance_type, pattern) for pattern in families)


def quantity_cores(value: str) -> float:
    """Kubernetes CPU quantity -> cores."""
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def quantity_gi(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", value).groups()  # shape already validated
    return int(number) / (1024 if unit == "Mi" else 1)


# What the kubelet, the container runtime and the system DaemonSets keep for themselves on a node; a pod
# asking for more than the rest never schedules (EKS reserves about 7% of memory + 255 MiB and 0.08 cores).
def allocatable(facts: InstanceFacts) -> tuple[float, float]:
    return facts.vcpu - 0.5, facts.memory_gi * 0.9 - 1.0
