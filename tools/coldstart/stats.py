"""Min / median / max over repeated cold starts, grouped by the conditions each run began in.

Cold starts vary with node, image and cache state by minutes, so runs are summarised per
(InferenceService, conditions) group, and a speed-up is only computed between a baseline group
and a Fluid group that started from the same node and image state.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tools.coldstart.conditions import Conditions
from tools.coldstart.config import BASELINE_METHOD, FLUID_METHOD, Target
from tools.coldstart.phases import PHASES, Breakdown
from tools.coldstart.runner import TargetResult


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
    """A set of runs condensed: the total and every phase."""

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


@dataclass(frozen=True)
class Group:
    """The runs of one InferenceService that began in the same conditions, with their run numbers."""

    target: Target
    conditions: Conditions
    numbers: tuple[int, ...]
    runs: tuple[Breakdown, ...]

    @property
    def summary(self) -> TargetSummary:
        return summarize(self.runs)

    @property
    def median_run(self) -> Breakdown:
        """A real run with the median total (the lower one for an even count), to draw."""
        total = statistics.median_low([r.total_seconds for r in self.runs])
        return next(r for r in self.runs if r.total_seconds == total)


@dataclass(frozen=True)
class Comparison:
    """A Fluid group against a baseline group in the same node and image state."""

    baseline: Group
    fluid: Group

    @property
    def speedup(self) -> float | None:
        fluid = self.fluid.summary.total.median
        return self.baseline.summary.total.median / fluid if fluid > 0 else None


def published_order(results: Sequence[TargetResult]) -> list[TargetResult]:
    """Baseline first, then Fluid: "before" above "after", as in the published table."""
    return list(reversed(results))


def groups(results: Sequence[TargetResult]) -> list[Group]:
    """Every (InferenceService, conditions) group, baseline first, conditions in order of first run."""
    found: list[Group] = []
    for result in published_order(results):
        by_conditions: dict[Conditions, list[tuple[int, Breakdown]]] = {}
        for number, run in result.numbered_runs():
            by_conditions.setdefault(run.conditions, []).append((number, run))
        for conditions, members in by_conditions.items():
            numbers, runs = zip(*members, strict=True)
            found.append(Group(result.target, conditions, tuple(numbers), tuple(runs)))
    return found


def comparisons(all_groups: Sequence[Group]) -> list[Comparison]:
    """Every like-with-like pair: a baseline and a Fluid group with matching node and image state."""
    baselines = [g for g in all_groups if g.target.method == BASELINE_METHOD]
    fluids = [g for g in all_groups if g.target.method == FLUID_METHOD]
    return [Comparison(b, f) for b in baselines for f in fluids if b.conditions.comparable(f.conditions)]
