"""Where the cold-start time goes: pure timing logic from pod conditions and events.

A cold start is the client-side time from sending the first request to receiving its response
(what ``curl -w %{time_total}`` reported in the published benchmark). We split it at milestones
the API server records on the pod that served the request:

    request sent -> pod created -> PodScheduled -> image pulled -> Initialized
                 -> containers started -> Ready -> response received

Each phase is the gap between its milestone and the previous one *in time order*, not in the
order above: kubelet pulls the model-server image only after the init containers finished, so
for a pod with init containers "image pulled" comes after "Initialized". Sorting keeps every
phase non-negative and makes the phases add up exactly to the measured total, which is what a
stacked bar chart needs.

Pod timestamps come from the API server clock (whole seconds); the request start and end come
from the client clock. ``clock_offset`` (server minus client, measured by ``kube.py`` from the
API server's ``Date`` header) converts one into the other; milestones that still fall outside
the request window are clamped into it and reported as clock skew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tools.coldstart.pods import MODEL_CONTAINER, PodEvent, PodSnapshot

#: A pod scheduled this soon after creation did not wait for a node to be provisioned.
NODE_UP_THRESHOLD_SECONDS = 5.0
#: Clamping a milestone by more than this is worth telling the user about (timestamps are whole
#: seconds, so up to a second of disagreement is expected).
SKEW_NOTE_THRESHOLD_SECONDS = 1.5

#: Events that show the cluster autoscaler (TriggeredScaleUp) or Karpenter (Nominated) added a node.
SCALE_UP_REASONS = frozenset({"TriggeredScaleUp", "Nominated"})


@dataclass(frozen=True)
class PhaseSpec:
    """A phase's stable id (used in JSON) and its human-readable name (used in tables)."""

    id: str
    name: str


#: The phases in causal order; each ends at the milestone of the same id.
PHASES: tuple[PhaseSpec, ...] = (
    PhaseSpec("trigger", "Scale-from-zero trigger"),
    PhaseSpec("node", "Node provisioning + scheduling"),
    PhaseSpec("image", "Image pull"),
    PhaseSpec("init", "Init containers"),
    PhaseSpec("start", "Containers started"),
    PhaseSpec("ready", "Model load until Ready"),
    PhaseSpec("response", "First response"),
)


@dataclass(frozen=True)
class Phase:
    """One phase of one cold start.

    ``seconds`` is None when the milestone could not be observed (for example, the image events
    already expired); that time is then counted in the next observed phase. ``skipped`` means the
    phase did not really happen (node already up, image cached, no init containers); it may still
    have a sub-second duration because timestamps are whole seconds.
    """

    id: str
    name: str
    seconds: float | None
    skipped: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Breakdown:
    """A cold start split into phases that add up to ``total_seconds``."""

    pod: str
    total_seconds: float
    phases: tuple[Phase, ...]
    clock_offset: float
    notes: tuple[str, ...] = ()

    def phase(self, phase_id: str) -> Phase:
        """The phase with this id (every breakdown has all of ``PHASES``)."""
        return next(p for p in self.phases if p.id == phase_id)

    @property
    def skipped(self) -> tuple[Phase, ...]:
        """Phases that did not happen on this run, for the "skipped" notes in the report."""
        return tuple(p for p in self.phases if p.skipped)


def select_pod(pods: Sequence[PodSnapshot]) -> PodSnapshot | None:
    """Pick the pod that served the first request among the pods present after it.

    Prefers predictor pods (a transformer pod carries the same InferenceService label), then the
    pod that became Ready first, since the activator forwards the buffered request to the first
    ready pod; falls back to the earliest-created pod when none is Ready yet.
    """
    live = [p for p in pods if not p.deleting] or list(pods)
    predictors = [p for p in live if p.component == "predictor"] or live
    ready = [(when, p) for p in predictors if (when := ready_time(p)) is not None]
    if ready:
        return min(ready, key=lambda item: (item[0], item[1].created))[1]
    return min(predictors, key=lambda p: p.created, default=None)


