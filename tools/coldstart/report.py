"""Text tables and JSON for the measured cold starts.

The first table has the shape of the published benchmark (Model | Method | Cold start) with the
state each group of runs began in beside its figures, then a speed-up for each pair of groups in
the same node and image state, and only for those. The second shows where the time went, phase by
phase. Rows list the storage-initializer baseline before Fluid, as the published table does. The
JSON keeps every timestamp each figure came from, with its clock and source, so a reader can
recompute any phase.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.coldstart.config import BASELINE_METHOD, FLUID_METHOD, Plan
from tools.coldstart.phases import PHASES, Breakdown, PlacedMilestone
from tools.coldstart.runner import FailedRun, TargetResult
from tools.coldstart.stats import Group, PhaseSummary, Summary, comparisons, groups, published_order
from tools.coldstart.timeline import API_SERVER, CLIENT, NODE

COLD_START_HEADER = "Cold start (s)  min / median / max"

#: The published figures (time to the first response after scale to zero), by model.
PUBLISHED: dict[str, tuple[str, dict[str, float]]] = {
    "llama318b": ("Llama-3.1-8B, AWS g5.8xlarge", {BASELINE_METHOD: 265.0, FLUID_METHOD: 50.0}),
    "bloom7b1": ("bloom-7b1, Alibaba Cloud", {BASELINE_METHOD: 329.0, FLUID_METHOD: 27.8}),
    "bloom560m": ("bloom-560m, Alibaba Cloud", {BASELINE_METHOD: 58.0, FLUID_METHOD: 8.5}),
}
CLOCKS = {
    CLIENT: "this machine: the request start and the response",
    API_SERVER: "the API server: pod creation, PodScheduled, when each event was stored",
    NODE: "the pod's node (kubelet, container runtime): the other conditions, container times, kubelet events",
}


def published_reference(model: str) -> tuple[str, dict[str, float]]:
    """The published row for ``model`` (matched on its letters and digits), else the Llama-3.1-8B
    figures the project quotes, labelled as such."""
    key = re.sub(r"[^a-z0-9]", "", model.lower())
    return next((row for name, row in PUBLISHED.items() if name in key), PUBLISHED["llama318b"])


def text_report(model: str, results: Sequence[TargetResult]) -> str:
    """Both tables, the notes behind them and the clock caveat, as printed on stdout."""
    parts = [comparison_table(model, results)]
    if any(r.runs for r in results):
        parts.append(phase_table(results))
    return "\n\n".join(parts)


def comparison_table(model: str, results: Sequence[TargetResult]) -> str:
    """The headline table, one row per (method, conditions), and the like-with-like speed-ups."""
    all_groups = groups(results)
    rows = [
        (
            model, g.target.method, g.conditions.node, g.conditions.images, g.conditions.page_cache or "-",
            _run_numbers(g.numbers), _spread(g.summary.total),
        )
        for g in all_groups
    ]
    header = ("Model", "Method", "Node", "Images", "Page cache", "Runs (#)", COLD_START_HEADER)
    lines = [_table([header], rows)] if rows else ["No cold start was measured."]
    lines.extend(_comparison_lines(all_groups))
    for result in published_order(results):
        lines.extend(f"{result.target.method} run {n} failed: {f.error}" for n, f in result.failures())
    label, figures = published_reference(model)
    lines.append(
        f"Published ({label}): " + ", ".join(f"{method} {seconds:g} s" for method, seconds in figures.items())
        + "; the node and image state of those runs is not known."
    )
    lines.append(
        "Cold start = client-side total time of the first request after scale to zero (curl -w %{time_total}); "
        "runs are grouped by the state they began in, and only groups in the same node and image state are compared."
    )
    return "\n".join(lines)


def _comparison_lines(all_groups: Sequence[Group]) -> list[str]:
    """A speed-up per comparable pair, and which groups had no counterpart (or why none is given)."""
    if len({g.target.method for g in all_groups}) < 2:
        return []
    pairs = [c for c in comparisons(all_groups) if c.speedup is not None]
    lines = []
    if pairs:
        lines.append("Like with like (same node and image state):")
        for pair in pairs:
            fluid, baseline = pair.fluid, pair.baseline
            cache = f" (page cache {fluid.conditions.page_cache})" if fluid.conditions.page_cache else ""
            lines.append(
                f"  {baseline.conditions.label}: {fluid.target.method}{cache} is {pair.speedup:.1f}x faster than "
                f"{baseline.target.method} (median {fluid.summary.total.median:.1f} s vs "
                f"{baseline.summary.total.median:.1f} s; {len(fluid.runs)} vs {len(baseline.runs)} run(s))"
            )
    else:
        lines.append(
            "No speed-up is given: the two methods never started from the same node and image state, and a "
            "new node or an image pull alone changes a cold start by minutes. Measure more runs (--runs)."
        )
    paired = {id(g) for pair in pairs for g in (pair.baseline, pair.fluid)}
    lonely = [g for g in all_groups if id(g) not in paired]
    if pairs and lonely:
        lines.append(
            "Not compared (no run of the other method in that state): "
            + "; ".join(f"{g.target.method} on {g.conditions.label} ({len(g.runs)} run(s))" for g in lonely)
        )
    return lines


def phase_table(results: Sequence[TargetResult]) -> str:
    """Median (min-max) seconds per phase and group, the notes behind them, and the clock caveat."""
    all_groups = groups(results)
    summaries = [g.summary for g in all_groups]
    rows = [
        (spec.name, *(_phase_cell(s.phases[index], s.total.count) for s in summaries))
        for index, spec in enumerate(PHASES)
        if not _never_happened(spec.id, all_groups)
    ]
    rows.append(("Total", *(_spread(s.total, compact=True) for s in summaries)))
    headers = [
        ("Phase (s): median (min-max)", *(g.target.method for g in all_groups)),
        ("", *(f"{g.conditions.node} node" for g in all_groups)),
        ("", *(f"images {g.conditions.images}" for g in all_groups)),
        ("", *(f"page cache {g.conditions.page_cache}" if g.conditions.page_cache else "" for g in all_groups)),
        ("", *(f"{len(g.runs)} run(s): {', '.join(map(str, g.numbers))}" for g in all_groups)),
    ]
    hidden = {spec.id for spec in PHASES if _never_happened(spec.id, all_groups)}
    lines = [_table(headers, rows), "", *_phase_notes(all_groups, hidden), _clock_caveat(all_groups)]
    return "\n".join(lines)


def _never_happened(phase_id: str, all_groups: Sequence[Group]) -> bool:
    """A phase skipped with no time in every run (no init containers, no restart) needs no row."""
    phases = [run.phase(phase_id) for g in all_groups for run in g.runs]
    return all(p.skipped and not p.seconds for p in phases)


def _clock_caveat(all_groups: Sequence[Group]) -> str:
    runs = [run for g in all_groups for run in g.runs]
    offset = statistics.median(run.clock_offset for run in runs)
    corrected = sorted({f"{run.node_name} {run.node_clock.applied:+.1f} s" for run in runs if run.node_clock.applied})
    nodes = (
        f"node clocks, measured from when the API server stored each kubelet event: {', '.join(corrected)}"
        if corrected else "node clocks within 2 s of it (measured from when the API server stored each kubelet event)"
    )
    return (
        "Timestamps are whole seconds from three clocks: the API server's (pod creation, PodScheduled), the node's "
        f"(kubelet conditions, container times, events) and this machine's (request, response). Offsets removed: "
        f"client/API server median {offset:+.1f} s; {nodes}. In each run the phases add up to the client-side "
        "total; the JSON report lists every timestamp used."
    )


def report_json(plan: Plan, results: Sequence[TargetResult], measured_at: datetime) -> dict[str, Any]:
    """Everything measured, per run and per group, with the raw timestamps behind each figure."""
    all_groups = groups(results)
    return {
        "measured_at": measured_at.isoformat(),
        "model": plan.model_name,
        "namespace": plan.namespace,
        "ingress": f"{plan.ingress_address}:{plan.ingress_port}",
        "scheme": plan.scheme,
        "prompt": plan.prompt,
        "max_tokens": plan.max_tokens,
        "clocks": CLOCKS,
        "phases": [{"id": spec.id, "name": spec.name, "ends_at": spec.ends_at} for spec in PHASES],
        "published": dict(zip(("label", "seconds"), published_reference(plan.model_name), strict=True)),
        "comparisons": [
            {
                "conditions": pair.baseline.conditions.label,
                "baseline_runs": list(pair.baseline.numbers),
                "fluid_runs": list(pair.fluid.numbers),
                "fluid_page_cache": pair.fluid.conditions.page_cache,
                "speedup": None if pair.speedup is None else round(pair.speedup, 2),
            }
            for pair in comparisons(all_groups)
        ],
        "results": [_result_json(r, [g for g in all_groups if g.target == r.target]) for r in published_order(results)],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (parent directories must exist)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _result_json(result: TargetResult, target_groups: Sequence[Group]) -> dict[str, Any]:
    attempts = [
        {"run": number, **(_run_json(a) if isinstance(a, Breakdown) else _failed_json(a))}
        for number, a in enumerate(result.attempts, start=1)
    ]
    return {
        "method": result.target.method,
        "inference_service": result.target.isvc,
        "host_header": result.target.host_header,
        "groups": [
            {
                "conditions": g.conditions.label,
                "runs": list(g.numbers),
                "total_seconds": _summary_json(g.summary.total),
                "phases": {
                    p.id: {"seconds": _summary_json(p.seconds), "skipped_runs": p.skipped_runs}
                    for p in g.summary.phases
                },
            }
            for g in target_groups
        ],
        "runs": attempts,
    }


def _run_json(run: Breakdown) -> dict[str, Any]:
    node = run.node
    return {
        "status": "measured",
        "pod": run.pod,
        "node": {
            "name": node.name if node else None,
            "instance_type": (node.instance_type or None) if node else None,
            "created": node.created.isoformat() if node and node.created else None,
        },
        "image": run.image or None,
        "conditions": {
            "node": run.conditions.node, "images": run.conditions.images, "page_cache": run.conditions.page_cache,
        },
        "request_started": run.request_started.isoformat(),
        "total_seconds": round(run.total_seconds, 3),
        "clock_offset_seconds": round(run.clock_offset, 3),
        "node_clock": {
            "offset_seconds": round(run.node_clock.offset, 3),
            "applied_seconds": round(run.node_clock.applied, 3),
            "samples": run.node_clock.samples,
        },
        "milestones": [_milestone_json(m) for m in run.milestones],
        "phases": [
            {"id": p.id, "seconds": None if p.seconds is None else round(p.seconds, 3), "skipped": p.skipped,
             "detail": p.detail}
            for p in run.phases
        ],
        "events": [
            {"reason": e.reason, "message": e.message, "time": e.time.isoformat(), "field_path": e.field_path or None,
             "source": e.source or None, "stored": e.stored.isoformat() if e.stored else None}
            for e in sorted(run.events, key=lambda e: e.time)
        ],
        "notes": list(run.notes),
    }


def _milestone_json(placed: PlacedMilestone) -> dict[str, Any]:
    """One timestamp as recorded, and the seconds after the request it became:
    ``(time - request_started) - clock_offset`` (minus the applied node offset on the node clock)."""
    m = placed.milestone
    return {
        "ends_phase": m.phase,
        "time": m.time.isoformat(),
        "clock": m.clock,
        "source": m.source,
        "seconds_after_request": round(placed.seconds, 3),
        "placed_at_seconds": round(placed.placed, 3),
    }


def _failed_json(failed: FailedRun) -> dict[str, Any]:
    return {
        "status": "failed",
        "request_started": failed.request_started.isoformat(),
        "seconds": None if failed.seconds is None else round(failed.seconds, 3),
        "pod": failed.pod,
        "error": failed.error,
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


def _phase_notes(all_groups: Sequence[Group], hidden: Collection[str]) -> list[str]:
    """One line per group, phase and explanation ("image cached on node - skipped in 3/3 runs"),
    then the per-run notes (clock corrections, container restarts); none for ``hidden`` phases."""
    lines = []
    for group in all_groups:
        where = f"{group.target.method} [{group.conditions.label}]"
        total = len(group.runs)
        for spec in (s for s in PHASES if s.id not in hidden):
            seen = Counter((run.phase(spec.id).detail, run.phase(spec.id).skipped) for run in group.runs)
            for (detail, skipped), count in seen.items():
                if detail:
                    what = "skipped" if skipped else "seen"
                    lines.append(f"  {where} / {spec.name}: {detail} - {what} in {count}/{total} runs")
        by_note: dict[str, list[int]] = {}
        for number, run in zip(group.numbers, group.runs, strict=True):
            for note in run.notes:
                by_note.setdefault(note, []).append(number)
        for note, numbers in by_note.items():
            runs = f"run {numbers[0]}" if len(numbers) == 1 else f"runs {', '.join(map(str, numbers))}"
            lines.append(f"  {group.target.method} {runs}: {note}")
    return ["Notes:", *lines] if lines else []


def _run_numbers(numbers: Sequence[int]) -> str:
    return f"{len(numbers)} (#{', #'.join(map(str, numbers))})"


def _phase_cell(phase: PhaseSummary, runs: int) -> str:
    """``median (min-max)``, or "skipped (x)" when the phase happened in no run, x being the little
    time its milestones still span (timestamps are whole seconds); "n/a" when never observed."""
    if phase.seconds is None:
        return "skipped" if phase.skipped_runs == runs else "n/a"
    cell = _spread(phase.seconds, compact=True)
    if phase.skipped_runs == runs:
        return "skipped" if phase.seconds.max == 0 else f"skipped ({cell})"
    if phase.skipped_runs:
        cell += f" [skipped {phase.skipped_runs}/{runs}]"
    return cell


def _spread(summary: Summary, compact: bool = False) -> str:
    """``min / median / max`` for the headline, ``median (min-max)`` in the phase table; a spread
    that rounds to one value is shown as that value."""
    low, mid, high = (f"{value:.1f}" for value in (summary.min, summary.median, summary.max))
    if compact:
        return mid if low == high else f"{mid} ({low}-{high})"
    return f"{low} / {mid} / {high}"


def _table(headers: Sequence[Sequence[str]], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by `` | ``, widths fitted to the content; ``headers`` are the
    first lines (a header may take several)."""
    every = (*headers, *rows)
    widths = [max(len(row[i]) for row in every) for i in range(len(headers[0]))]
    lines = (" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in every)
    return "\n".join(line.rstrip() for line in lines)
