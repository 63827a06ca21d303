"""Tests for tools.coldstart: timing logic, phase breakdown, conditions, reports, HTTP and errors.

No cluster is needed: pods and events are hand-built snapshots (``ColdStart`` scripts), the
inference endpoint (plain or HTTPS with a throwaway CA) and the Kubernetes API are small servers
on 127.0.0.1, and waiting uses a fake clock. Each finding of the tool's review (A1-A12) has a test
here, named after the property it checks.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.coldstart_fakes import (
    T0,
    ColdStart,
    FakeApiServer,
    FakeClock,
    FakeCluster,
    FakeEndpoint,
    FakeSender,
    Reply,
    TlsFiles,
    at,
    free_port,
    make_tls_files,
    write_kubeconfig,
)
from tools.coldstart import chart, report
from tools.coldstart.cli import build_parser, main
from tools.coldstart.conditions import Conditions
from tools.coldstart.config import (
    BASELINE_METHOD,
    FLUID_METHOD,
    Plan,
    Target,
    build_plan,
    read_stack_outputs,
    run_command,
)
from tools.coldstart.endpoint import (
    CompletionResult,
    Credentials,
    Endpoint,
    parse_ingress,
    post_completion,
    tls_context,
)
from tools.coldstart.errors import (
    ClusterUnreachable,
    ConfigError,
    EndpointError,
    InferenceServiceNotFound,
    MeasurementError,
)
from tools.coldstart.kube import connect
from tools.coldstart.phases import Breakdown, compute_breakdown, select_pod
from tools.coldstart.pods import ContainerInfo, NodeInfo, PodEvent, PodSnapshot
from tools.coldstart.runner import FailedRun, TargetResult, run_benchmark, wait_for_zero
from tools.coldstart.stats import Summary, groups, summarize

STACK_OUTPUTS = {
    "namespace": "models",
    "inferenceService": "llama",
    "baselineInferenceService": "llama-baseline",
    "modelHost": "llama.models.example.com",
    "baselineModelHost": "llama-baseline.models.example.com",
    "ingressAddress": "a1b2.elb.us-west-2.amazonaws.com",
    "modelName": "llama-31-8b",
    "scaleToZeroSeconds": 90,
}

# The published Llama-3.1-8B shape: the baseline downloads in its init container on a fresh node,
# Fluid starts on a warm node with the image cached and streams the weights while loading.
BASELINE = ColdStart(
    created=2, scheduled=122, mounted=123, init_pulled=130, init_started=131, initialized=200, pulling=201,
    pulled=230, started=232, ready=260, init_containers=("storage-initializer",), image_cached=False, scale_up=True,
)
FLUID = ColdStart(created=1, scheduled=2, initialized=2, pulled=3, started=4, ready=45)
# The baseline on a node that is up, with its images cached: only the download is left.
WARM_BASELINE = ColdStart(
    created=2, scheduled=3, initialized=81, pulled=81, started=82, ready=110, init_containers=("storage-initializer",),
)


def phase_seconds(breakdown: Breakdown) -> dict[str, float | None]:
    return {p.id: p.seconds for p in breakdown.phases}


def breakdown_of(script: ColdStart, total: float, **kwargs: Any) -> Breakdown:
    """The breakdown of a scripted cold start whose request was sent at T0 (no clock skew)."""
    return compute_breakdown(script.pod("p", T0), script.events(T0), T0, total, **kwargs)


def flags(*argv: str) -> argparse.Namespace:
    """Parsed command-line flags, exactly as the CLI gets them."""
    return build_parser().parse_args(list(argv))


def plan(**changes: Any) -> Plan:
    values: dict[str, Any] = {
        "namespace": "models",
        "model_name": "llama-31-8b",
        "ingress_address": "127.0.0.1",
        "ingress_port": 80,
        "scheme": "http",
        "insecure": False,
        "ca_file": None,
        "credentials": Credentials(),
        "targets": (
            Target("llama", FLUID_METHOD, "llama.models.example.com"),
            Target("llama-baseline", BASELINE_METHOD, "llama-baseline.models.example.com"),
        ),
        "scale_to_zero_seconds": 90,
        "prompt": "Kubernetes is",
        "max_tokens": 8,
        "runs": 1,
        "request_timeout": 30.0,
        "zero_timeout": 390.0,
        "poll_interval": 5.0,
    }
    values.update(changes)
    return Plan(**values)


def measured(target: Target, *runs: tuple[ColdStart, float], offset: float = 0.0) -> TargetResult:
    """A TargetResult from scripted cold starts (script, client-side total), each on the node of
    its script, with the nodes of earlier runs remembered as the runner does."""
    result = TargetResult(target)
    for script, total in runs:
        result.attempts.append(
            compute_breakdown(
                script.pod(f"{target.isvc}-pod", T0), script.events(T0), T0, total, offset,
                earlier_nodes=[r.node_name for r in result.runs],
            )
        )
    return result


# -- phases ---------------------------------------------------------------------------------------


def test_baseline_breakdown_follows_the_kubelet_order_and_adds_up_to_the_total() -> None:
    breakdown = breakdown_of(BASELINE, 265.0)

    assert phase_seconds(breakdown) == {
        "trigger": 2, "node": 120, "mount": 1, "init_pull": 8, "download": 69, "image": 30, "start": 2,
        "restart": 0, "ready": 28, "response": 5,
    }
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(265.0)
    assert [p.id for p in breakdown.skipped] == ["restart"]
    assert breakdown.phase("node").detail == "new node provisioned (TriggeredScaleUp)"
    assert breakdown.phase("start").detail == "includes pulling the queue-proxy image"
    assert breakdown.notes == ()


def test_fluid_breakdown_marks_node_image_and_init_as_skipped() -> None:
    breakdown = breakdown_of(FLUID, 50.0)

    assert phase_seconds(breakdown) == {
        "trigger": 1, "node": 1, "mount": 1, "init_pull": 0, "download": 0, "image": 0, "start": 1,
        "restart": 0, "ready": 41, "response": 5,
    }
    assert {p.id: p.detail for p in breakdown.skipped} == {
        "node": "node already up",
        "init_pull": "",
        "download": "no init containers (the model is mounted, not downloaded)",
        "image": "image cached on node",
        "restart": "no restart",
    }


def test_download_with_a_cached_image_is_a_download_not_an_image_pull() -> None:
    # Review A1: Initialized and the cached image's Pulled event fall in the same second. Sorting
    # by time put the 78 s download into "Image pull (skipped)"; causal order puts it where it was.
    breakdown = breakdown_of(WARM_BASELINE, 115.0)

    download, image = breakdown.phase("download"), breakdown.phase("image")
    assert (download.name, download.seconds, download.skipped) == ("Model download (storage-initializer)", 78, False)
    assert (image.seconds, image.skipped, image.detail) == (0, True, "image cached on node")
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(115.0)


def test_image_pull_runs_from_pulling_to_pulled_and_the_mount_wait_is_its_own_phase() -> None:
    # Review A12: the FUSE mount (scheduled at 2, first kubelet image event at 10) is not an image pull.
    fluid = ColdStart(created=1, scheduled=2, pulling=10, pulled=30, started=31, ready=60, image_cached=False)
    breakdown = breakdown_of(fluid, 62.0)

    assert (breakdown.phase("mount").seconds, breakdown.phase("image").seconds) == (8, 20)
    assert not breakdown.phase("image").skipped


def test_slow_scheduling_without_scale_up_event_is_not_skipped() -> None:
    slow = ColdStart(created=1, scheduled=40, initialized=40, pulled=41, started=42, ready=60)
    no_gpu = "0/3 nodes are available: 1 Insufficient nvidia.com/gpu."
    waiting = ColdStart(**{**slow.__dict__, "failed_scheduling": no_gpu})

    quiet = breakdown_of(slow, 61.0).phase("node")
    waited = breakdown_of(waiting, 61.0).phase("node")

    assert (quiet.seconds, quiet.skipped, quiet.detail) == (39, False, "")
    assert (waited.skipped, waited.detail) == (
        False, f"waited for a schedulable node (FailedScheduling: {no_gpu})"
    )


def test_a_node_that_joined_after_the_request_is_new_even_without_autoscaler_events() -> None:
    slow = ColdStart(created=1, scheduled=90, initialized=90, pulled=91, started=92, ready=120)
    fresh = NodeInfo("gpu-node-1", created=at(80), instance_type="g5.8xlarge")
    old = NodeInfo("gpu-node-1", created=at(-3600))

    new = breakdown_of(slow, 125.0, node=fresh)
    existing = breakdown_of(slow, 125.0, node=old)

    assert new.conditions.node == "new" and new.conditions.page_cache == "cold"
    assert new.phase("node").detail == "new node provisioned (node gpu-node-1 joined after the request)"
    assert existing.conditions.node == "existing"


def test_clock_offset_maps_server_timestamps_onto_the_client_clock() -> None:
    # The API server clock (and the node's with it) runs 10 s ahead; the measured offset cancels it.
    server = T0 + timedelta(seconds=10)
    breakdown = compute_breakdown(FLUID.pod("p", server), FLUID.events(server), T0, 50.0, clock_offset=10.0)

    assert phase_seconds(breakdown) == phase_seconds(breakdown_of(FLUID, 50.0))
    assert breakdown.notes == ()
    assert breakdown.clock_offset == 10.0


def test_node_clock_skew_is_measured_from_kubelet_events_and_removed() -> None:
    # Review A6: the kubelet stamps with the node's clock, here 4 s behind the API server. Its
    # events are stored by the API server at its own time, which gives the offset away.
    skewed = compute_breakdown(BASELINE.pod("p", T0, node_skew=-4), BASELINE.events(T0, node_skew=-4), T0, 265.0)

    assert phase_seconds(skewed) == phase_seconds(breakdown_of(BASELINE, 265.0))
    assert (skewed.node_clock.offset, skewed.node_clock.applied, skewed.node_clock.samples) == (-4.0, -4.0, 9)
    assert skewed.notes == ()  # nothing was out of order, so nothing was blamed on a clock
    caveat = report.phase_table([TargetResult(BASELINE_TARGET, [skewed])]).splitlines()[-1]
    assert "node clocks, measured from when the API server stored each kubelet event: gpu-node-1 -4.0 s" in caveat


def test_a_node_clock_within_rounding_is_left_alone() -> None:
    breakdown = compute_breakdown(FLUID.pod("p", T0, node_skew=1), FLUID.events(T0, node_skew=1), T0, 50.0)

    assert (breakdown.node_clock.offset, breakdown.node_clock.applied) == (1.0, 0.0)
    assert breakdown.phase("node").seconds == 1 and breakdown.phase("mount").seconds == 2


def test_out_of_order_milestones_are_moved_and_named_with_their_clock() -> None:
    # The API server is 8 s behind and nobody measured it: the pod seems created before the request.
    server = T0 - timedelta(seconds=8)
    breakdown = compute_breakdown(FLUID.pod("p", server), FLUID.events(server), T0, 50.0)

    assert breakdown.phase("trigger").seconds == 0
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(50.0)
    assert breakdown.notes == (
        "pod metadata.creationTimestamp (api-server clock) fell 7.0 s before the request (client clock) after "
        "removing the measured offsets (client/API server +0.0 s, node +0.0 s); it was moved into order, so the "
        "phases next to 'Scale-from-zero trigger' are approximate (the total is exact)",
    )


def test_missing_events_leave_the_image_phase_unobserved() -> None:
    breakdown = compute_breakdown(BASELINE.pod("p", T0), [], T0, 265.0)

    image = breakdown.phase("image")
    assert image.seconds is None and not image.skipped
    assert image.detail == "no Pulled event for kserve-container (events expire, 1 h by default); not observed"
    # Its time lands in the next milestone: download end (200) -> containers started (232).
    assert breakdown.phase("start").seconds == 32
    assert breakdown.phase("mount").seconds is None  # no kubelet event at all
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(265.0)
    assert breakdown.conditions.images == "unknown"


def test_a_restart_before_serving_has_its_own_phase() -> None:
    # Review A8: the crash and back-off used to land in "Containers started".
    crashed = ColdStart(created=1, scheduled=2, pulled=3, started=4, restarted=30, ready=60)
    breakdown = breakdown_of(crashed, 64.0)

    assert (breakdown.phase("start").seconds, breakdown.phase("restart").seconds) == (1, 26)
    assert breakdown.phase("restart").detail == "kserve-container restarted 1x"
    assert breakdown.notes == (
        "kserve-container (1x) restarted before serving: the crash and back-off are in 'Crash + restart'",
    )


def test_a_restart_after_the_response_is_not_blamed_on_clock_skew() -> None:
    # Review A8: the pod is read after the response; a crash after serving gives it a new start
    # time and a new Ready time, both later than the response.
    late = ColdStart(created=1, scheduled=2, pulled=3, started=4, restarted=70, ready=75)
    breakdown = breakdown_of(late, 50.0)

    assert breakdown.phase("restart").skipped and breakdown.phase("start").seconds == 1
    assert breakdown.phase("ready").seconds is None  # the Ready of the pod's second life is not used
    assert breakdown.notes == (
        "kserve-container (1x) restarted 20 s after the response; not part of this cold start "
        "(its Ready time is from after that restart, so it is not used)",
    )
    assert not any("clock" in note for note in breakdown.notes)


def test_a_pod_created_before_the_request_is_not_cold() -> None:
    # Review A9: another client's request won the race after the check for zero.
    early = ColdStart(created=-20, scheduled=-19, pulled=-18, started=-17, ready=3)

    assert breakdown_of(early, 5.0).not_cold() == (
        "not a cold start: pod p was created 20 s before the request (another client's request scaled the "
        "service up after the check for zero)"
    )
    assert breakdown_of(FLUID, 50.0).not_cold() is None
    assert breakdown_of(ColdStart(created=-1), 50.0).not_cold() is None  # whole-second rounding


def test_select_pod_prefers_the_first_ready_predictor() -> None:
    late = FLUID.pod("late", T0)
    early = ColdStart(ready=20).pod("early", T0)
    transformer = PodSnapshot("transformer", at(0), {"Ready": at(5)}, component="transformer")
    leaving = PodSnapshot("old", at(-100), {"Ready": at(-90)}, component="predictor", deleting=True)
    evicted = PodSnapshot("evicted", at(-200), {"Ready": at(-190)}, component="predictor", phase="Failed")

    assert select_pod([late, transformer, early, leaving, evicted]) == early
    # Nothing Ready yet: the earliest-created pod.
    assert select_pod([PodSnapshot("b", at(2), {}), PodSnapshot("a", at(1), {})]) == PodSnapshot("a", at(1), {})
    assert select_pod([]) is None


# -- conditions and statistics --------------------------------------------------------------------


def test_conditions_say_node_images_and_page_cache() -> None:
    target = Target("llama", FLUID_METHOD, "llama.models.example.com")
    on_new_node = ColdStart(**{**FLUID.__dict__, "scale_up": True, "image_cached": False, "pulling": 2})
    fluid = measured(target, (on_new_node, 150.0), (FLUID, 50.0), (ColdStart(node="gpu-node-2"), 55.0))
    baseline = breakdown_of(WARM_BASELINE, 115.0)

    assert [r.conditions for r in fluid.runs] == [
        Conditions("new", "pulled", "cold"), Conditions("existing", "cached", "warm"),
        Conditions("existing", "cached", "unknown"),
    ]
    assert baseline.conditions == Conditions("existing", "cached", None)  # it downloads every time
    assert baseline.conditions.label == "existing node, images cached"
    assert fluid.runs[1].conditions.label == "existing node, images cached, page cache warm"
    assert baseline.conditions.comparable(fluid.runs[1].conditions)
    assert not baseline.conditions.comparable(fluid.runs[0].conditions)


def test_summary_min_median_max() -> None:
    assert Summary.of([50.0, 48.0, 61.0]) == Summary(min=48.0, median=50.0, max=61.0, count=3)
    assert Summary.of([10.0, 20.0]).median == 15.0
    with pytest.raises(ValueError):
        Summary.of([])


def test_summarize_per_phase_counts_skips_and_ignores_unobserved() -> None:
    target = Target("llama", FLUID_METHOD, "llama.models.example.com")
    cold_node = ColdStart(created=1, scheduled=61, initialized=61, pulled=62, started=63, ready=100, scale_up=True)
    result = measured(target, (FLUID, 50.0), (cold_node, 104.0), (FLUID, 52.0))
    result.attempts.append(compute_breakdown(FLUID.pod("p", T0), [], T0, 49.0))  # events expired

    summary = summarize(result.runs)

    assert summary.total == Summary(min=49.0, median=51.0, max=104.0, count=4)
    node = summary.phases[1]
    assert (node.id, node.skipped_runs, node.seconds) == ("node", 3, Summary(1.0, 1.0, 60.0, 4))
    image = summary.phases[5]
    assert (image.id, image.skipped_runs, image.seconds.count if image.seconds else 0) == ("image", 3, 3)


def test_groups_split_runs_by_conditions_and_keep_run_numbers() -> None:
    fluid = measured(FLUID_TARGET, (ColdStart(node="gpu-node-2"), 58.0), (FLUID, 50.0), (FLUID, 52.0), (FLUID, 51.0))
    fluid.attempts.insert(1, FailedRun(T0, 1.0, "HTTP 503"))

    found = groups([fluid])

    # The first runs on gpu-node-2 and gpu-node-1 began in the same state; run 2 failed.
    assert [(g.conditions.page_cache, g.numbers) for g in found] == [("unknown", (1, 3)), ("warm", (4, 5))]
    assert found[1].median_run.total_seconds == 51.0  # a real run: the lower middle of 52 and 51


# -- reports --------------------------------------------------------------------------------------

FLUID_TARGET = Target("llama", FLUID_METHOD, "llama.models.example.com")
BASELINE_TARGET = Target("llama-baseline", BASELINE_METHOD, "llama-baseline.models.example.com")


def published_like_results() -> list[TargetResult]:
    """The published table's shape: the baseline on a new node, Fluid on a node already up."""
    fluid = measured(FLUID_TARGET, (FLUID, 50.0), (FLUID, 48.5), (ColdStart(ready=50), 55.0), offset=0.4)
    baseline = measured(BASELINE_TARGET, (BASELINE, 265.0), (BASELINE, 270.0), (BASELINE, 262.0), offset=0.4)
    return [fluid, baseline]


