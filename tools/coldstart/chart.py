"""PNG stacked bar chart of the phases, one bar per method.

matplotlib is imported here, lazily and with the Agg backend (no display needed), so the tables
and JSON still work on a machine without it; the CLI turns the ImportError into a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tools.coldstart.phases import PHASES
from tools.coldstart.report import published_order
from tools.coldstart.runner import TargetResult
from tools.coldstart.stats import Summary, summarize


def write_png(path: Path, model: str, results: Sequence[TargetResult]) -> None:
    """Draw each method's median phase durations stacked left to right and save to ``path``.

    Medians of the phases need not add up to the median total, so the total is written at the
    end of each bar rather than implied by its length.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    ordered = published_order(results)
    summaries = [summarize(r.runs) for r in ordered]
    labels = [r.target.method for r in ordered]
    figure, axes = pyplot.subplots(figsize=(10, 2.2 + 0.9 * len(ordered)), layout="constrained")
    try:
        left = [0.0] * len(ordered)
        colours = matplotlib.colormaps["tab10"]
        for index, spec in enumerate(PHASES):
            widths = [_median_or_zero(s.phases[index].seconds) for s in summaries]
            axes.barh(labels, widths, left=left, label=spec.name, color=colours(index))
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for row, (end, summary) in enumerate(zip(left, summaries, strict=True)):
            axes.text(end, row, f"  {summary.total.median:.1f} s total", va="center")
        axes.set_xlabel("seconds (median per phase)")
        axes.set_title(f"Cold start of {model} after scale to zero")
        axes.set_xlim(0, max(left, default=0.0) * 1.2 or 1.0)
        axes.invert_yaxis()  # first method on top, like the table
        figure.legend(loc="outside lower center", ncol=4, fontsize="small", frameon=False)
        figure.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        pyplot.close(figure)


def _median_or_zero(summary: Summary | None) -> float:
    """A phase never observed draws no segment (its time is already in the next phase)."""
    return 0.0 if summary is None else summary.median
