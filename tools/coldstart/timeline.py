"""Where each cold-start milestone is read from, and on whose clock.

Three clocks stamp one cold start:

- this machine (``client``): the request start and the response;
- the API server (``api-server``): pod creation and the ``PodScheduled`` condition (set when the
  scheduler's binding is stored);
- the node the pod runs on (``node``): the kubelet and container runtime stamp every other
  condition, the container start and finish times, and the kubelet's events.

``kube.py`` measures the client/API-server offset from the API server's ``Date`` header. The
node's offset is measured here, from its own events: the kubelet stamps an event with its clock
and the API server stores it a few milliseconds later with its own (``metadata.creationTimestamp``),
so the median gap between the two is how far the node's clock is off. Both offsets are removed
before phases are computed, so a node whose clock is 4 s behind does not silently move 4 s from
one phase to another.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tools.coldstart.pods import MODEL_CONTAINER, ContainerInfo, PodEvent, PodSnapshot

CLIENT, API_SERVER, NODE = "client", "api-server", "node"
#: Reasons only the kubelet reports, for events that do not say who reported them.
KUBELET_REASONS = frozenset({"Pulling", "Pulled", "Created", "Started", "Killing", "BackOff", "Unhealthy"})
#: A node clock off by less than this is not corrected: timestamps are whole seconds, so the
#: measured offset of a correct clock is itself off by up to a second.
NODE_OFFSET_THRESHOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Milestone:
    """A recorded timestamp that ends the phase ``phase``: what it is, its clock, where it was read."""

    phase: str
    time: datetime
    clock: str
    source: str


@dataclass(frozen=True)
class NodeClock:
    """The node clock minus the API server clock, as measured from ``samples`` kubelet events."""

    offset: float
    samples: int

    @property
    def applied(self) -> float:
        """The correction actually made: none within the whole-second noise."""
        return self.offset if abs(self.offset) >= NODE_OFFSET_THRESHOLD_SECONDS else 0.0


def node_clock(events: Iterable[PodEvent]) -> NodeClock:
    """The node's clock offset from the gap between kubelet events' own and stored timestamps."""
    gaps = [
        (e.time - e.stored).total_seconds()
        for e in events
        if e.stored is not None and _from_kubelet(e)
    ]
    return NodeClock(statistics.median(gaps) if gaps else 0.0, len(gaps))


def read_milestones(pod: PodSnapshot, events: Sequence[PodEvent]) -> dict[str, Milestone]:
    """Every milestone the pod and its events record, keyed by the id of the phase it ends.

    ``restart`` is the latest start of a container that restarted; whether that restart was part
    of the cold start or came after the response is decided in ``phases.py``, on one clock.
    """
    found: list[Milestone | None] = [
        Milestone("trigger", pod.created, API_SERVER, "pod metadata.creationTimestamp"),
        _condition(pod, "node", "PodScheduled", API_SERVER),
        _first_image_event(events),
        _first_init_start(pod, events),
        _init_end(pod),
        _model_image_pulled(events),
        _last_first_start(pod.containers, events),
        _last_restart(pod.containers),
        _condition(pod, "ready", "Ready", NODE) or _condition(pod, "ready", "ContainersReady", NODE),
    ]
    return {m.phase: m for m in found if m is not None}


def pulled_events(events: Iterable[PodEvent]) -> list[PodEvent]:
    """The kubelet's ``Pulled`` events: one per container, "already present" when cached."""
    return [e for e in events if e.reason == "Pulled" and e.container]


def _from_kubelet(event: PodEvent) -> bool:
    return event.source == "kubelet" or (not event.source and event.reason in KUBELET_REASONS)


def _condition(pod: PodSnapshot, phase: str, kind: str, clock: str) -> Milestone | None:
    when = pod.conditions.get(kind)
    return None if when is None else Milestone(phase, when, clock, f"pod condition {kind}")


def _event_milestone(phase: str, event: PodEvent) -> Milestone:
    return Milestone(phase, event.time, NODE, f"event {event.reason} {event.field_path} ({event.source or 'kubelet'})")


def _first_image_event(events: Sequence[PodEvent]) -> Milestone | None:
    """The kubelet's first image event: its volumes (the Fluid FUSE mount too) are mounted by then."""
    images = [e for e in events if e.reason in ("Pulling", "Pulled") and e.container]
    first = min(images, key=lambda e: e.time, default=None)
    return None if first is None else _event_milestone("mount", first)


def _model_image_pulled(events: Sequence[PodEvent]) -> Milestone | None:
    """The first ``Pulled`` for the model server: a later one after a restart says nothing of the pull."""
    pulled = [e for e in pulled_events(events) if e.container == MODEL_CONTAINER and not e.init_container]
    first = min(pulled, key=lambda e: e.time, default=None)
    return None if first is None else _event_milestone("image", first)


def _first_start(container: ContainerInfo, events: Sequence[PodEvent], init: bool) -> tuple[datetime, str] | None:
    """When ``container`` first started: its ``Started`` event (the first of an aggregated series),
    else the earliest start its status still shows."""
    started = [
        e for e in events if e.reason == "Started" and e.container == container.name and e.init_container == init
    ]
    if started:
        first = min(started, key=lambda e: e.time)
        return first.time, f"event Started {first.field_path} ({first.source or 'kubelet'})"
    kind = "initContainerStatuses" if init else "containerStatuses"
    if container.previous_started_at is not None:
        return container.previous_started_at, f"{kind}[{container.name}].lastState.terminated.startedAt"
    if container.started_at is not None:
        state = "terminated" if container.finished_at else "running"
        return container.started_at, f"{kind}[{container.name}].state.{state}.startedAt"
    return None


def _first_init_start(pod: PodSnapshot, events: Sequence[PodEvent]) -> Milestone | None:
    if not pod.init_containers:
        return None
    found = _first_start(pod.init_containers[0], events, init=True)
    return None if found is None else Milestone("init_pull", found[0], NODE, found[1])


def _init_end(pod: PodSnapshot) -> Milestone | None:
    """The last init container's exit (the end of the download), else the Initialized condition."""
    if not pod.init_containers:
        return None
    last = pod.init_containers[-1]
    if last.finished_at is not None:
        source = f"initContainerStatuses[{last.name}].state.terminated.finishedAt"
        return Milestone("download", last.finished_at, NODE, source)
    return _condition(pod, "download", "Initialized", NODE)


def _last_first_start(containers: Sequence[ContainerInfo], events: Sequence[PodEvent]) -> Milestone | None:
    """When the last main container started for the first time (None until all have)."""
    starts = [_first_start(c, events, init=False) for c in containers]
    if not starts or any(s is None for s in starts):
        return None
    when, source = max((s for s in starts if s is not None), key=lambda s: s[0])
    return Milestone("start", when, NODE, source)


def _last_restart(containers: Sequence[ContainerInfo]) -> Milestone | None:
    """The latest start of a container that restarted (its first start is in ``start``)."""
    restarted = [(c.started_at, c) for c in containers if c.restart_count and c.started_at is not None]
    if not restarted:
        return None
    when, last = max(restarted, key=lambda item: item[0])
    source = f"containerStatuses[{last.name}].state.running.startedAt (after {last.restart_count} restart(s))"
    return Milestone("restart", when, NODE, source)