def mixed_results() -> list[TargetResult]:
    """One baseline run on a new node, two on the node it left up; Fluid on that node throughout."""
    baseline = measured(BASELINE_TARGET, (BASELINE, 265.0), (WARM_BASELINE, 115.0), (WARM_BASELINE, 113.0))
    fluid = measured(FLUID_TARGET, (FLUID, 50.0), (FLUID, 44.0), (FLUID, 42.0))
    return [fluid, baseline]


def test_comparison_table_prints_the_state_beside_each_figure() -> None:
    lines = report.comparison_table("llama-31-8b", mixed_results()).splitlines()

    assert lines[:5] == [
        "Model       | Method                     | Node     | Images | Page cache | Runs (#)   | Cold start (s)  min / median / max",
        "llama-31-8b | KServe storage initializer | new      | pulled | -          | 1 (#1)     | 265.0 / 265.0 / 265.0",
        "llama-31-8b | KServe storage initializer | existing | cached | -          | 2 (#2, #3) | 113.0 / 114.0 / 115.0",
        "llama-31-8b | Fluid cache                | existing | cached | unknown    | 1 (#1)     | 50.0 / 50.0 / 50.0",
        "llama-31-8b | Fluid cache                | existing | cached | warm       | 2 (#2, #3) | 42.0 / 43.0 / 44.0",
    ]


