"""PNG chart of the phases: one bar per (method, conditions) group, for a report.

Each bar is a real run, the one with the group's median total, drawn phase by phase in the order
the phases happened, so the bar ends exactly at that run's total and never mixes medians that do
not add up. Whiskers show the group's min-max total, dashed marks the published figures, and the
subtitle says when, where and how many runs. matplotlib is imported here, lazily and with the Agg
backend (no display needed), so the tables and JSON still work on a machine without it; the CLI
turns the ImportError into a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tools.coldstart.config import Plan
from tools.coldstart.phases import PHASES
from tools.coldstart.report import published_reference
from tools.coldstart.runner import TargetResult
from tools.coldstart.stats import groups

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_png(path: Path, plan: Plan, results: Sequence[TargetResult], measured_at: datetime) -> None:
    """Draw the median run of every group of ``results`` and save it to ``path``."""
    from matplotlib import pyplot

    figure = draw(plan, results, measured_at)
    try:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        pyplot.close(figure)


def draw(plan: Plan, results: Sequence[TargetResult], measured_at: datetime) -> Figure:
    """The chart as a matplotlib Figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    all_groups = groups(results)
    reference, published = published_reference(plan.model_name)
    colour = {spec.id: matplotlib.colormaps["tab10"](i) for i, spec in enumerate(PHASES)}
    figure, axes = pyplot.subplots(figsize=(11, 2.6 + 0.85 * len(all_groups)), layout="constrained")
    try:
        labelled: set[str] = set()
        marked: set[str] = set()
        ends: list[float] = list(published.values())
        for row, group in enumerate(all_groups):
            run, total = group.median_run, group.summary.total
            left = 0.0
            for phase in run.phases:  # PHASES order is the order they happened
                if not phase.seconds:
                    continue
                axes.barh(
                    row, phase.seconds, left=left, height=0.6, color=colour[phase.id], edgecolor="white",
                    linewidth=0.5, label=None if phase.id in labelled else phase.name,
                )
                labelled.add(phase.id)
                left += phase.seconds
            if total.count > 1:
                spread = [[run.total_seconds - total.min], [total.max - run.total_seconds]]
                axes.errorbar(run.total_seconds, row, xerr=spread, fmt="none", ecolor="black", capsize=4, lw=1)
            number = group.numbers[group.runs.index(run)]
            label = f"{run.total_seconds:.1f} s (run {number}"
            if total.count > 1:
                label += f"; median of {total.count}: {total.median:.1f} s, {total.min:.0f}-{total.max:.0f}"
            axes.annotate(
                label + ")", (max(total.max, run.total_seconds), row), xytext=(5, 0), textcoords="offset points",
                va="center", fontsize="small", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.8},
            )
            mark = published.get(group.target.method)
            if mark is not None:
                axes.vlines(mark, row - 0.42, row + 0.42, colors="black", linestyles="dashed", lw=1)
                if group.target.method not in marked:  # one label per method is enough
                    axes.text(mark, row - 0.44, f"published {mark:g} s", ha="center", va="bottom", fontsize="x-small")
                    marked.add(group.target.method)
            ends.append(total.max)
        axes.set_yticks(range(len(all_groups)), [f"{g.target.method}\n{g.conditions.label}" for g in all_groups])
        axes.invert_yaxis()  # first group on top, like the table
        axes.set_xlim(0, max(ends, default=1.0) * 1.3)
        axes.set_xlabel("seconds after the request (each bar: the group's median run, its phases in time order)")
        runs = sum(len(g.runs) for g in all_groups)
        axes.set_title(
            f"Cold start of {plan.model_name} after scale to zero, by the state each run began in\n"
            f"measured {measured_at:%Y-%m-%d %H:%M} UTC in namespace {plan.namespace} via {plan.ingress_address}, "
            f"{runs} run(s)\nwhiskers: min-max total of the group; dashed: published figure ({reference})",
            fontsize="medium",
        )
        axes.grid(axis="x", alpha=0.3)
        figure.legend(loc="outside lower center", ncol=5, fontsize="small", frameon=False)
    except BaseException:
        pyplot.close(figure)
        raise
    return figure
