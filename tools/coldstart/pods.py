"""Plain snapshots of the Kubernetes objects the timing logic needs.

The phase arithmetic (``phases.py``) works on these frozen dataclasses rather than on the
``kubernetes`` client models, so it stays pure and testable with hand-built fixtures, and so the
client library is only needed by ``kube.py``. All timestamps are timezone-aware and whole seconds.
They do not all come from one clock: ``created`` and the ``PodScheduled`` condition are stamped by
the API server, everything the kubelet reports (other conditions, container times, its events) by
the node. ``timeline.py`` says which is which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Label KServe puts on every pod of an InferenceService (predictor, transformer, ...).
ISVC_LABEL = "serving.kserve.io/inferenceservice"
#: Label KServe puts on a pod to say which component it belongs to.
COMPONENT_LABEL = "component"
#: The container running the model server in a KServe predictor pod.
MODEL_CONTAINER = "kserve-container"
#: The init container KServe adds to download the model (the baseline; Fluid mounts a PVC instead).
STORAGE_INITIALIZER = "storage-initializer"
#: Pod phases of a pod that will never run again (evicted, completed): it holds no GPU.
FINISHED_PHASES = frozenset({"Failed", "Succeeded"})


@dataclass(frozen=True)
class ContainerInfo:
    """One container's times from the pod's (init)containerStatuses, all on the node's clock.

    ``started_at`` is the start of the current (or, for a finished init container, the last)
    run; ``finished_at`` is set for a terminated init container. After a restart the first start
    survives only in ``previous_started_at`` (lastState, for the first restart) and in the
    container's ``Started`` event.
    """

    name: str
    started_at: datetime | None
    restart_count: int = 0
    finished_at: datetime | None = None
    previous_started_at: datetime | None = None
    image: str = ""


@dataclass(frozen=True)
class PodSnapshot:
    """The parts of a pod that carry cold-start timing.

    ``conditions`` maps a condition type (PodScheduled, Initialized, ContainersReady, Ready) to its
    lastTransitionTime, and only holds conditions whose status is currently ``True``.
    """

    name: str
    created: datetime
    conditions: dict[str, datetime]
    init_containers: tuple[ContainerInfo, ...] = ()
    containers: tuple[ContainerInfo, ...] = ()
    component: str | None = None
    node_name: str | None = None
    deleting: bool = False
    phase: str = "Running"
    reason: str = ""

    @property
    def finished(self) -> bool:
        """Evicted or completed: it will not run again and holds no GPU."""
        return self.phase in FINISHED_PHASES

    @property
    def model_image(self) -> str:
        """The model server's image, for the report."""
        return next((c.image for c in self.containers if c.name == MODEL_CONTAINER), "")


@dataclass(frozen=True)
class PodEvent:
    """A Kubernetes event about a pod.

    ``time`` is the event's first occurrence on the clock of whoever reported it (``source``:
    kubelet, default-scheduler, cluster-autoscaler, karpenter); ``stored`` is when the API server
    stored it (metadata.creationTimestamp, the API server's clock). For a kubelet event the gap
    between the two measures the node's clock. ``field_path`` is the involvedObject.fieldPath, e.g.
    ``spec.containers{kserve-container}``. A repeated event (a second ``Started`` after a restart)
    is aggregated into one with a count, so ``time`` stays the first.
    """

    reason: str
    message: str
    time: datetime
    field_path: str = ""
    source: str = ""
    stored: datetime | None = None

    @property
    def container(self) -> str | None:
        """The container named by ``field_path`` (``spec.initContainers{x}`` or ``spec.containers{x}``)."""
        if "{" not in self.field_path or not self.field_path.endswith("}"):
            return None
        return self.field_path.split("{", 1)[1][:-1]

    @property
    def init_container(self) -> bool:
        return self.field_path.startswith("spec.initContainers")


@dataclass(frozen=True)
class NodeInfo:
    """The node a pod ran on: when it joined (API server clock) and its instance type label."""

    name: str
    created: datetime | None = None
    instance_type: str = ""