def test_ratio_only_between_groups_in_the_same_state() -> None:
    # Review A3: the ratio comes only from groups that began in the same node and image state.
    text = report.comparison_table("llama-31-8b", mixed_results())

    assert "Like with like (same node and image state):" in text
    assert (
        "  existing node, images cached: Fluid cache (page cache warm) is 2.7x faster than KServe storage "
        "initializer (median 43.0 s vs 114.0 s; 2 vs 2 run(s))"
    ) in text
    assert (
        "Not compared (no run of the other method in that state): KServe storage initializer on new node, "
        "images pulled (1 run(s))"
    ) in text
    assert "5.3x" not in text and "265.0 s)" not in text


def test_no_ratio_between_runs_in_different_states() -> None:
    # Review A3: the published-shape comparison (new node vs node already up) gets no headline.
    text = report.comparison_table("llama-31-8b", published_like_results())

    assert "faster" not in text
    assert "No speed-up is given: the two methods never started from the same node and image state" in text
    assert text.splitlines()[-2] == (
        "Published (Llama-3.1-8B, AWS g5.8xlarge): KServe storage initializer 265 s, Fluid cache 50 s; the node and "
        "image state of those runs is not known."
    )


def test_comparison_table_with_only_the_fluid_service() -> None:
    text = report.comparison_table("bloom-560m", [measured(FLUID_TARGET, (FLUID, 8.5))])

    assert text.splitlines()[1] == "bloom-560m | Fluid cache | existing | cached | unknown    | 1 (#1)   | 8.5 / 8.5 / 8.5"
    assert "faster" not in text and "No speed-up" not in text
    assert "Published (bloom-560m, Alibaba Cloud): KServe storage initializer 58 s, Fluid cache 8.5 s" in text


def test_phase_table_shows_medians_skips_and_the_clock_caveat() -> None:
    lines = report.phase_table(published_like_results()).splitlines()

    cells = [[c.strip() for c in line.split(" | ")] for line in lines[:5]]
    assert cells[0] == ["Phase (s): median (min-max)", BASELINE_METHOD, FLUID_METHOD, FLUID_METHOD]
    assert cells[1][1:] == ["new node", "existing node", "existing node"]
    assert cells[3][1:] == ["", "page cache unknown", "page cache warm"]
    assert cells[4][1:] == ["3 run(s): 1, 2, 3", "1 run(s): 1", "2 run(s): 2, 3"]
    rows = {line.split(" | ")[0].strip(): [c.strip() for c in line.split(" | ")[1:]] for line in lines[5:15]}
    assert "Crash + restart" not in rows  # no run restarted: no row
    assert rows["Node provisioning + scheduling"] == ["120.0", "skipped (1.0)", "skipped (1.0)"]
    assert rows["Model download (storage-initializer)"] == ["69.0", "skipped", "skipped"]
    assert rows["Model load until Ready"] == ["28.0", "41.0", "43.5 (41.0-46.0)"]
    assert rows["Total"] == ["265.0 (262.0-270.0)", "50.0", "51.8 (48.5-55.0)"]
    assert (
        "  Fluid cache [existing node, images cached, page cache warm] / Model-server image pull: image cached on node"
        " - skipped in 2/2 runs"
    ) in lines
    assert "client/API server median +0.4 s; node clocks within 2 s of it" in lines[-1]


def test_a_spread_that_rounds_to_one_value_is_one_value() -> None:
    # Review A12: "6.0 (6.0-6.0)" next to "2.0".
    assert report._spread(Summary(5.98, 6.0, 6.02, 3), compact=True) == "6.0"
    assert report._spread(Summary(5.9, 6.0, 6.2, 3), compact=True) == "6.0 (5.9-6.2)"


def test_json_lets_a_reader_recompute_every_phase(tmp_path: Path) -> None:
    # Review A11: each figure with the raw timestamps behind it, their clock and source, and the node.
    skewed = compute_breakdown(
        BASELINE.pod("p", T0, node_skew=-4), BASELINE.events(T0, node_skew=-4), T0 + timedelta(seconds=-0.4), 265.4,
        0.4, node=NodeInfo("gpu-node-1", at(112), "g5.8xlarge"),
    )
    path = tmp_path / "coldstart.json"
    report.write_json(path, report.report_json(plan(), [TargetResult(FLUID_TARGET, [skewed])], T0))
    (run,) = json.loads(path.read_text())["results"][0]["runs"]

    assert run["node"] == {"name": "gpu-node-1", "instance_type": "g5.8xlarge", "created": "2025-03-01T12:01:52+00:00"}
    assert run["image"] == "vllm/vllm-openai:v0.8.5" and run["request_started"] == "2025-03-01T11:59:59.600000+00:00"
    started = (T0 + timedelta(seconds=-0.4)).timestamp()
    previous = 0.0
    for milestone, phase in zip(run["milestones"], [p for p in run["phases"] if p["id"] not in ("restart", "response")],
                                strict=True):
        assert milestone["ends_phase"] == phase["id"]
        node_offset = run["node_clock"]["applied_seconds"] if milestone["clock"] == "node" else 0.0
        recorded = datetime_of(milestone["time"]).timestamp()
        assert milestone["seconds_after_request"] == pytest.approx(
            recorded - started - run["clock_offset_seconds"] - node_offset, abs=1e-3
        )
        assert phase["seconds"] == pytest.approx(milestone["placed_at_seconds"] - previous, abs=1e-3)
        previous = milestone["placed_at_seconds"]
    assert {m["clock"] for m in run["milestones"]} == {"api-server", "node"}
    assert run["milestones"][0]["source"] == "pod metadata.creationTimestamp"
    assert run["milestones"][5]["source"] == "event Pulled spec.containers{kserve-container} (kubelet)"
    assert {e["reason"] for e in run["events"]} >= {"TriggeredScaleUp", "Pulling", "Pulled", "Started"}
    assert run["conditions"] == {"node": "new", "images": "pulled", "page_cache": None}


def datetime_of(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_failed_runs_are_in_the_table_and_the_json(tmp_path: Path) -> None:
    # Review A7: a failed attempt is reported, not silently dropped.
    fluid = measured(FLUID_TARGET, (FLUID, 50.0))
    fluid.attempts.append(FailedRun(T0, 1.2, "gateway answered HTTP 503 Service Unavailable: no healthy upstream"))
    text = report.comparison_table("llama-31-8b", [fluid])
    data = report.report_json(plan(), [fluid], T0)

    assert "Fluid cache run 2 failed: gateway answered HTTP 503 Service Unavailable: no healthy upstream" in text
    assert data["results"][0]["runs"][1] == {
        "run": 2, "status": "failed", "request_started": T0.isoformat(), "seconds": 1.2, "pod": None,
        "error": "gateway answered HTTP 503 Service Unavailable: no healthy upstream",
    }


def test_chart_draws_each_group_in_time_order_with_the_published_marks() -> None:
    # Review A5: segments in the order they happened, bars as long as their label, reference marks.
    from matplotlib import pyplot
    from matplotlib.collections import LineCollection
    from matplotlib.container import BarContainer

    results = mixed_results()
    figure = chart.draw(plan(), results, T0)
    try:
        (axes,) = figure.axes
        bars = [
            (round(p.get_y() + p.get_height() / 2), p.get_x(), p.get_width(), c.get_label())
            for c in axes.containers if isinstance(c, BarContainer) for p in c
        ]
        marks = [seg for c in axes.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
        texts = [t.get_text() for t in axes.texts]
        title = axes.get_title()
    finally:
        pyplot.close(figure)

    first = [b for b in bars if b[0] == 0]  # the baseline's new-node run, top row
    assert [round(b[1], 6) for b in first] == sorted(round(b[1], 6) for b in first)
    expected = [p.name for p in results[1].runs[0].phases if p.seconds]
    assert [b[3] for b in first] == expected  # legend labels, in time order
    assert first[-1][1] + first[-1][2] == pytest.approx(265.0)
    assert {"265.0 s (run 1)", "113.0 s (run 3; median of 2: 114.0 s, 113-115)"} <= set(texts)
    assert sorted({round(seg[0][0]) for seg in marks if seg[0][0] == seg[1][0]}) == [50, 265]
    assert {"published 265 s", "published 50 s"} <= set(texts)
    assert "2025-03-01 12:00 UTC in namespace models via 127.0.0.1, 6 run(s)" in title


def test_png_chart_is_written(tmp_path: Path) -> None:
    path = tmp_path / "coldstart.png"
    chart.write_png(path, plan(), published_like_results(), T0)

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 600 and height > 150 and len(data) > 5000
# -- the HTTP request ---------------------------------------------------------------------------


def endpoint_for(server: FakeEndpoint, host: str = "llama.models.example.com") -> Endpoint:
    return Endpoint("127.0.0.1", server.port, host)


def test_request_sends_openai_body_with_host_header() -> None:
    with FakeEndpoint() as server:
        result = post_completion(endpoint_for(server), "llama-31-8b", "Kubernetes is", 8, timeout=5)

    assert result.status == 200 and 0 <= result.seconds < 5
    (received,) = server.received
    assert received.path == "/openai/v1/completions"
    assert received.headers["Host"] == "llama.models.example.com"
    assert received.body == {"model": "llama-31-8b", "prompt": "Kubernetes is", "max_tokens": 8}


def test_request_time_covers_a_slow_response() -> None:
    with FakeEndpoint(Reply(delay=0.3)) as server:
        result = post_completion(endpoint_for(server), "m", "p", 1, timeout=5)

    assert 0.3 <= result.seconds < 2


def test_503_names_url_host_status_and_body() -> None:
    body = b'{"error": "no healthy upstream"}'
    with FakeEndpoint(Reply(status=503, body=body)) as server, pytest.raises(EndpointError) as error:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5)

    assert str(error.value) == (
        f"http://127.0.0.1:{server.port}/openai/v1/completions (Host: llama.models.example.com) answered "
        'HTTP 503 Service Unavailable: {"error": "no healthy upstream"}'
    )
    assert error.value.exit_code == 1


def test_5xx_and_timeouts_are_worth_another_cold_start_4xx_is_not() -> None:
    # Review A7: the benchmark goes on after a failure the next cold start may not repeat.
    with FakeEndpoint(Reply(status=503), Reply(status=404), Reply(delay=1.0)) as server:
        failures = []
        for timeout in (5, 5, 0.2):
            with pytest.raises(EndpointError) as error:
                post_completion(endpoint_for(server), "m", "p", 1, timeout=timeout)
            failures.append(error.value.transient)

    assert failures == [True, False, True]


def test_a_connection_closed_after_a_long_wait_points_at_an_idle_timeout() -> None:
    # Review A4/A7: an AWS Classic ELB closes a request held by the activator after 60 s.
    ticks = iter([100.0, 161.0])
    with FakeEndpoint(Reply(close=True)) as server, pytest.raises(EndpointError) as late:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5, monotonic=lambda: next(ticks))
    with FakeEndpoint(Reply(close=True)) as server, pytest.raises(EndpointError) as early:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5)

    message = str(late.value)
    assert message.startswith("http://127.0.0.1:") and "(Host: llama.models.example.com) closed" in message
    assert "closed the connection after 61 s without a complete response" in message
    assert "idle timeout" in message and "AWS Classic ELB: 60 s by default" in message
    assert "Check the ingress address" not in message and late.value.transient
    assert "The gateway or the model server dropped it" in str(early.value)


