"""Min / median / max over repeated cold starts, overall and per phase.

Cold starts vary with node state and cache state, so one number is not enough; the published
table reports one figure per method, and this tool reports the spread behind it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tools.coldstart.phases import PHASES, Breakdown


@dataclass(frozen=True)
class Summary:
    """Min, median and max of a set of durations in seconds, and how many runs they cover."""

    min: float
    median: float
    max: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise ``values``; raises ValueError on an empty sequence (nothing was measured)."""
        if not values:
            raise ValueError("cannot summarise zero measurements")
        return cls(min=min(values), median=statistics.median(values), max=max(values), count=len(values))


@dataclass(frozen=True)
class PhaseSummary:
    """One phase across runs: its duration spread over the runs where it was observed (None if
    never observed), and in how many runs it was skipped (node already up, image cached...)."""

    id: str
    name: str
    seconds: Summary | None
    skipped_runs: int


@dataclass(frozen=True)
class TargetSummary:
    """All runs of one InferenceService condensed: the total and every phase."""

    total: Summary
    phases: tuple[PhaseSummary, ...]


def summarize(runs: Sequence[Breakdown]) -> TargetSummary:
    """Condense ``runs`` (at least one) into per-phase and total min/median/max."""
    phases = []
    for spec in PHASES:
        observed = [run.phase(spec.id) for run in runs]
        values = [p.seconds for p in observed if p.seconds is not None]
        phases.append(
            PhaseSummary(
                id=spec.id,
                name=spec.name,
                seconds=Summary.of(values) if values else None,
                skipped_runs=sum(p.skipped for p in observed),
            )
        )
    return TargetSummary(total=Summary.of([run.total_seconds for run in runs]), phases=tuple(phases))
