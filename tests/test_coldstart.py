"""Tests for tools.coldstart: timing logic, phase breakdown, statistics, reports, HTTP and errors.

No cluster is needed: pods and events are hand-built snapshots, the inference endpoint (plain or
HTTPS with a throwaway CA) and the Kubernetes API are small servers on 127.0.0.1, and waiting uses
a fake clock.
"""

from __future__ import annotations

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
from tools.coldstart.cli import main
from tools.coldstart.config import (
    BASELINE_METHOD,
    FLUID_METHOD,
    Overrides,
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
from tools.coldstart.pods import ContainerInfo, PodEvent, PodSnapshot
from tools.coldstart.runner import TargetResult, run_benchmark, wait_for_zero
from tools.coldstart.stats import Summary, summarize

STACK_OUTPUTS = {
    "namespace": "models",
    "inferenceService": "llama",
    "baselineInferenceService": "llama-baseline",
    "modelHost": "llama.models.example.com",
    "baselineModelHost": "llama-baseline.models.example.com",
    "ingressAddress": "a1b2.elb.us-west-2.amazonaws.com",
    "modelName": "llama-31-8b",
    "scaleToZeroGraceSeconds": 90,
}

# The published Llama-3.1-8B shape: the baseline downloads in its init container on a fresh node,
# Fluid starts on a warm node with the image cached and streams the weights while loading.
BASELINE = ColdStart(
    created=2, scheduled=122, initialized=200, pulled=230, started=232, ready=260,
    init_containers=("storage-initializer",), image_cached=False, scale_up=True,
)
FLUID = ColdStart(created=1, scheduled=2, initialized=2, pulled=3, started=4, ready=45)


def phase_seconds(breakdown: Breakdown) -> dict[str, float | None]:
    return {p.id: p.seconds for p in breakdown.phases}


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
    """A TargetResult from scripted cold starts (script, client-side total)."""
    result = TargetResult(target)
    for script, total in runs:
        result.runs.append(
            compute_breakdown(script.pod(f"{target.isvc}-pod", T0), script.events(T0), T0, total, offset)
        )
    return result


# -- phases ---------------------------------------------------------------------------------------


def test_baseline_breakdown_follows_timestamps_and_adds_up_to_the_total() -> None:
    breakdown = compute_breakdown(BASELINE.pod("p", T0), BASELINE.events(T0), T0, 265.0)

    # The model image is pulled after the init container ran, so "image" is Initialized -> Pulled.
    assert phase_seconds(breakdown) == {
        "trigger": 2, "node": 120, "init": 78, "image": 30, "start": 2, "ready": 28, "response": 5,
    }
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(265.0)
    assert breakdown.skipped == ()
    assert breakdown.phase("node").detail == "new node provisioned (TriggeredScaleUp)"
    assert breakdown.phase("init").detail == "storage-initializer"
    assert breakdown.notes == ()


def test_fluid_breakdown_marks_node_image_and_init_as_skipped() -> None:
    breakdown = compute_breakdown(FLUID.pod("p", T0), FLUID.events(T0), T0, 50.0)

    assert phase_seconds(breakdown) == {
        "trigger": 1, "node": 1, "init": 0, "image": 1, "start": 1, "ready": 41, "response": 5,
    }
    assert {p.id: p.detail for p in breakdown.skipped} == {
        "node": "node already up",
        "image": "image cached on node",
        "init": "no init containers",
    }


def test_slow_scheduling_without_scale_up_event_is_not_skipped() -> None:
    slow = ColdStart(created=1, scheduled=40, initialized=40, pulled=41, started=42, ready=60)
    failed = [*slow.events(T0), PodEvent("FailedScheduling", "0/3 nodes are available", at(1))]

    quiet = compute_breakdown(slow.pod("p", T0), slow.events(T0), T0, 61.0).phase("node")
    waited = compute_breakdown(slow.pod("p", T0), failed, T0, 61.0).phase("node")

    assert (quiet.seconds, quiet.skipped, quiet.detail) == (39, False, "")
    assert (waited.skipped, waited.detail) == (False, "waited for a schedulable node (FailedScheduling)")


def test_clock_offset_maps_server_timestamps_onto_the_client_clock() -> None:
    # The API server clock runs 10 s ahead; the measured offset cancels it exactly.
    server_base = T0 + timedelta(seconds=10)
    breakdown = compute_breakdown(FLUID.pod("p", server_base), FLUID.events(server_base), T0, 50.0, clock_offset=10.0)

    assert phase_seconds(breakdown) == phase_seconds(compute_breakdown(FLUID.pod("p", T0), FLUID.events(T0), T0, 50.0))
    assert breakdown.notes == ()
    assert breakdown.clock_offset == 10.0


def test_uncorrected_clock_skew_is_clamped_and_reported() -> None:
    # The server is 8 s behind and nobody corrected it: the pod seems created before the request.
    server_base = T0 - timedelta(seconds=8)
    breakdown = compute_breakdown(FLUID.pod("p", server_base), FLUID.events(server_base), T0, 50.0)

    assert breakdown.phase("trigger").seconds == 0
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(50.0)
    assert len(breakdown.notes) == 1
    assert "7.0 s outside the request window" in breakdown.notes[0]
    assert "clamped" in breakdown.notes[0]


def test_missing_events_leave_the_image_phase_unobserved() -> None:
    breakdown = compute_breakdown(BASELINE.pod("p", T0), [], T0, 265.0)

    image = breakdown.phase("image")
    assert image.seconds is None and not image.skipped
    assert "no Pulled event for kserve-container" in image.detail
    # Its time lands in the next milestone: Initialized (200) -> containers started (232).
    assert breakdown.phase("start").seconds == 32
    assert sum(p.seconds or 0 for p in breakdown.phases) == pytest.approx(265.0)
    assert breakdown.phase("node").detail == ""  # no event, but 120 s is no "node already up"


def test_container_restarts_are_noted() -> None:
    pod = FLUID.pod("p", T0)
    restarted = PodSnapshot(
        pod.name, pod.created, pod.conditions,
        containers=(ContainerInfo("kserve-container", at(30), restart_count=2), ContainerInfo("queue-proxy", at(4))),
    )
    events = [
        PodEvent("Pulled", 'Successfully pulled image "vllm" in 1.2s', at(3), "spec.containers{kserve-container}"),
        PodEvent("Pulled", 'Container image "vllm" already present on machine', at(29),
                 "spec.containers{kserve-container}"),
    ]
    breakdown = compute_breakdown(restarted, events, T0, 50.0)

    assert breakdown.notes == ("container kserve-container restarted 2 time(s) while starting",)
    assert breakdown.phase("start").seconds == 27  # last container start (30) - previous milestone (3)
    # The first pull counts; the restart's "already present" does not make the image look cached.
    assert (breakdown.phase("image").seconds, breakdown.phase("image").skipped) == (1, False)


def test_select_pod_prefers_the_first_ready_predictor() -> None:
    late = FLUID.pod("late", T0)
    early = ColdStart(ready=20).pod("early", T0)
    transformer = PodSnapshot("transformer", at(0), {"Ready": at(5)}, component="transformer")
    leaving = PodSnapshot("old", at(-100), {"Ready": at(-90)}, component="predictor", deleting=True)

    assert select_pod([late, transformer, early, leaving]) == early
    # Nothing Ready yet: the earliest-created pod.
    assert select_pod([PodSnapshot("b", at(2), {}), PodSnapshot("a", at(1), {})]) == PodSnapshot("a", at(1), {})
    assert select_pod([]) is None


# -- statistics -----------------------------------------------------------------------------------


def test_summary_min_median_max() -> None:
    assert Summary.of([50.0, 48.0, 61.0]) == Summary(min=48.0, median=50.0, max=61.0, count=3)
    assert Summary.of([10.0, 20.0]).median == 15.0
    with pytest.raises(ValueError):
        Summary.of([])


def test_summarize_per_phase_counts_skips_and_ignores_unobserved() -> None:
    target = Target("llama", FLUID_METHOD, "llama.models.example.com")
    cold_node = ColdStart(created=1, scheduled=61, initialized=61, pulled=62, started=63, ready=100, scale_up=True)
    result = measured(target, (FLUID, 50.0), (cold_node, 104.0), (FLUID, 52.0))
    result.runs.append(compute_breakdown(FLUID.pod("p", T0), [], T0, 49.0))  # events expired

    summary = summarize(result.runs)

    assert summary.total == Summary(min=49.0, median=51.0, max=104.0, count=4)
    node = summary.phases[1]
    assert (node.id, node.skipped_runs, node.seconds) == ("node", 3, Summary(1.0, 1.0, 60.0, 4))
    image = summary.phases[2]
    assert (image.id, image.skipped_runs, image.seconds.count if image.seconds else 0) == ("image", 3, 3)


# -- reports --------------------------------------------------------------------------------------

FLUID_TARGET = Target("llama", FLUID_METHOD, "llama.models.example.com")
BASELINE_TARGET = Target("llama-baseline", BASELINE_METHOD, "llama-baseline.models.example.com")


def published_like_results() -> list[TargetResult]:
    fluid = measured(FLUID_TARGET, (FLUID, 50.0), (FLUID, 48.5), (ColdStart(ready=50), 55.0), offset=0.4)
    baseline = measured(BASELINE_TARGET, (BASELINE, 265.0), (BASELINE, 270.0), (BASELINE, 262.0), offset=0.4)
    return [fluid, baseline]


def test_comparison_table_has_the_published_shape() -> None:
    text = report.comparison_table("llama-31-8b", published_like_results())

    assert text.splitlines() == [
        "Model       | Method                     | Cold start (s)  min / median / max",
        "llama-31-8b | KServe storage initializer | 262.0 / 265.0 / 270.0",
        "llama-31-8b | Fluid cache                | 48.5 / 50.0 / 55.0",
        "Fluid cache is 5.3x faster than KServe storage initializer (median 50.0 s vs 265.0 s)",
        "3 run(s) per method; cold start = client-side total time of the first request after scale to zero "
        "(curl -w %{time_total})",
    ]


def test_comparison_table_with_only_the_fluid_service() -> None:
    text = report.comparison_table("bloom-560m", [measured(FLUID_TARGET, (FLUID, 8.5))])

    assert text.splitlines()[1] == "bloom-560m | Fluid cache | 8.5 / 8.5 / 8.5"
    assert "faster" not in text


def test_phase_table_shows_medians_skips_and_the_clock_caveat() -> None:
    results = published_like_results()
    results[0].runs.append(compute_breakdown(FLUID.pod("p", T0), [], T0, 51.0, 0.4))  # events expired
    lines = report.phase_table(results).splitlines()

    assert [c.strip() for c in lines[0].split(" | ")] == [
        "Phase (s): median (min-max)", "KServe storage initializer", "Fluid cache",
    ]
    rows = {line.split(" | ")[0].strip(): [c.strip() for c in line.split(" | ")[1:]] for line in lines[1:9]}
    assert rows["Node provisioning + scheduling"] == ["120.0", "skipped (1.0)"]
    assert rows["Image pull"] == ["30.0", "1.0 [skipped 3/4]"]
    assert rows["Init containers"] == ["78.0", "skipped (0.0)"]
    assert rows["Model load until Ready"] == ["28.0", "41.0 (41.0-46.0)"]
    assert rows["Total"] == ["265.0 (262.0-270.0)", "50.5 (48.5-55.0)"]
    assert "  Fluid cache / Image pull: image cached on node - skipped in 3/4 runs" in lines
    assert "  KServe storage initializer / Init containers: storage-initializer - seen in 3/3 runs" in lines
    assert any("clock offset (median +0.4 s)" in line for line in lines)


def test_json_report_holds_summary_and_every_run(tmp_path: Path) -> None:
    path = tmp_path / "coldstart.json"
    report.write_json(path, report.report_json(plan(), published_like_results(), T0))
    data = json.loads(path.read_text())

    assert data["model"] == "llama-31-8b" and data["measured_at"] == "2025-03-01T12:00:00+00:00"
    assert [r["method"] for r in data["results"]] == [BASELINE_METHOD, FLUID_METHOD]
    fluid = data["results"][1]
    assert fluid["inference_service"] == "llama"
    assert fluid["summary"]["total_seconds"] == {"min": 48.5, "median": 50.0, "max": 55.0, "count": 3}
    assert fluid["summary"]["phases"]["image"] == {
        "seconds": {"min": 1.0, "median": 1.0, "max": 1.0, "count": 3}, "skipped_runs": 3,
    }
    first = fluid["runs"][0]
    assert first["total_seconds"] == 50.0 and first["clock_offset_seconds"] == 0.4
    assert first["phases"][1] == {"id": "node", "seconds": 1.0, "skipped": True, "detail": "node already up"}
    assert [p["id"] for p in data["phases"]] == ["trigger", "node", "image", "init", "start", "ready", "response"]


def test_png_chart_is_written(tmp_path: Path) -> None:
    path = tmp_path / "coldstart.png"
    chart.write_png(path, "llama-31-8b", published_like_results())

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
    assert JWT not in repr(Overrides(token=JWT))


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
    built = build_plan(STACK_OUTPUTS, Overrides(), "aws-dev")

    assert built.targets == (
        Target("llama", FLUID_METHOD, "llama.models.example.com"),
        Target("llama-baseline", BASELINE_METHOD, "llama-baseline.models.example.com"),
    )
    assert (built.namespace, built.model_name) == ("models", "llama-31-8b")
    assert (built.ingress_address, built.ingress_port) == ("a1b2.elb.us-west-2.amazonaws.com", 80)
    assert (built.scale_to_zero_seconds, built.zero_timeout) == (90, 390)
    assert (built.request_timeout, built.runs) == (1800.0, 3)


def test_plan_without_baseline_and_with_overrides() -> None:
    outputs = {**STACK_OUTPUTS, "baselineInferenceService": None, "baselineModelHost": None}
    built = build_plan(outputs, Overrides(ingress="localhost:8080", zero_timeout=0, runs=5), "aws-dev")

    assert [t.isvc for t in built.targets] == ["llama"]
    assert (built.ingress_address, built.ingress_port, built.zero_timeout, built.runs) == ("localhost", 8080, 0, 5)


def test_explicit_flags_derive_the_baseline_host_from_kserve_naming() -> None:
    flags = Overrides(
        namespace="ml", isvcs=("bloom", "bloom-si"), ingress="1.2.3.4", host_headers=("bloom.ml.example.org",),
        model_name="bloom-560m",
    )
    built = build_plan(None, flags)

    assert [t.host_header for t in built.targets] == ["bloom.ml.example.org", "bloom-si.ml.example.org"]
    assert built.scale_to_zero_seconds == 90


def test_config_errors_name_what_is_missing() -> None:
    with pytest.raises(ConfigError) as no_flags:
        build_plan(None, Overrides(namespace="ml"))
    with pytest.raises(ConfigError) as old_stack:
        build_plan({"namespace": "models", "inferenceService": "llama", "modelHost": "h"}, Overrides(), "aws-dev")
    with pytest.raises(ConfigError) as no_host:
        build_plan(None, Overrides(namespace="ml", isvcs=("a", "b"), ingress="gw", host_headers=("custom.host",),
                                   model_name="m"))
    with pytest.raises(ConfigError, match="at most two"):
        build_plan(STACK_OUTPUTS, Overrides(isvcs=("a", "b", "c")), "aws-dev")
    with pytest.raises(ConfigError, match="--runs must be positive, got 0"):
        build_plan(STACK_OUTPUTS, Overrides(runs=0), "aws-dev")

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
    built = build_plan(PROD_OUTPUTS, Overrides(token=f"{JWT}\n"), "aws-prod")  # e.g. TOKEN=$(cat jwt.txt)

    assert (built.scheme, built.ingress_port) == ("https", 443)
    assert built.credentials == Credentials("TOKEN", JWT)
    assert build_plan(PROD_OUTPUTS, Overrides(token=JWT, scheme="http"), "aws-prod").ingress_port == 80


def test_jwt_stack_without_a_token_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        build_plan(PROD_OUTPUTS, Overrides(token_env="PROD_JWT", token="  "), "aws-prod")

    assert str(error.value) == (
        "stack 'aws-prod' serves the model with JWT auth (endpointAuth 'jwt') but $PROD_JWT is empty: "
        "export PROD_JWT=<JWT from the endpoint's issuer>, or name another variable with --token-env"
    )
    assert error.value.exit_code == 2


def test_token_goes_over_plain_http_only_when_asked_for() -> None:
    def sent(outputs: dict[str, Any], **flags: Any) -> str:
        return build_plan(outputs, Overrides(token=JWT, **flags), "aws-dev").credentials.token

    assert sent(STACK_OUTPUTS) == ""  # a $TOKEN meant for something else stays here
    assert sent(STACK_OUTPUTS, token_env="TOKEN") == JWT
    assert sent({**STACK_OUTPUTS, "endpointAuth": "jwt"}) == JWT
    assert sent(STACK_OUTPUTS, scheme="https") == JWT


def test_scheme_and_token_problems_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--scheme https contradicts the ingress address 'http://gw'"):
        build_plan(STACK_OUTPUTS, Overrides(scheme="https", ingress="http://gw"), "aws-dev")
    with pytest.raises(ConfigError, match="'endpointScheme' should be 'http' or 'https', got 'grpc'"):
        build_plan({**STACK_OUTPUTS, "endpointScheme": "grpc"}, Overrides(), "aws-dev")
    with pytest.raises(ConfigError) as bad_token:
        build_plan(PROD_OUTPUTS, Overrides(token="eyJ.first\neyJ.second"), "aws-prod")

    assert str(bad_token.value) == "$TOKEN does not hold a single JWT: it contains whitespace or control characters"


def test_stack_outputs_are_read_with_the_pulumi_cli() -> None:
    calls: list[list[str]] = []

    def fake_pulumi(argv: Any) -> str:
        calls.append(list(argv))
        return json.dumps(STACK_OUTPUTS)

    assert read_stack_outputs("aws-dev", fake_pulumi) == STACK_OUTPUTS
    assert calls == [["pulumi", "stack", "output", "--json", "--show-secrets", "-s", "aws-dev"]]
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

    waited = wait_for_zero(plan(), plan().targets[0], cluster, clock, logs.append)

    assert waited == 15.0 and clock.sleeps == [5.0, 5.0, 5.0]
    assert logs == [
        "  waiting for llama to scale to zero: 1 pod(s) up; Knative removes them about 90 s after the last "
        "request (giving up after 390 s)"
    ]


def test_wait_for_zero_gives_up_with_a_hint() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID}, initial_pods={"llama": None})

    with pytest.raises(MeasurementError) as error:
        wait_for_zero(plan(zero_timeout=12), plan().targets[0], cluster, clock, lambda _: None)
    with pytest.raises(MeasurementError) as check_only:
        wait_for_zero(plan(zero_timeout=0), plan().targets[0], cluster, clock, lambda _: None)

    assert clock.sleeps == [5.0, 5.0, 2.0]  # the last sleep stops at the deadline
    assert str(error.value) == (
        "llama still has 1 pod(s) (llama-warm) after waiting 12 s. Knative scales an idle InferenceService "
        "to zero about 90 s after its last request: stop any other traffic to it and retry "
        "(--zero-timeout sets how long to wait)"
    )
    assert "after waiting 0 s" in str(check_only.value)