def test_404_hints_at_the_host_header() -> None:
    with FakeEndpoint(Reply(status=404, body=b"")) as server, pytest.raises(EndpointError) as error:
        post_completion(endpoint_for(server, "wrong.example.com"), "m", "p", 1, timeout=5)

    assert "(Host: wrong.example.com) answered HTTP 404 Not Found" in str(error.value)
    assert "Host header does not match" in str(error.value)
    assert str(error.value).endswith("(empty body)")


def test_timeout_is_bounded_and_explained() -> None:
    with FakeEndpoint(Reply(delay=1.0)) as server, pytest.raises(EndpointError) as error:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=0.2)

    assert f"no response from http://127.0.0.1:{server.port}/openai/v1/completions" in str(error.value)
    assert "within 0.2 s" in str(error.value) and "--timeout" in str(error.value)


def test_unreachable_endpoint_names_url_and_host() -> None:
    with free_port() as port, pytest.raises(EndpointError) as error:
        post_completion(Endpoint("127.0.0.1", port, "llama.models.example.com"), "m", "p", 1, timeout=2)

    message = str(error.value)
    assert message.startswith(
        f"cannot reach the inference endpoint http://127.0.0.1:{port}/openai/v1/completions "
        "(Host: llama.models.example.com): "
    )
    assert "refused" in message.lower()


# -- HTTPS through the gateway, and the bearer token ---------------------------------------------
MODEL_HOST = "model.test"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb2xkc3RhcnQifQ.c2lnbmF0dXJl"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    hosts = (MODEL_HOST, "llama.models.example.com", "llama-baseline.models.example.com")
    return make_tls_files(tmp_path_factory.mktemp("tls"), *hosts)


def https_endpoint(server: FakeEndpoint, host: str = MODEL_HOST) -> Endpoint:
    return Endpoint("127.0.0.1", server.port, host, "https")


def test_https_dials_the_gateway_but_verifies_the_model_host(tls_files: TlsFiles) -> None:
    with FakeEndpoint(tls=tls_files.server_context()) as server:
        result = post_completion(https_endpoint(server), "m", "p", 1, timeout=5, tls=tls_context(ca_file=tls_files.ca))

    assert result.status == 200
    # model.test does not resolve: the request can only have reached the server through 127.0.0.1
    assert server.server_names == [MODEL_HOST]
    assert server.received[0].headers["Host"] == MODEL_HOST
    assert https_endpoint(server).description == (
        f"https://model.test:{server.port}/openai/v1/completions (via 127.0.0.1:{server.port})"
    )
    assert Endpoint("10.0.0.5", 443, MODEL_HOST, "https").url == "https://model.test/openai/v1/completions"


def test_https_without_the_private_ca_fails_with_a_hint(tls_files: TlsFiles) -> None:
    with FakeEndpoint(tls=tls_files.server_context()) as server, pytest.raises(EndpointError) as error:
        post_completion(https_endpoint(server), "m", "p", 1, timeout=5)  # the system's CAs only

    message = str(error.value)
    assert message.startswith(f"TLS verification failed for host model.test on gateway 127.0.0.1:{server.port}: ")
    assert "pass --ca-file CA.pem" in message and "pass --insecure" in message
    assert error.value.exit_code == 1 and server.received == []


def test_https_checks_the_certificate_against_the_host_header(tls_files: TlsFiles) -> None:
    with FakeEndpoint(tls=tls_files.server_context()) as server, pytest.raises(EndpointError) as error:
        post_completion(https_endpoint(server, "other.test"), "m", "p", 1, timeout=5,
                        tls=tls_context(ca_file=tls_files.ca))

    assert "for host other.test" in str(error.value) and "Hostname mismatch" in str(error.value)
    assert server.received == []


def test_insecure_skips_verification_but_still_sends_the_host_name(tls_files: TlsFiles) -> None:
    with FakeEndpoint(tls=tls_files.server_context()) as server:
        result = post_completion(https_endpoint(server, "other.test"), "m", "p", 1, timeout=5,
                                 tls=tls_context(insecure=True))

    assert result.status == 200
    assert server.server_names == ["other.test"] and server.received[0].headers["Host"] == "other.test"


def test_https_to_a_plain_http_port_explains_the_handshake_failure() -> None:
    with FakeEndpoint() as server, pytest.raises(EndpointError) as error:
        post_completion(https_endpoint(server), "m", "p", 1, timeout=5, tls=tls_context(insecure=True))

    assert str(error.value).startswith(f"TLS handshake for https://model.test:{server.port}/openai/v1/completions")
    assert "--scheme http for a plain-http gateway" in str(error.value)


def test_unusable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--ca-file .*missing\.pem: cannot read it \(No such file"):
        tls_context(ca_file=tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a PEM CA certificate"):
        tls_context(ca_file=tmp_path / "junk.pem")


def test_bearer_token_is_sent_and_kept_out_of_reprs() -> None:
    credentials = Credentials("TOKEN", JWT)
    with FakeEndpoint() as server:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5, credentials=credentials)

    assert server.received[0].headers["Authorization"] == f"Bearer {JWT}"
    assert JWT not in repr(credentials) and JWT not in repr(plan(credentials=credentials))


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_hints_at_expiry_and_issuer_without_showing_it(status: int) -> None:
    body = f"Jwt verification fails for {JWT}".encode()  # a gateway echoing what it refused
    with FakeEndpoint(Reply(status=status, body=body)) as server, pytest.raises(EndpointError) as error:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5, credentials=Credentials("PROD_JWT", JWT))

    message = str(error.value)
    assert f"(Host: llama.models.example.com) answered HTTP {status} " in message
    assert "the bearer token from $PROD_JWT was refused: it may be expired, issued by another issuer" in message
    assert JWT not in message and message.endswith("Jwt verification fails for <token>")


def test_401_without_a_token_says_how_to_send_one(tls_files: TlsFiles) -> None:
    with FakeEndpoint(Reply(status=401, body=b"Jwt is missing")) as server, pytest.raises(EndpointError) as plain:
        post_completion(endpoint_for(server), "m", "p", 1, timeout=5)
    with FakeEndpoint(Reply(status=401, body=b""), tls=tls_files.server_context()) as server, \
            pytest.raises(EndpointError) as tls:
        post_completion(https_endpoint(server), "m", "p", 1, timeout=5, tls=tls_context(ca_file=tls_files.ca))

    assert str(plain.value).endswith(
        "answered HTTP 401 Unauthorized (no bearer token was sent: export TOKEN=<JWT from the endpoint's issuer>; "
        "over plain http the token is only sent when asked for, so also pass --token-env TOKEN): Jwt is missing"
    )
    assert "(no bearer token was sent: export TOKEN=<JWT from the endpoint's issuer>): (empty body)" in str(tls.value)


