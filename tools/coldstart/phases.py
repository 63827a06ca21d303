"""Where the cold-start time goes: pure timing logic from pod conditions, container times and events.

A cold start is the client-side time from sending the first request to receiving its response
(what ``curl -w %{time_total}`` reported in the published benchmark). It is split at milestones
recorded on the pod that served the request, in the order the kubelet goes through them:

    request sent -> pod created -> PodScheduled -> first image event (volumes mounted)
      -> init container started -> init containers finished (storage-initializer download)
      -> model-server image Pulled -> containers started -> restarted -> Ready -> response

Each phase ends at its milestone and starts at the previous one observed, so each phase is named
for what took the time: the storage-initializer's download is "Model download", never an image
pull, even when the image was cached and its ``Pulled`` event falls in the same second. The order
is fixed by causality, not by sorting timestamps: timestamps are whole seconds from three clocks
(see ``timeline.py``), and a milestone still out of order after both clock offsets are removed is
moved into order, with a note naming it and its clock. The phases of a run add up exactly to its
total, which is what a stacked bar chart needs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from tools.coldstart.conditions import Conditions, classify, new_node_evidence
from tools.coldstart.pods import MODEL_CONTAINER, STORAGE_INITIALIZER, NodeInfo, PodEvent, PodSnapshot
from tools.coldstart.timeline import CLIENT, NODE, Milestone, NodeClock, node_clock, pulled_events, read_milestones

#: A pod scheduled this soon after creation did not wait for a node to be provisioned.
NODE_UP_THRESHOLD_SECONDS = 5.0
#: Moving a milestone by more than this is worth telling the user about (timestamps are whole
#: seconds, so up to a second of disagreement is expected).
SKEW_NOTE_THRESHOLD_SECONDS = 1.5
#: A pod created this long before the request was not started by it: not a cold start.
NOT_COLD_SECONDS = 2.0


@dataclass(frozen=True)
class PhaseSpec:
    """A phase's stable id (used in JSON), its name (tables, chart) and the milestone that ends it."""

    id: str
    name: str
    ends_at: str


#: The phases in the order they happen; each ends at the milestone of the same id.
PHASES: tuple[PhaseSpec, ...] = (
    PhaseSpec("trigger", "Scale-from-zero trigger", "pod created (activator, autoscaler, Deployment)"),
    PhaseSpec("node", "Node provisioning + scheduling", "PodScheduled"),
    PhaseSpec("mount", "Volume mount + sandbox", "the kubelet's first image event (volumes are mounted first)"),
    PhaseSpec("init_pull", "Init image pull", "the first init container started"),
    PhaseSpec("download", "Model download (storage-initializer)", "the last init container finished"),
    PhaseSpec("image", "Model-server image pull", f"Pulled event of {MODEL_CONTAINER}"),
    PhaseSpec("start", "Containers started", "every main container has started once"),
    PhaseSpec("restart", "Crash + restart", "a restarted container runs again"),
    PhaseSpec("ready", "Model load until Ready", "Ready (for Fluid: includes the page-cache warm-up)"),
    PhaseSpec("response", "First response", "the response's last byte (client clock)"),
)
PHASE_NAMES = {spec.id: spec.name for spec in PHASES}


