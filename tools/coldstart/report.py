"""Text tables and JSON for the measured cold starts.

The first table has the shape of the published benchmark (Model | Method | Cold start) so users
can put their numbers next to ours; the second shows where the time went, phase by phase. Rows
list the storage-initializer baseline before Fluid, as the published table does.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.coldstart.config import Plan
from tools.coldstart.phases import PHASES
from tools.coldstart.runner import TargetResult
from tools.coldstart.stats import PhaseSummary, Summary, summarize

COLD_START_HEADER = "Cold start (s)  min / median / max"


def published_order(results: Sequence[TargetResult]) -> list[TargetResult]:
    """Baseline first, then Fluid: "before" above "after", as in the published table."""
    return list(reversed(results))


def comparison_table(model: str, results: Sequence[TargetResult]) -> str:
    """The headline table, one row per method, plus the speed-up when a baseline was measured."""
    ordered = published_order(results)
    totals = [summarize(r.runs).total for r in ordered]
    rows = [(model, r.target.method, _spread(total)) for r, total in zip(ordered, totals, strict=True)]
    lines = [_table(("Model", "Method", COLD_START_HEADER), rows)]
    if len(ordered) == 2:
        baseline, fluid = (total.median for total in totals)
        if fluid > 0:
            lines.append(
                f"{ordered[1].target.method} is {baseline / fluid:.1f}x faster than "
                f"{ordered[0].target.method} (median {fluid:.1f} s vs {baseline:.1f} s)"
            )
    counts = sorted({len(r.runs) for r in ordered})
    lines.append(
        f"{'/'.join(map(str, counts))} run(s) per method; cold start = client-side total time of the "
        "first request after scale to zero (curl -w %{time_total})"
    )
    return "\n".join(lines)


def phase_table(results: Sequence[TargetResult]) -> str:
    """Median (min-max) seconds per phase and method, the notes behind them, and the clock caveat."""
    ordered = published_order(results)
    summaries = [summarize(r.runs) for r in ordered]
    rows = [
        (spec.name, *(_phase_cell(s.phases[index], s.total.count) for s in summaries))
        for index, spec in enumerate(PHASES)
    ]
    rows.append(("Total", *(_spread(s.total, compact=True) for s in summaries)))
    header = ("Phase (s): median (min-max)", *(r.target.method for r in ordered))
    lines = [_table(header, rows), "", *_phase_notes(ordered)]
    offsets = [run.clock_offset for r in ordered for run in r.runs]
    lines.append(
        "Phases come from API-server timestamps (whole seconds), shifted by the measured "
        f"client/API-server clock offset (median {statistics.median(offsets):+.1f} s); in each run "
        "they add up to the client-side total."
    )
    return "\n".join(lines)


def report_json(plan: Plan, results: Sequence[TargetResult], measured_at: datetime) -> dict[str, Any]:
    """Everything measured, per run and summarised, for archiving or plotting elsewhere."""
    return {
        "measured_at": measured_at.isoformat(),
        "model": plan.model_name,
        "namespace": plan.namespace,
        "ingress": f"{plan.ingress_address}:{plan.ingress_port}",
        "scheme": plan.scheme,
        "prompt": plan.prompt,
        "max_tokens": plan.max_tokens,
        "phases": [{"id": spec.id, "name": spec.name} for spec in PHASES],
        "results": [_result_json(r) for r in published_order(results)],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (parent directories must exist)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _result_json(result: TargetResult) -> dict[str, Any]:
    summary = summarize(result.runs)
    return {
        "method": result.target.method,
        "inference_service": result.target.isvc,
        "host_header": result.target.host_header,
        "summary": {
            "total_seconds": _summary_json(summary.total),
            "phases": {
                p.id: {"seconds": _summary_json(p.seconds), "skipped_runs": p.skipped_runs}
                for p in summary.phases
            },
        },
        "runs": [
            {
                "pod": run.pod,
                "total_seconds": round(run.total_seconds, 3),
                "clock_offset_seconds": round(run.clock_offset, 3),
                "phases": [
                    {
                        "id": p.id,
                        "seconds": None if p.seconds is None else round(p.seconds, 3),
                        "skipped": p.skipped,
                        "detail": p.detail,
                    }
                    for p in run.phases
                ],
                "notes": list(run.notes),
            }
            for run in result.runs
        ],
    }


def _summary_json(summary: Summary | None) -> dict[str, float | int] | None:
    if summary is None:
        return None
    return {
        "min": round(summary.min, 3),
        "median": round(summary.median, 3),
        "max": round(summary.max, 3),
        "count": summary.count,
    }


def _phase_notes(ordered: Sequence[TargetResult]) -> list[str]:
    """One line per method, phase and explanation ("image cached on node - skipped in 3/3 runs"),
    then the per-run notes (clock skew, container restarts)."""
    lines = []
    for result in ordered:
        total = len(result.runs)
        for spec in PHASES:
            seen = Counter((run.phase(spec.id).detail, run.phase(spec.id).skipped) for run in result.runs)
            for (detail, skipped), count in seen.items():
                if detail:
                    what = "skipped" if skipped else "seen"
                    lines.append(f"  {result.target.method} / {spec.name}: {detail} - {what} in {count}/{total} runs")
        for number, run in enumerate(result.runs, start=1):
            lines.extend(f"  {result.target.method} run {number}: {note}" for note in run.notes)
    return ["Notes:", *lines] if lines else []


def _phase_cell(phase: PhaseSummary, runs: int) -> str:
    """``median (min-max)``, or "skipped (x)" when the phase happened in no run, x being the little
    time its milestones still span (timestamps are whole seconds); "n/a" when never observed."""
    if phase.seconds is None:
        return "skipped" if phase.skipped_runs == runs else "n/a"
    cell = _spread(phase.seconds, compact=True)
    if phase.skipped_runs == runs:
        return f"skipped ({cell})"
    if phase.skipped_runs:
        cell += f" [skipped {phase.skipped_runs}/{runs}]"
    return cell


def _spread(summary: Summary, compact: bool = False) -> str:
    """``min / median / max`` for the headline, ``median (min-max)`` in the phase table."""
    if compact:
        if summary.min == summary.max:
            return f"{summary.median:.1f}"
        return f"{summary.median:.1f} ({summary.min:.1f}-{summary.max:.1f})"
    return f"{summary.min:.1f} / {summary.median:.1f} / {summary.max:.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by `` | ``, widths fitted to the content."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = (" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in (header, *rows))
    return "\n".join(line.rstrip() for line in lines)