@pytest.mark.parametrize(
    ("value", "scheme", "expected"),
    [
        ("a1b2.elb.amazonaws.com", "http", ("http", "a1b2.elb.amazonaws.com", 80)),
        ("a1b2.elb.amazonaws.com", "https", ("https", "a1b2.elb.amazonaws.com", 443)),
        ("10.0.0.5:8080", "https", ("https", "10.0.0.5", 8080)),
        ("http://gw.example.com:31380/", "https", ("http", "gw.example.com", 31380)),
        ("https://gw.example.com", "http", ("https", "gw.example.com", 443)),
        ("[::1]:8080", "http", ("http", "::1", 8080)),
    ],
)
def test_parse_ingress(value: str, scheme: str, expected: tuple[str, str, int]) -> None:
    assert parse_ingress(value, scheme) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://gw.example.com", "unsupported scheme 'ftp'; use http or https"),
        ("gw:notaport", "invalid port"),
        ("  ", "ingress address is empty"),
    ],
)
def test_parse_ingress_rejects(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_ingress(value)


# -- configuration --------------------------------------------------------------------------------


def test_plan_from_stack_outputs_measures_fluid_and_baseline() -> None:
    built = build_plan(STACK_OUTPUTS, flags("--stack", "aws-dev"))

    assert built.targets == (
        Target("llama", FLUID_METHOD, "llama.models.example.com"),
        Target("llama-baseline", BASELINE_METHOD, "llama-baseline.models.example.com"),
    )
    assert (built.namespace, built.model_name) == ("models", "llama-31-8b")
    assert (built.ingress_address, built.ingress_port) == ("a1b2.elb.us-west-2.amazonaws.com", 80)
    assert (built.scale_to_zero_seconds, built.zero_timeout) == (90, 390)
    assert (built.request_timeout, built.runs, built.max_tokens, built.poll_interval) == (1800.0, 3, 16, 5.0)


def test_plan_without_baseline_and_with_overrides() -> None:
    outputs = {**STACK_OUTPUTS, "baselineInferenceService": None, "baselineModelHost": None}
    built = build_plan(outputs, flags("--stack", "aws-dev", "--ingress", "localhost:8080", "--zero-timeout", "10",
                                      "--runs", "5"))

    assert [t.isvc for t in built.targets] == ["llama"]
    assert (built.ingress_address, built.ingress_port, built.zero_timeout, built.runs) == ("localhost", 8080, 10, 5)


def test_scale_to_zero_seconds_prefers_the_new_output_name() -> None:
    old = {k: v for k, v in STACK_OUTPUTS.items() if k != "scaleToZeroSeconds"}

    assert build_plan({**old, "scaleToZeroGraceSeconds": 180}, flags()).scale_to_zero_seconds == 180
    both = {**old, "scaleToZeroGraceSeconds": 180, "scaleToZeroSeconds": 240}
    assert build_plan(both, flags()).scale_to_zero_seconds == 240
    assert build_plan(both, flags("--scale-to-zero-seconds", "30")).scale_to_zero_seconds == 30
    with pytest.raises(ConfigError, match="stack output 'scaleToZeroSeconds'. must be whole seconds >= 0, got '3m'"):
        build_plan({**old, "scaleToZeroSeconds": "3m"}, flags())


def test_zero_timeout_0_allows_a_single_cold_start_only() -> None:
    # Review A12: 0 does not wait, so a second cold start would find the first one's pod still up.
    single = build_plan(STACK_OUTPUTS, flags("--zero-timeout", "0", "--runs", "1", "--isvc", "llama"))
    with pytest.raises(ConfigError) as error:
        build_plan(STACK_OUTPUTS, flags("--zero-timeout", "0", "--runs", "1"))

    assert single.zero_timeout == 0
    assert str(error.value).startswith("--zero-timeout 0 does not wait, so it allows one cold start only")
    assert "the default waits up to 390 s" in str(error.value)


def test_explicit_flags_derive_the_baseline_host_from_kserve_naming() -> None:
    built = build_plan(None, flags("--namespace", "ml", "--isvc", "bloom", "--isvc", "bloom-si", "--ingress",
                                   "1.2.3.4", "--host-header", "bloom.ml.example.org", "--model-name", "bloom-560m"))

    assert [t.host_header for t in built.targets] == ["bloom.ml.example.org", "bloom-si.ml.example.org"]
    assert built.scale_to_zero_seconds == 90


def test_config_errors_name_what_is_missing() -> None:
    with pytest.raises(ConfigError) as no_flags:
        build_plan(None, flags("--namespace", "ml"))
    with pytest.raises(ConfigError) as old_stack:
        build_plan({"namespace": "models", "inferenceService": "llama", "modelHost": "h"}, flags("--stack", "aws-dev"))
    with pytest.raises(ConfigError) as no_host:
        build_plan(None, flags("--namespace", "ml", "--isvc", "a", "--isvc", "b", "--ingress", "gw",
                               "--host-header", "custom.host", "--model-name", "m"))
    with pytest.raises(ConfigError, match="at most two"):
        build_plan(STACK_OUTPUTS, flags("--isvc", "a", "--isvc", "b", "--isvc", "c"))
    with pytest.raises(ConfigError, match="--runs must be positive, got 0"):
        build_plan(STACK_OUTPUTS, flags("--runs", "0"))

    assert str(no_flags.value) == (
        "missing --model-name, --ingress, --isvc: pass --stack NAME to read them from the Pulumi stack outputs, "
        "or give these flags"
    )
    assert str(old_stack.value).startswith(
        "stack 'aws-dev' has no value for output(s) modelName, ingressAddress: pass --model-name, --ingress"
    )
    assert str(no_host.value) == (
        "no Host header for InferenceService 'b': pass --host-header for it (kubectl get isvc b shows its URL)"
    )
    assert no_flags.value.exit_code == 2


PROD_OUTPUTS = {**STACK_OUTPUTS, "endpointScheme": "https", "endpointAuth": "jwt"}


def test_prod_stack_plans_https_with_the_token() -> None:
    built = build_plan(PROD_OUTPUTS, flags("--stack", "aws-prod"), {"TOKEN": f"{JWT}\n"})  # TOKEN=$(cat jwt.txt)

    assert (built.scheme, built.ingress_port) == ("https", 443)
    assert built.credentials == Credentials("TOKEN", JWT)
    assert build_plan(PROD_OUTPUTS, flags("--scheme", "http"), {"TOKEN": JWT}).ingress_port == 80


def test_jwt_stack_without_a_token_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        build_plan(PROD_OUTPUTS, flags("--stack", "aws-prod", "--token-env", "PROD_JWT"), {"PROD_JWT": "  "})

    assert str(error.value) == (
        "stack 'aws-prod' serves the model with JWT auth (endpointAuth 'jwt') but $PROD_JWT is empty: "
        "export PROD_JWT=<JWT from the endpoint's issuer>, or name another variable with --token-env"
    )
    assert error.value.exit_code == 2


def test_token_goes_over_plain_http_only_when_asked_for() -> None:
    def sent(outputs: dict[str, Any], *argv: str) -> str:
        return build_plan(outputs, flags(*argv), {"TOKEN": JWT}).credentials.token

    assert sent(STACK_OUTPUTS) == ""  # a $TOKEN meant for something else stays here
    assert sent(STACK_OUTPUTS, "--token-env", "TOKEN") == JWT
    assert sent({**STACK_OUTPUTS, "endpointAuth": "jwt"}) == JWT
    assert sent(STACK_OUTPUTS, "--scheme", "https") == JWT


def test_scheme_and_token_problems_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--scheme https contradicts the ingress address 'http://gw'"):
        build_plan(STACK_OUTPUTS, flags("--scheme", "https", "--ingress", "http://gw"))
    with pytest.raises(ConfigError, match="'endpointScheme' should be 'http' or 'https', got 'grpc'"):
        build_plan({**STACK_OUTPUTS, "endpointScheme": "grpc"}, flags())
    with pytest.raises(ConfigError) as bad_token:
        build_plan(PROD_OUTPUTS, flags(), {"TOKEN": "eyJ.first\neyJ.second"})

    assert str(bad_token.value) == "$TOKEN does not hold a single JWT: it contains whitespace or control characters"


def test_stack_outputs_are_read_without_decrypting_secrets() -> None:
    # Review A12: no output the tool uses is secret, so it does not ask for the kubeconfig in clear.
    calls: list[list[str]] = []

    def fake_pulumi(argv: Any) -> str:
        calls.append(list(argv))
        return json.dumps(STACK_OUTPUTS)

    assert read_stack_outputs("aws-dev", fake_pulumi) == STACK_OUTPUTS
    assert calls == [["pulumi", "stack", "output", "--json", "-s", "aws-dev"]]
    with pytest.raises(ConfigError, match="did not print JSON"):
        read_stack_outputs("aws-dev", lambda argv: "warning: stack not found")


def test_run_command_failures_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="'no-such-pulumi-binary' is not on PATH"):
        run_command(["no-such-pulumi-binary", "stack", "output"])
    script = "import sys; sys.stderr.write('error: no stack named aws-dev found\\n'); sys.exit(255)"
    with pytest.raises(ConfigError, match="failed with exit code 255: error: no stack named aws-dev found"):
        run_command([sys.executable, "-c", script])
    assert run_command([sys.executable, "-c", "print('{}')"]) == "{}\n"


# -- the measurement loop -----------------------------------------------------------------------


def test_wait_for_zero_polls_until_the_pods_are_gone() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID}, initial_pods={"llama": 3})
    logs: list[str] = []

    waited = wait_for_zero(plan(targets=plan().targets[:1]), cluster, clock, logs.append)

    assert waited == 15.0 and clock.sleeps == [5.0, 5.0, 5.0]
    assert logs == [
        "  waiting for scale to zero: llama still has 1 pod(s) (llama-warm). Knative removes idle pods about 90 s "
        "after the last request (giving up after 390 s)"
    ]


def test_wait_for_zero_gives_up_with_a_hint() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID}, initial_pods={"llama": None})
    single = plan(targets=plan().targets[:1])

    with pytest.raises(MeasurementError) as error:
        wait_for_zero(replace_plan(single, zero_timeout=12), cluster, clock, lambda _: None)
    with pytest.raises(MeasurementError) as check_only:
        wait_for_zero(replace_plan(single, zero_timeout=0), cluster, clock, lambda _: None)

    assert clock.sleeps == [5.0, 5.0, 2.0]  # the last sleep stops at the deadline
    assert str(error.value) == (
        "llama still has 1 pod(s) (llama-warm) after waiting 12 s. Knative scales an idle InferenceService "
        "to zero about 90 s after its last request, and every cold start waits until all measured "
        "InferenceServices are at zero: stop any other traffic to them and retry (--zero-timeout sets how long to wait)"
    )
    assert "after waiting 0 s" in str(check_only.value)