@dataclass(frozen=True)
class Phase:
    """One phase of one cold start.

    ``seconds`` is None when its milestone could not be observed (for example, the image events
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
class PlacedMilestone:
    """A milestone for the audit trail: the recorded timestamp, its clock and source, its seconds
    after the request on the client clock once the offsets are removed, and where it was placed
    (the same unless it was out of causal order or outside the request window)."""

    milestone: Milestone
    seconds: float
    placed: float


@dataclass(frozen=True)
class Breakdown:
    """A cold start split into phases that add up to ``total_seconds``, with everything it came from."""

    pod: str
    total_seconds: float
    phases: tuple[Phase, ...]
    clock_offset: float
    request_started: datetime
    conditions: Conditions
    milestones: tuple[PlacedMilestone, ...] = ()
    events: tuple[PodEvent, ...] = ()
    node: NodeInfo | None = None
    node_clock: NodeClock = NodeClock(0.0, 0)
    image: str = ""
    notes: tuple[str, ...] = ()

    def phase(self, phase_id: str) -> Phase:
        """The phase with this id (every breakdown has all of ``PHASES``)."""
        return next(p for p in self.phases if p.id == phase_id)

    @property
    def skipped(self) -> tuple[Phase, ...]:
        """Phases that did not happen on this run, for the "skipped" notes in the report."""
        return tuple(p for p in self.phases if p.skipped)

    @property
    def node_name(self) -> str | None:
        return self.node.name if self.node else None

    def not_cold(self) -> str | None:
        """Why this was not a cold start (the pod existed before the request), or None."""
        created = next((m for m in self.milestones if m.milestone.phase == "trigger"), None)
        if created is None or created.seconds >= -NOT_COLD_SECONDS:
            return None
        return (
            f"not a cold start: pod {self.pod} was created {-created.seconds:.0f} s before the request "
            "(another client's request scaled the service up after the check for zero)"
        )


def select_pod(pods: Sequence[PodSnapshot]) -> PodSnapshot | None:
    """Pick the pod that served the first request among the pods present after it.

    Ignores evicted or completed pods; prefers predictor pods (a transformer pod carries the same
    InferenceService label), then the pod that became Ready first, since the activator forwards
    the buffered request to the first ready pod; falls back to the earliest-created pod when none
    is Ready yet.
    """
    running = [p for p in pods if not p.finished]
    live = [p for p in running if not p.deleting] or running
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
    *,
    node: NodeInfo | None = None,
    earlier_nodes: Collection[str | None] = (),
) -> Breakdown:
    """Split ``total_seconds`` into phases from ``pod``'s timestamps and ``events``.

    ``request_started`` is the client wall-clock time the request was sent; ``clock_offset`` is
    the API server clock minus the client clock, in seconds. ``node`` (if readable) tells whether
    the node joined after the request; ``earlier_nodes`` are the nodes this InferenceService ran on
    earlier in the benchmark (a warm page cache).
    """
    clock = node_clock(events)
    found = read_milestones(pod, events)
    seconds = {pid: _since_request(m, request_started, clock_offset, clock) for pid, m in found.items()}
    notes = _drop_restart_after_response(pod, seconds, total_seconds)
    placed, moved = _place_in_order(seconds, total_seconds)
    if moved:
        notes.append(_moved_note(moved, found, clock_offset, clock))

    evidence = new_node_evidence(events, node, request_started, clock_offset)
    conditions = classify(pod, events, evidence is not None, earlier_nodes)
    phases = _phases(placed, pod, events, evidence)
    records = tuple(
        PlacedMilestone(found[spec.id], seconds[spec.id], placed[spec.id])
        for spec in PHASES
        if spec.id in found and spec.id in placed
    )
    return Breakdown(
        pod=pod.name,
        total_seconds=total_seconds,
        phases=phases,
        clock_offset=clock_offset,
        request_started=request_started,
        conditions=conditions,
        milestones=records,
        events=tuple(events),
        node=node or (NodeInfo(pod.node_name) if pod.node_name else None),
        node_clock=clock,
        image=pod.model_image,
        notes=tuple(notes),
    )


def _since_request(milestone: Milestone, request_started: datetime, clock_offset: float, clock: NodeClock) -> float:
    """Seconds from the request to ``milestone`` on the client clock."""
    value = (milestone.time - request_started).total_seconds() - clock_offset
    return value - clock.applied if milestone.clock == NODE else value


def _drop_restart_after_response(pod: PodSnapshot, seconds: dict[str, float], total: float) -> list[str]:
    """A restart after the response is no part of the cold start: forget it, and the Ready time
    of the pod's second life with it, instead of squeezing them into the request window."""
    restart = seconds.get("restart")
    restarted = ", ".join(f"{c.name} ({c.restart_count}x)" for c in pod.containers if c.restart_count)
    if restart is None:
        return []
    if restart <= total + SKEW_NOTE_THRESHOLD_SECONDS:
        return [f"{restarted} restarted before serving: the crash and back-off are in 'Crash + restart'"]
    del seconds["restart"]
    note = f"{restarted} restarted {restart - total:.0f} s after the response; not part of this cold start"
    if seconds.get("ready", 0.0) >= restart:
        del seconds["ready"]
        note += " (its Ready time is from after that restart, so it is not used)"
    return [note]


def _place_in_order(seconds: dict[str, float], total: float) -> tuple[dict[str, float], list[tuple[str, str, float]]]:
    """Place the milestones in causal order inside [0, total]; also return each one moved by
    more than the rounding noise: (phase id, the milestone it was moved to or "response", by how much)."""
    placed: dict[str, float] = {}
    moved: list[tuple[str, str, float]] = []
    previous, previous_id = 0.0, "request"
    for spec in PHASES:
        value = total if spec.id == "response" else seconds.get(spec.id)
        if value is None:
            continue
        position = min(max(value, previous), total)
        if abs(position - value) > SKEW_NOTE_THRESHOLD_SECONDS:
            moved.append((spec.id, previous_id if value < previous else "response", position - value))
        placed[spec.id] = position
        previous, previous_id = position, spec.id
    return placed, moved