def compute_breakdown(
    pod: PodSnapshot,
    events: Sequence[PodEvent],
    request_started: datetime,
    total_seconds: float,
    clock_offset: float = 0.0,
) -> Breakdown:
    """Split ``total_seconds`` into phases from ``pod``'s conditions and ``events``.

    ``request_started`` is the client wall-clock time the request was sent; ``clock_offset`` is
    the API server clock minus the client clock, in seconds.
    """

    def since_request(ts: datetime | None) -> float | None:
        return None if ts is None else (ts - request_started).total_seconds() - clock_offset

    model_pull = _model_image_event(events)
    raw: dict[str, float | None] = {
        "trigger": since_request(pod.created),
        "node": since_request(pod.conditions.get("PodScheduled")),
        "image": since_request(model_pull.time if model_pull else None),
        "init": since_request(pod.conditions.get("Initialized")),
        "start": since_request(_containers_started(pod)),
        "ready": since_request(ready_time(pod)),
        "response": total_seconds,
    }

    notes: list[str] = []
    worst_skew = 0.0
    milestones: dict[str, float] = {}
    for phase_id, value in raw.items():
        if value is None:
            continue
        clamped = min(max(value, 0.0), total_seconds)
        worst_skew = max(worst_skew, abs(clamped - value))
        milestones[phase_id] = clamped
    if worst_skew > SKEW_NOTE_THRESHOLD_SECONDS:
        notes.append(
            f"pod timestamps fell up to {worst_skew:.1f} s outside the request window after "
            f"correcting a {clock_offset:+.1f} s client/API-server clock offset; "
            "they were clamped, so the phase split is approximate (the total is exact)"
        )

    order = [spec.id for spec in PHASES]
    durations: dict[str, float] = {}
    previous = 0.0
    for phase_id in sorted(milestones, key=lambda pid: (milestones[pid], order.index(pid))):
        durations[phase_id] = milestones[phase_id] - previous
        previous = milestones[phase_id]

    phases = tuple(
        _classify(spec, durations.get(spec.id), pod, events, model_pull) for spec in PHASES
    )
    restarts = [c for c in pod.containers if c.restart_count]
    notes.extend(f"container {c.name} restarted {c.restart_count} time(s) while starting" for c in restarts)
    return Breakdown(
        pod=pod.name,
        total_seconds=total_seconds,
        phases=phases,
        clock_offset=clock_offset,
        notes=tuple(notes),
    )


def _classify(
    spec: PhaseSpec,
    seconds: float | None,
    pod: PodSnapshot,
    events: Sequence[PodEvent],
    model_pull: PodEvent | None,
) -> Phase:
    """Attach the skipped flag and a short explanation to one phase."""
    skipped = False
    detail = ""
    if spec.id == "node":
        reasons = {e.reason for e in events}
        scale_up = sorted(reasons & SCALE_UP_REASONS)
        if scale_up:
            detail = f"new node provisioned ({', '.join(scale_up)})"
        elif "FailedScheduling" in reasons:
            detail = "waited for a schedulable node (FailedScheduling)"
        elif seconds is not None and seconds <= NODE_UP_THRESHOLD_SECONDS:
            skipped, detail = True, "node already up"
    elif spec.id == "image":
        if model_pull is None:
            detail = f"no Pulled event for {MODEL_CONTAINER} (events expire, 1 h by default)"
        elif "already present" in model_pull.message:
            skipped, detail = True, "image cached on node"
    elif spec.id == "init":
        if not pod.init_containers:
            skipped, detail = True, "no init containers"
        else:
            detail = ", ".join(pod.init_containers)
    if seconds is None and not detail:
        detail = "not observed; counted in the next phase"
    return Phase(id=spec.id, name=spec.name, seconds=seconds, skipped=skipped, detail=detail)


def _model_image_event(events: Sequence[PodEvent]) -> PodEvent | None:
    """The first kubelet ``Pulled`` event for the model-server container, if still recorded.

    The first one, because a container restart adds an "already present" event that says
    nothing about how the image got onto the node for the first start.
    """
    target = f"spec.containers{{{MODEL_CONTAINER}}}"
    pulled = [e for e in events if e.reason == "Pulled" and e.field_path == target]
    return min(pulled, key=lambda e: e.time, default=None)


def _containers_started(pod: PodSnapshot) -> datetime | None:
    """When the last main container started, or None until every one of them has started."""
    starts = [c.started_at for c in pod.containers]
    if not starts or any(s is None for s in starts):
        return None
    return max(s for s in starts if s is not None)


def ready_time(pod: PodSnapshot) -> datetime | None:
    """When the pod became Ready (ContainersReady when Ready is not reported)."""
    return pod.conditions.get("Ready") or pod.conditions.get("ContainersReady")