def replace_plan(base: Plan, **changes: Any) -> Plan:
    from dataclasses import replace

    return replace(base, **changes)


def test_wait_for_zero_ignores_evicted_pods() -> None:
    # Review A10: an Evicted predictor pod stays listed for ever but holds no GPU.
    evicted = PodSnapshot("llama-predictor-old", at(-3600), {}, component="predictor", phase="Failed", reason="Evicted")
    cluster = FakeCluster({"llama": FLUID}, leftovers={"llama": [evicted]})
    logs: list[str] = []

    waited = wait_for_zero(replace_plan(plan(targets=plan().targets[:1]), zero_timeout=0), cluster, FakeClock(),
                           logs.append)

    assert waited is None
    assert logs == ["  ignoring pod llama-predictor-old (Failed: Evicted): it will not run again and holds no GPU"]


def test_each_cold_start_waits_until_every_service_is_at_zero() -> None:
    # Review A2: with one GPU, the baseline's request must not arrive while Fluid's pod holds it.
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID, "llama-baseline": BASELINE}, busy_polls=3)
    send = FakeSender(cluster, clock, {"llama": 50.0, "llama-baseline": 265.0})
    results = [TargetResult(t) for t in plan().targets]
    logs: list[str] = []

    run_benchmark(plan(runs=2), results, cluster, clock, send, logs.append)

    assert cluster.contended == []
    assert [e.host_header.split(".")[0] for e in send.endpoints] == ["llama", "llama-baseline"] * 2
    assert logs[1:4] == [
        "  POST http://127.0.0.1:80/openai/v1/completions (Host: llama.models.example.com)",
        "  cold start 50.0 s on pod llama-predictor-00001, node gpu-node-1 (existing node, images cached, page "
        "cache unknown)",
        "run 1/2 - KServe storage initializer (llama-baseline):",
    ]
    assert logs[4].startswith("  waiting for scale to zero: llama still has 1 pod(s) (llama-predictor-00001).")
    assert logs[5] == "  scaled to zero after 15 s"


def test_no_scaled_to_zero_line_when_nothing_was_waited_for() -> None:
    # Review A12: "scaled to zero after 0 s" was printed whenever the API call itself took time.
    class TickingClock(FakeClock):
        def monotonic(self) -> float:
            self.mono += 0.2  # every look at the clock takes a moment, as with a real API server
            return self.mono

    clock = TickingClock()
    cluster = FakeCluster({"llama": FLUID})
    single = plan(targets=plan().targets[:1])
    logs: list[str] = []

    send = FakeSender(cluster, clock, {"llama": 50.0})
    run_benchmark(single, [TargetResult(single.targets[0])], cluster, clock, send, logs.append)

    assert not any("scaled to zero" in line for line in logs)


def test_benchmark_alternates_services_and_measures_each_run() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID, "llama-baseline": BASELINE}, skew=3.0, busy_polls=2, ready_after_polls=1)
    send = FakeSender(cluster, clock, {"llama": 50.0, "llama-baseline": 265.0})
    results = [TargetResult(t) for t in plan().targets]
    logs: list[str] = []

    run_benchmark(plan(runs=2), results, cluster, clock, send, logs.append)

    fluid, baseline = results
    assert [r.total_seconds for r in fluid.runs] == [50.0, 50.0]
    assert [r.pod for r in baseline.runs] == ["llama-baseline-predictor-00001", "llama-baseline-predictor-00002"]
    # The 3 s server skew is measured and removed, so the phases match the script exactly.
    assert phase_seconds(baseline.runs[1])["download"] == 69 and baseline.runs[1].notes == ()
    assert [r.conditions.page_cache for r in fluid.runs] == ["unknown", "warm"]  # same node the second time
    assert [r.node_name for r in baseline.runs] == ["gpu-node-1", "gpu-node-1"]
    assert cluster.calls[:3] == ["clock_offset", "get_isvc llama", "get_isvc llama-baseline"]


def test_a_transient_failure_is_recorded_and_the_benchmark_goes_on() -> None:
    # Review A7: one 503 used to end the whole benchmark and vanish from the JSON.
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID})
    error = EndpointError("gateway answered HTTP 503 Service Unavailable: upstream connect error", transient=True)
    send = FakeSender(cluster, clock, {"llama": [50.0, error, 52.0]})
    single = plan(targets=plan().targets[:1], runs=3)
    result = TargetResult(single.targets[0])
    logs: list[str] = []

    run_benchmark(single, [result], cluster, clock, send, logs.append)

    assert [type(a).__name__ for a in result.attempts] == ["Breakdown", "FailedRun", "Breakdown"]
    assert result.failures() == [(2, FailedRun(T0 + timedelta(seconds=55), 1.0, str(error)))]
    assert f"  run failed, going on with the next cold start: {error}" in logs


def test_a_4xx_ends_the_benchmark_but_is_recorded() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID})
    error = EndpointError("answered HTTP 404 Not Found", transient=False)
    single = plan(targets=plan().targets[:1], runs=3)
    result = TargetResult(single.targets[0])

    with pytest.raises(EndpointError):
        run_benchmark(single, [result], cluster, clock, FakeSender(cluster, clock, {"llama": [error]}), lambda _: None)

    assert [(n, f.error) for n, f in result.failures()] == [(1, "answered HTTP 404 Not Found")]


def test_a_pod_that_existed_before_the_request_is_recorded_as_not_cold() -> None:
    # Review A9: the pod came up between the check for zero and the request.
    clock = FakeClock()
    raced = ColdStart(created=-20, scheduled=-19, pulled=-18, started=-17, ready=-5)
    cluster = FakeCluster({"llama": [raced, FLUID]})
    single = plan(targets=plan().targets[:1], runs=2)
    result = TargetResult(single.targets[0])
    logs: list[str] = []

    run_benchmark(single, [result], cluster, clock, FakeSender(cluster, clock, {"llama": [1.5, 50.0]}), logs.append)

    ((number, failed),) = result.failures()
    assert (number, failed.pod, failed.seconds) == (1, "llama-predictor-00001", 1.5)
    assert failed.error.startswith("not a cold start: pod llama-predictor-00001 was created 20 s before the request")
    assert [r.total_seconds for r in result.runs] == [50.0]


def never_sent(endpoint: Endpoint) -> CompletionResult:
    raise AssertionError(f"no request should be sent, got one for {endpoint.url}")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"spec": {"predictor": {"minReplicas": 1}}}, "spec.predictor.minReplicas is 1; set it to 0"),
        (
            {"metadata": {"annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}}, "spec": {}},
            "it runs in RawDeployment mode, which has no scale-to-zero (use Serverless/Knative mode)",
        ),
    ],
)
def test_benchmark_refuses_services_that_cannot_scale_to_zero(obj: dict[str, Any], message: str) -> None:
    cluster = FakeCluster({"llama": FLUID}, objects={"llama": obj})
    single = plan(targets=plan().targets[:1])

    with pytest.raises(ConfigError) as error:
        run_benchmark(single, [TargetResult(single.targets[0])], cluster, FakeClock(), never_sent, print)

    assert str(error.value) == f"InferenceService models/llama cannot scale to zero: {message}"


def test_benchmark_reports_a_missing_inference_service() -> None:
    cluster = FakeCluster({"llama": FLUID})

    with pytest.raises(InferenceServiceNotFound) as error:
        run_benchmark(plan(), [TargetResult(t) for t in plan().targets], cluster, FakeClock(), never_sent, print)

    assert str(error.value) == (
        "InferenceService 'llama-baseline' not found in namespace 'models'. "
        "List the existing ones with: kubectl get isvc -n models"
    )
    assert error.value.exit_code == 2


def test_a_response_without_a_pod_is_not_a_cold_start() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID})
    single = plan(targets=plan().targets[:1])
    result = TargetResult(single.targets[0])

    def answered_elsewhere(endpoint: Endpoint) -> CompletionResult:
        clock.advance(0.05)
        return CompletionResult(200, 0.05)

    with pytest.raises(MeasurementError) as error:
        run_benchmark(single, [result], cluster, clock, answered_elsewhere, lambda _: None)

    assert "no pod labelled serving.kserve.io/inferenceservice=llama exists in models" in str(error.value)
    assert "check the Host header 'llama.models.example.com'" in str(error.value)
    assert sum(clock.sleeps) == pytest.approx(30.0)  # the bounded settle wait, in fake time
    assert [f.error for _, f in result.failures()] == [str(error.value)]


# -- the Kubernetes client wrapper, against a loopback API server --------------------------------

PODS_PATH = "/api/v1/namespaces/models/pods"
EVENTS_PATH = "/api/v1/namespaces/models/events"
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/llama"
VERSION = (200, {"major": "1", "minor": "30", "gitVersion": "v1.30.4"})