def _moved_note(
    moved: list[tuple[str, str, float]], found: dict[str, Milestone], offset: float, clock: NodeClock
) -> str:
    """Name the worst out-of-order milestone, its clock and the one it disagrees with."""
    phase_id, other, by = max(moved, key=lambda item: abs(item[2]))

    def describe(pid: str) -> str:
        if pid in ("request", "response"):
            return f"the {pid} ({CLIENT} clock)"
        milestone = found[pid]
        return f"{milestone.source} ({milestone.clock} clock)"

    relation = "before" if by > 0 else "after"
    return (
        f"{describe(phase_id)} fell {abs(by):.1f} s {relation} {describe(other)} after removing the measured "
        f"offsets (client/API server {offset:+.1f} s, node {clock.applied:+.1f} s); it was moved into order, "
        f"so the phases next to '{PHASE_NAMES[phase_id]}' are approximate (the total is exact)"
    )


def _phases(
    placed: dict[str, float], pod: PodSnapshot, events: Sequence[PodEvent], new_node: str | None
) -> tuple[Phase, ...]:
    """Durations between consecutive placed milestones, with the skipped flag and a short detail."""
    phases = []
    previous = 0.0
    for spec in PHASES:
        seconds: float | None = None
        if spec.id in placed:
            seconds = placed[spec.id] - previous
            previous = placed[spec.id]
        skipped, detail = _classify(spec.id, seconds, pod, events, new_node)
        if skipped and seconds is None:
            seconds = 0.0  # it did not happen, rather than happened unobserved
        if seconds is None:
            detail = f"{detail}; not observed" if detail else "not observed; counted in the next phase"
        phases.append(Phase(spec.id, spec.name, seconds, skipped, detail))
    return tuple(phases)


def _classify(
    phase_id: str, seconds: float | None, pod: PodSnapshot, events: Sequence[PodEvent], new_node: str | None
) -> tuple[bool, str]:
    """Whether a phase was skipped, and why it took the time it took, in a few words."""
    pulled = _first_pulled(events)
    if phase_id == "node":
        failed = next((e for e in events if e.reason == "FailedScheduling"), None)
        if new_node:
            return False, new_node
        if failed:
            return False, f"waited for a schedulable node (FailedScheduling: {failed.message[:80]})"
        if seconds is not None and seconds <= NODE_UP_THRESHOLD_SECONDS:
            return True, "node already up"
    elif phase_id in ("init_pull", "download"):
        if not pod.init_containers:  # said once, on the download
            return True, "no init containers (the model is mounted, not downloaded)" if phase_id == "download" else ""
        first = pod.init_containers[0].name
        names = [c.name for c in pod.init_containers]
        if phase_id == "download":
            return False, "" if names == [STORAGE_INITIALIZER] else f"runs the init containers {', '.join(names)}"
        event = pulled.get((True, first))
        if event is not None and "already present" in event.message:
            return True, f"{first} image cached on node"
    elif phase_id == "image":
        event = pulled.get((False, MODEL_CONTAINER))
        if event is None:
            return False, f"no Pulled event for {MODEL_CONTAINER} (events expire, 1 h by default)"
        if "already present" in event.message:
            return True, "image cached on node"
    elif phase_id == "start":
        others = [
            name for (init, name), e in pulled.items()
            if not init and name != MODEL_CONTAINER and "already present" not in e.message
        ]
        if others:
            return False, f"includes pulling the {', '.join(sorted(others))} image"
    elif phase_id == "restart":
        if seconds is None:
            return True, "no restart"
        return False, ", ".join(f"{c.name} restarted {c.restart_count}x" for c in pod.containers if c.restart_count)
    return False, ""


def _first_pulled(events: Sequence[PodEvent]) -> dict[tuple[bool, str | None], PodEvent]:
    """The first ``Pulled`` event per (is init container, container name)."""
    first: dict[tuple[bool, str | None], PodEvent] = {}
    for event in sorted(pulled_events(events), key=lambda e: e.time):
        first.setdefault((event.init_container, event.container), event)
    return first


def ready_time(pod: PodSnapshot) -> datetime | None:
    """When the pod became Ready (ContainersReady when Ready is not reported)."""
    return pod.conditions.get("Ready") or pod.conditions.get("ContainersReady")