def test_benchmark_alternates_services_and_measures_each_run() -> None:
    clock = FakeClock()
    cluster = FakeCluster({"llama": FLUID, "llama-baseline": BASELINE}, skew=3.0, busy_polls=2, ready_after_polls=1)
    send = FakeSender(cluster, clock, {"llama": 50.0, "llama-baseline": 265.0})
    results = [TargetResult(t) for t in plan().targets]
    logs: list[str] = []

    run_benchmark(plan(runs=2), results, cluster, clock, send, logs.append)

    assert [e.host_header for e in send.endpoints] == [
        "llama.models.example.com", "llama-baseline.models.example.com",
    ] * 2
    fluid, baseline = results
    assert [r.total_seconds for r in fluid.runs] == [50.0, 50.0]
    assert [r.pod for r in baseline.runs] == ["llama-baseline-predictor-00001", "llama-baseline-predictor-00002"]
    # The 3 s server skew is measured and removed, so the phases match the script exactly.
    assert phase_seconds(baseline.runs[1])["init"] == 78 and baseline.runs[1].notes == ()
    assert "  cold start 50.0 s on pod llama-predictor-00001 (node already up, image cached on node, " \
           "no init containers)" in logs
    assert "  scaled to zero after 10 s" in logs  # the second Fluid run waited two polls for zero
    assert cluster.calls[:3] == ["clock_offset", "get_isvc llama", "get_isvc llama-baseline"]


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

    def answered_elsewhere(endpoint: Endpoint) -> CompletionResult:
        clock.advance(0.05)
        return CompletionResult(200, 0.05)

    with pytest.raises(MeasurementError) as error:
        run_benchmark(single, [TargetResult(single.targets[0])], cluster, clock, answered_elsewhere, lambda _: None)

    assert "no pod labelled serving.kserve.io/inferenceservice=llama exists in models" in str(error.value)
    assert "check the Host header 'llama.models.example.com'" in str(error.value)
    assert sum(clock.sleeps) == pytest.approx(30.0)  # the bounded settle wait, in fake time


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
        "containerStatuses": [
            {"name": "kserve-container", "ready": False, "restartCount": 1, "image": "vllm", "imageID": "",
             "state": {"running": {"startedAt": "2025-03-01T12:01:12Z"}}},
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
}


