"""The state a cold start began in: a new or an existing node, images pulled or cached, and for
a model read through the cache, whether the node's page cache may already hold it.

These change a cold start by minutes (a new GPU node alone is about two), so runs are only
compared with runs in the same state: the report groups runs by their ``Conditions`` and puts a
ratio only between a Fluid group and a baseline group whose node and image states match.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.coldstart.pods import STORAGE_INITIALIZER, NodeInfo, PodEvent, PodSnapshot
from tools.coldstart.timeline import pulled_events

#: Events that show the cluster autoscaler (TriggeredScaleUp) or Karpenter (Nominated) added a node.
SCALE_UP_REASONS = frozenset({"TriggeredScaleUp", "Nominated"})
#: A node created this long before the request or later counts as new (whole-second timestamps).
NEW_NODE_MARGIN = timedelta(seconds=2)


@dataclass(frozen=True)
class Conditions:
    """``node``: new | existing. ``images``: pulled (any of the pod's images) | cached | unknown (no
    events). ``page_cache``: warm (this node served this InferenceService earlier in the benchmark)
    | cold (new node) | unknown (first run on a node that was already up); None for a pod that
    downloads the model on every start, where the page cache cannot hold it beforehand."""

    node: str
    images: str
    page_cache: str | None = None

    @property
    def label(self) -> str:
        """``existing node, images cached, page cache warm``: printed beside every figure."""
        text = f"{self.node} node, images {self.images}"
        return text if self.page_cache is None else f"{text}, page cache {self.page_cache}"

    def comparable(self, other: Conditions) -> bool:
        """Same node and image state: the page cache is a property of the Fluid method itself."""
        return (self.node, self.images) == (other.node, other.images)


def new_node_evidence(
    events: Sequence[PodEvent], node: NodeInfo | None, request_started: datetime, clock_offset: float
) -> str | None:
    """Why the node counts as new for this cold start (an autoscaler event, or the node joined
    after the request was sent), or None."""
    scale_up = sorted({e.reason for e in events} & SCALE_UP_REASONS)
    if scale_up:
        return f"new node provisioned ({', '.join(scale_up)})"
    if node is not None and node.created is not None:
        sent = request_started + timedelta(seconds=clock_offset)  # on the API server's clock
        if node.created >= sent - NEW_NODE_MARGIN:
            return f"new node provisioned (node {node.name} joined after the request)"
    return None


def classify(
    pod: PodSnapshot,
    events: Sequence[PodEvent],
    new_node: bool,
    earlier_nodes: Collection[str | None],
) -> Conditions:
    """The conditions of one run; ``earlier_nodes`` are the nodes of this InferenceService's
    earlier runs in the same benchmark."""
    pulled = pulled_events(events)
    if not pulled:
        images = "unknown"
    elif all("already present" in e.message for e in pulled):
        images = "cached"
    else:
        images = "pulled"
    page_cache = None
    if not any(c.name == STORAGE_INITIALIZER for c in pod.init_containers):
        if new_node:
            page_cache = "cold"
        elif pod.node_name and pod.node_name in earlier_nodes:
            page_cache = "warm"
        else:
            page_cache = "unknown"
    return Conditions("new" if new_node else "existing", images, page_cache)