POD_JSON = {
    "metadata": {
        "name": "llama-predictor-00001-deployment-abc",
        "creationTimestamp": "2025-03-01T12:00:01Z",
        "labels": {"serving.kserve.io/inferenceservice": "llama", "component": "predictor"},
    },
    "spec": {
        "nodeName": "gpu-node-1",
        "initContainers": [{"name": "storage-initializer", "image": "kserve/storage-initializer"}],
        "containers": [{"name": "kserve-container", "image": "vllm"}, {"name": "queue-proxy", "image": "qp"}],
    },
    "status": {
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-03-01T12:00:02Z"},
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2025-03-01T12:01:10Z"},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": "2025-03-01T12:01:12Z"},
            {"type": "Ready", "status": "False", "lastTransitionTime": "2025-03-01T12:01:12Z"},
        ],
        "phase": "Pending",
        "initContainerStatuses": [
            {"name": "storage-initializer", "ready": False, "restartCount": 0, "image": "si", "imageID": "",
             "state": {"terminated": {"exitCode": 0, "startedAt": "2025-03-01T12:00:05Z",
                                      "finishedAt": "2025-03-01T12:01:09Z"}}},
        ],
        "containerStatuses": [
            {"name": "kserve-container", "ready": False, "restartCount": 1, "image": "vllm", "imageID": "",
             "state": {"running": {"startedAt": "2025-03-01T12:01:12Z"}},
             "lastState": {"terminated": {"exitCode": 1, "startedAt": "2025-03-01T12:01:11Z",
                                          "finishedAt": "2025-03-01T12:01:11Z"}}},
            {"name": "queue-proxy", "ready": False, "restartCount": 0, "image": "qp", "imageID": "",
             "state": {"waiting": {"reason": "ContainerCreating"}}},
        ],
    },
}
EVENT_JSON = {
    "metadata": {"name": "llama.1", "namespace": "models"},
    "involvedObject": {"kind": "Pod", "name": "llama-predictor-00001-deployment-abc",
                       "fieldPath": "spec.containers{kserve-container}"},
    "reason": "Pulled",
    "message": 'Container image "vllm" already present on machine',
    "firstTimestamp": "2025-03-01T12:01:11Z",
    "lastTimestamp": "2025-03-01T12:01:11Z",
    "source": {"component": "kubelet", "host": "gpu-node-1"},
}
EVENT_JSON["metadata"] = {**EVENT_JSON["metadata"], "creationTimestamp": "2025-03-01T12:01:15Z"}
NODE_PATH = "/api/v1/nodes/gpu-node-1"
NODE_JSON = {"metadata": {"name": "gpu-node-1", "creationTimestamp": "2025-03-01T11:58:00Z",
                          "labels": {"node.kubernetes.io/instance-type": "g5.8xlarge"}}}


def api_routes(**overrides: tuple[int, Any]) -> dict[str, tuple[int, Any]]:
    routes = {
        "/version": VERSION,
        ISVC_PATH: (200, {"kind": "InferenceService", "metadata": {"name": "llama"}, "spec": {}}),
        PODS_PATH: (200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [POD_JSON]}),
        EVENTS_PATH: (200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": [EVENT_JSON]}),
        NODE_PATH: (200, {"kind": "Node", "apiVersion": "v1", **NODE_JSON}),
    }
    routes.update(overrides)
    return routes


def test_kube_client_converts_pods_and_events(tmp_path: Path) -> None:
    with FakeApiServer(api_routes()) as api:
        cluster = connect(write_kubeconfig(tmp_path / "config", api.url), "fake")
        (pod,) = cluster.list_pods("models", "llama")
        events = cluster.list_pod_events("models", pod.name)
        isvc = cluster.get_inference_service("models", "llama")

    assert pod == PodSnapshot(
        name="llama-predictor-00001-deployment-abc",
        created=at(1),
        conditions={"PodScheduled": at(2), "Initialized": at(70)},  # only conditions that are True
        init_containers=(ContainerInfo("storage-initializer", at(5), finished_at=at(69),
                                       image="kserve/storage-initializer"),),
        containers=(
            ContainerInfo("kserve-container", at(72), restart_count=1, previous_started_at=at(71), image="vllm"),
            ContainerInfo("queue-proxy", None, image="qp"),
        ),
        component="predictor",
        node_name="gpu-node-1",
        phase="Pending",
    )
    assert events == [
        PodEvent("Pulled", 'Container image "vllm" already present on machine', at(71),
                 "spec.containers{kserve-container}", source="kubelet", stored=at(75))
    ]
    assert api.queries[PODS_PATH]["labelSelector"] == ["serving.kserve.io/inferenceservice=llama"]
    assert api.queries[EVENTS_PATH]["fieldSelector"] == [
        "involvedObject.kind=Pod,involvedObject.name=llama-predictor-00001-deployment-abc"
    ]
    assert isvc["metadata"]["name"] == "llama"


def test_kube_reads_the_node_and_does_without_when_forbidden(tmp_path: Path) -> None:
    forbidden = (403, {"kind": "Status", "reason": "Forbidden", "code": 403})
    with FakeApiServer(api_routes()) as api:
        node = connect(write_kubeconfig(tmp_path / "config", api.url), "fake").get_node("gpu-node-1")
    with FakeApiServer(api_routes(**{NODE_PATH: forbidden})) as api:
        hidden = connect(write_kubeconfig(tmp_path / "config", api.url), "fake").get_node("gpu-node-1")

    assert node == NodeInfo("gpu-node-1", at(-120), "g5.8xlarge")
    assert hidden is None  # nodes are cluster-scoped; a namespace admin may not read them


def test_kube_clock_offset_reads_the_api_server_date(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    ahead = datetime.now(UTC) + timedelta(hours=1)
    with FakeApiServer(api_routes(), date=ahead) as api:
        offset = connect(write_kubeconfig(tmp_path / "config", api.url), None).clock_offset()

    assert 3598.5 < offset < 3601.5


def test_kube_not_found_distinguishes_a_missing_service_from_missing_kserve(tmp_path: Path) -> None:
    missing = (404, {"kind": "Status", "reason": "NotFound", "code": 404,
                     "details": {"name": "llama", "group": "serving.kserve.io", "kind": "inferenceservices"}})
    with FakeApiServer(api_routes(**{ISVC_PATH: missing})) as api:
        cluster = connect(write_kubeconfig(tmp_path / "config", api.url), "fake")
        with pytest.raises(InferenceServiceNotFound, match="kubectl get isvc -n models"):
            cluster.get_inference_service("models", "llama")
    with FakeApiServer({"/version": VERSION}) as api:
        cluster = connect(write_kubeconfig(tmp_path / "config", api.url), "fake")
        with pytest.raises(ConfigError) as no_kserve:
            cluster.get_inference_service("models", "llama")

    assert "is KServe installed on this cluster?" in str(no_kserve.value)
    assert f"not served by {api.url}" in str(no_kserve.value)


def test_kube_forbidden_names_the_context(tmp_path: Path) -> None:
    forbidden = (403, {"kind": "Status", "reason": "Forbidden", "code": 403})
    with FakeApiServer(api_routes(**{PODS_PATH: forbidden})) as api:
        kubeconfig = write_kubeconfig(tmp_path / "config", api.url, context="dev-admin")
        with pytest.raises(ClusterUnreachable) as error:
            connect(kubeconfig, "dev-admin").list_pods("models", "llama")

    message = str(error.value)
    assert "refused listing the pods of models/llama: HTTP 403 Forbidden" in message
    assert f"kubeconfig {kubeconfig}, context dev-admin" in message


def test_unreachable_cluster_names_kubeconfig_and_context(tmp_path: Path) -> None:
    with free_port() as port:
        kubeconfig = write_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}", context="eks-dev")
        with pytest.raises(ClusterUnreachable) as error:
            connect(kubeconfig, "eks-dev").clock_offset()

    message = str(error.value)
    assert message.startswith(
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port} (kubeconfig {kubeconfig}, context eks-dev) "
        "while reading the API server version: "
    )
    assert "refused" in message.lower() and "--kubeconfig/--context" in message
    assert error.value.exit_code == 1


def test_bad_kubeconfig_or_context_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"cannot load kubeconfig {tmp_path}/nope, context"):
        connect(str(tmp_path / "nope"), None)
    kubeconfig = write_kubeconfig(tmp_path / "config", "http://127.0.0.1:1")
    with pytest.raises(ConfigError) as error:
        connect(kubeconfig, "prod")

    assert f"cannot load kubeconfig {kubeconfig}, context prod" in str(error.value)
    assert error.value.exit_code == 2


# -- the command ----------------------------------------------------------------------------------

# Real time, scaled down: the pod appears milliseconds after the request reaches the endpoint.
QUICK = ColdStart(created=0.01, scheduled=0.02, initialized=0.02, pulled=0.03, started=0.04, ready=0.08)
QUICK_BASELINE = ColdStart(
    created=0.01, scheduled=0.02, initialized=0.1, pulled=0.11, started=0.12, ready=0.14,
    init_containers=("storage-initializer",), image_cached=False,
)


def run_cli(
    tmp_path: Path, endpoint: FakeEndpoint, cluster: Any, *args: str, stack: dict[str, Any] = STACK_OUTPUTS,
    **kwargs: Any,
) -> tuple[int, str, str]:
    outputs = {**stack, "ingressAddress": f"127.0.0.1:{endpoint.port}"}
    out, err = io.StringIO(), io.StringIO()
    kwargs.setdefault("cluster_factory", lambda kubeconfig, context: cluster)
    code = main(
        ["--stack", "aws-dev", "--poll-interval", "0.01", "--out", str(tmp_path / "coldstart.json"),
         "--png", str(tmp_path / "coldstart.png"), *args],
        run=lambda argv: json.dumps(outputs),
        stdout=out,
        stderr=err,
        **kwargs,
    )
    return code, out.getvalue(), err.getvalue()


def quick_cluster(**kwargs: Any) -> FakeCluster:
    return FakeCluster({"llama": QUICK, "llama-baseline": QUICK_BASELINE}, **kwargs)