def api_routes(**overrides: tuple[int, Any]) -> dict[str, tuple[int, Any]]:
    routes = {
        "/version": VERSION,
        ISVC_PATH: (200, {"kind": "InferenceService", "metadata": {"name": "llama"}, "spec": {}}),
        PODS_PATH: (200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [POD_JSON]}),
        EVENTS_PATH: (200, {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": [EVENT_JSON]}),
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
        init_containers=("storage-initializer",),
        containers=(ContainerInfo("kserve-container", at(72), restart_count=1), ContainerInfo("queue-proxy", None)),
        component="predictor",
        node_name="gpu-node-1",
    )
    assert events == [
        PodEvent("Pulled", 'Container image "vllm" already present on machine', at(71),
                 "spec.containers{kserve-container}")
    ]
    assert api.queries[PODS_PATH]["labelSelector"] == ["serving.kserve.io/inferenceservice=llama"]
    assert api.queries[EVENTS_PATH]["fieldSelector"] == [
        "involvedObject.kind=Pod,involvedObject.name=llama-predictor-00001-deployment-abc"
    ]
    assert isvc["metadata"]["name"] == "llama"


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
    assert lines[0].split() == ["Model", "|", "Method", "|", "Cold", "start", "(s)", "min", "/", "median", "/", "max"]
    assert lines[1].startswith("llama-31-8b | KServe storage initializer | 0.")
    assert lines[2].startswith("llama-31-8b | Fluid cache                | 0.")
    assert any(line.startswith("Init containers") and "skipped" in line for line in lines)
    assert "  Fluid cache / Image pull: image cached on node - skipped in 2/2 runs" in lines

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


def test_cli_reports_an_endpoint_error_with_exit_code_1(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(Reply(status=503, body=b"upstream connect error"), on_request=cluster.on_request) as endpoint:
        code, out, err = run_cli(tmp_path, endpoint, cluster)

    assert code == 1 and out == ""
    assert (
        f"error: http://127.0.0.1:{endpoint.port}/openai/v1/completions (Host: llama.models.example.com) "
        "answered HTTP 503 Service Unavailable: upstream connect error"
    ) in err
    assert not (tmp_path / "coldstart.json").exists()


def test_cli_keeps_completed_runs_when_a_later_run_fails(tmp_path: Path) -> None:
    cluster = quick_cluster()
    with FakeEndpoint(Reply(), Reply(status=500, body=b"CUDA out of memory"), on_request=cluster.on_request) as ep:
        code, out, err = run_cli(tmp_path, ep, cluster, "--isvc", "llama", "--runs", "3")

    assert code == 1
    assert "answered HTTP 500 Internal Server Error: CUDA out of memory" in err
    assert "reporting the runs completed before that:" in err
    assert "1 run(s) per method" in out
    (result,) = json.loads((tmp_path / "coldstart.json").read_text())["results"]
    assert result["method"] == FLUID_METHOD and len(result["runs"]) == 1


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
    assert out.splitlines()[1] == "llama-31-8b | Fluid cache | 50.0 / 50.0 / 50.0"
