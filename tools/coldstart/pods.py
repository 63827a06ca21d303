"""Plain snapshots of the Kubernetes objects the timing logic needs.

The phase arithmetic (``phases.py``) works on these frozen dataclasses rather than on the
``kubernetes`` client models, so it stays pure and testable with hand-built fixtures, and so the
client library is only needed by ``kube.py``. All timestamps are timezone-aware and come from the
API server's clock (whole seconds for most fields).
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


@dataclass(frozen=True)
class ContainerInfo:
    """One main container's start time, as reported in the pod's containerStatuses."""

    name: str
    started_at: datetime | None
    restart_count: int = 0


@dataclass(frozen=True)
class PodSnapshot:
    """The parts of a pod that carry cold-start timing.

    ``conditions`` maps a condition type (PodScheduled, Initialized, ContainersReady, Ready) to its
    lastTransitionTime, and only holds conditions whose status is currently ``True``.
    """

    name: str
    created: datetime
    conditions: dict[str, datetime]
    init_containers: tuple[str, ...] = ()
    containers: tuple[ContainerInfo, ...] = ()
    component: str | None = None
    node_name: str | None = None
    deleting: bool = False


@dataclass(frozen=True)
class PodEvent:
    """A Kubernetes event about a pod.

    ``field_path`` is the involvedObject.fieldPath, e.g. ``spec.containers{kserve-container}`` for
    kubelet image events; ``time`` is the first occurrence of the event (a repeated event, such
    as a second ``Pulled`` after a container restart, is aggregated into one with a count).
    """

    reason: str
    message: str
    time: datetime
    field_path: str = ""