def test_cli_measures_compares_and_writes_json_and_png(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(Reply(delay=0.1), on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--runs", "2", "--max-tokens", "4")

    assert code == 0, err
    assert [r.headers["Host"] for r in endpoint.received] == [
        "llama.models.example.com", "llama-baseline.models.example.com",
    ] * 2
    assert endpoint.received[0].body == {"model": "llama-31-8b", "prompt": "Kubernetes is", "max_tokens": 4}
    lines = out.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == [
        "Model", "Method", "Node", "Images", "Page cache", "Runs (#)", "Cold start (s)  min / median / max",
    ]
    assert lines[1].startswith("llama-31-8b | KServe storage initializer | existing | pulled | -          | 2 (#1, #2) | 0.")
    assert lines[2].startswith("llama-31-8b | Fluid cache                | existing | cached | unknown    | 1 (#1)     | 0.")
    assert lines[3].startswith("llama-31-8b | Fluid cache                | existing | cached | warm       | 1 (#2)     | 0.")
    assert any(line.startswith("Model download (storage-initializer)") and "skipped" in line for line in lines)
    assert (
        "  Fluid cache [existing node, images cached, page cache warm] / Model-server image pull: image cached on "
        "node - skipped in 1/1 runs"
    ) in lines

    data = json.loads((tmp_path / "coldstart.json").read_text())
    for result in data["results"]:
        assert len(result["runs"]) == 2
        for run in result["runs"]:
            assert run["total_seconds"] >= 0.1  # the endpoint's delay is inside the measured total
            assert sum(p["seconds"] for p in run["phases"]) == pytest.approx(run["total_seconds"], abs=0.01)
    assert (tmp_path / "coldstart.png").stat().st_size > 0
    assert "run 2/2 - KServe storage initializer (llama-baseline):" in err
    assert f"wrote {tmp_path / 'coldstart.json'}" in err


def test_cli_measures_a_prod_stack_over_https_with_the_token(tmp_path: Path, tls_files: TlsFiles) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(tls=tls_files.server_context(), on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--runs", "1", "--png", "", "--ca-file",
                                 str(tls_files.ca), stack=PROD_OUTPUTS, environ={"TOKEN": JWT})

    assert code == 0, err
    hosts = ["llama.models.example.com", "llama-baseline.models.example.com"]
    assert endpoint.server_names == hosts and [r.headers["Host"] for r in endpoint.received] == hosts
    assert {r.headers["Authorization"] for r in endpoint.received} == {f"Bearer {JWT}"}
    assert f"through 127.0.0.1:{endpoint.port} over https, with the bearer token from $TOKEN" in err
    assert f"POST https://llama.models.example.com:{endpoint.port}/openai/v1/completions (via 127.0.0.1:" in err
    written = (tmp_path / "coldstart.json").read_text()
    assert json.loads(written)["scheme"] == "https"
    assert JWT not in out + err + written


def test_cli_prod_stack_without_a_token_exits_2_before_measuring(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, stack=PROD_OUTPUTS, environ={})

    assert code == 2 and out == ""
    assert err.startswith("error: stack 'aws-dev' serves the model with JWT auth (endpointAuth 'jwt') but $TOKEN")
    assert endpoint.received == [] and cluster.calls == []


def test_cli_insecure_warns_and_unverifiable_tls_exits_1(tmp_path: Path, tls_files: TlsFiles) -> None:
    cluster = quick_cluster()
    args = ("--isvc", "llama", "--runs", "1", "--png", "")
    with FakeEndpoint(tls=tls_files.server_context(), on_request=cluster.on_request) as endpoint:
        insecure = run_cli(tmp_path, endpoint, cluster, *args, "--insecure", stack=PROD_OUTPUTS,
                           environ={"TOKEN": JWT})
        unverified = run_cli(tmp_path / "missing", endpoint, cluster, *args, stack=PROD_OUTPUTS,
                             environ={"TOKEN": JWT})

    assert insecure[0] == 0, insecure[2]
    assert (
        "warning: --insecure: the certificate of 127.0.0.1 is not verified, so whoever answers there for "
        "llama.models.example.com gets the requests and the bearer token"
    ) in insecure[2]
    assert unverified[0] == 1
    assert f"error: TLS verification failed for host llama.models.example.com on gateway 127.0.0.1:{endpoint.port}" \
        in unverified[2]
    assert len(endpoint.received) == 1


def test_cli_warns_that_tls_options_do_nothing_over_http(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(on_request=cluster.on_request) as endpoint:
        code, _, err = run_cli(tmp_path, endpoint, cluster, "--isvc", "llama", "--runs", "1", "--png", "",
                               "--insecure", environ={"TOKEN": JWT})

    assert code == 0
    assert "warning: --insecure and --ca-file have no effect on a plain-http endpoint" in err
    assert "Authorization" not in endpoint.received[0].headers


def test_cli_stops_at_an_error_every_run_would_repeat_with_exit_code_1(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(Reply(status=404, body=b"no route"), on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster)

    assert code == 1 and len(endpoint.received) == 1
    message = (
        f"http://127.0.0.1:{endpoint.port}/openai/v1/completions (Host: llama.models.example.com) "
        "answered HTTP 404 Not Found"
    )
    assert f"error: {message}" in err
    assert f"Fluid cache run 1 failed: {message}" in out  # the attempt is reported, not dropped
    (fluid,) = [r for r in json.loads((tmp_path / "coldstart.json").read_text())["results"] if r["runs"]]
    assert fluid["runs"][0]["status"] == "failed" and fluid["runs"][0]["error"].startswith(message)


def test_cli_goes_on_after_a_5xx_and_exits_1(tmp_path: Path) -> None:
    # Review A7: a 503 on one cold start no longer drops every run after it.
    cluster = quick_cluster()
    replies = (Reply(), Reply(status=500, body=b"CUDA out of memory"), Reply())
    with FakeEndpoint(*replies, on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--isvc", "llama", "--runs", "3", "--png", "")

    assert code == 1 and len(endpoint.received) == 3
    assert "answered HTTP 500 Internal Server Error: CUDA out of memory" in err
    assert "run 3/3 - Fluid cache (llama):" in err
    (result,) = json.loads((tmp_path / "coldstart.json").read_text())["results"]
    assert [r["status"] for r in result["runs"]] == ["measured", "failed", "measured"]
    assert "Fluid cache run 2 failed:" in out


def test_cli_unreachable_cluster_names_the_kubeconfig(tmp_path: Path) -> None:
    with FakeEndpoint() as endpoint, free_port() as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", context="eks-dev")
        code, _, err = run_cli(tmp_path, endpoint, None, "--kubeconfig", kubeconfig, "--context", "eks-dev",
                               cluster_factory=connect)

    assert code == 1
    assert (
        f"error: cannot reach the Kubernetes API at http://127.0.0.1:{port} (kubeconfig {kubeconfig}, context eks-dev)"
    ) in err
    assert "Retrying" not in err  # urllib3's retry warnings are not shown to the user
    assert endpoint.received == []


def test_cli_missing_inference_service_is_a_usage_error(tmp_path: Path) -> None:
    cluster = FakeCluster({"llama": QUICK})  # the stack names a baseline the cluster does not have
    with FakeEndpoint(on_request=cluster.on_request) as endpoint:
        code, _, err = run_cli(tmp_path, endpoint, cluster)

    assert code == 2
    assert "error: InferenceService 'llama-baseline' not found in namespace 'models'" in err
    assert "kubectl get isvc -n models" in err
    assert endpoint.received == []  # checked before the first (slow) run


def test_cli_configuration_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    err = io.StringIO()
    assert main(["--namespace", "models"], stderr=err) == 2
    assert err.getvalue().startswith("error: missing --model-name, --ingress, --isvc")

    failing_pulumi = io.StringIO()
    code = main(["--stack", "nope"], run=lambda argv: run_command(["no-such-pulumi-binary"]), stderr=failing_pulumi)
    assert code == 2 and "is not on PATH" in failing_pulumi.getvalue()

    with pytest.raises(SystemExit) as usage:
        main(["--runs", "many"])
    assert usage.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_cli_without_matplotlib_still_writes_the_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    cluster = quick_cluster()
    with FakeEndpoint(on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--runs", "1")

    assert code == 0
    assert "warning: matplotlib is not installed, so no PNG was written (pip install matplotlib)" in err
    assert (tmp_path / "coldstart.json").exists() and not (tmp_path / "coldstart.png").exists()
    assert "Fluid cache" in out


def test_cli_unwritable_output_exits_1_after_printing(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--runs", "1", "--out", str(tmp_path / "no" / "x.json"),
                                 "--png", "")

    assert code == 1
    assert f"error: cannot write {tmp_path / 'no' / 'x.json'}" in err
    assert "Cold start (s)" in out


def test_cli_interrupt_reports_the_completed_runs(tmp_path: Path) -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID})
    sender = FakeSender(cluster, clock, {"llama": 50.0})

    def interrupted_on_second_run(endpoint: Endpoint) -> CompletionResult:
        if sender.endpoints:
            raise KeyboardInterrupt
        return sender(endpoint)

    with FakeEndpoint() as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster, "--isvc", "llama", clock=clock,
                                 send=interrupted_on_second_run)

    assert code == 130
    assert "interrupted\nreporting the runs completed before that:" in err
    assert out.splitlines()[1] == "llama-31-8b | Fluid cache | existing | cached | unknown    | 1 (#1)   | 50.0 / 50.0 / 50.0"


# -- the documentation --------------------------------------------------------------------------


def test_docs_show_what_the_tool_prints_for_the_recorded_fake_run() -> None:
    from tests import coldstart_sample

    docs = Path(__file__).resolve().parent.parent / "docs"
    blocks, png = coldstart_sample.generated()

    shown = coldstart_sample.docs_blocks((docs / "coldstart.md").read_text(encoding="utf-8"))
    assert shown == blocks, "docs/coldstart.md is stale: run .venv/bin/python -m tests.coldstart_sample docs"
    assert png[:8] == (docs / "coldstart-sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Like with like (same node and image state):" in blocks["sample-output"]
    readme = (docs.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("```text\n", readme.index("<!-- readme-sample:")) + len("```text\n")
    excerpt = readme[start:readme.index("```", start)].splitlines()
    printed = blocks["sample-output"].splitlines()
    assert excerpt and all(line in printed for line in excerpt), "README's sample is stale: copy it from docs/coldstart.md"
