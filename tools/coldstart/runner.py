"""The measurement loop: wait for scale to zero, send the first request, read back the pod.

Runs alternate between the InferenceServices (Fluid, baseline, Fluid, ...) so that each one idles
towards zero while the other is being measured, and so slow drifts in the cluster (a node being
reclaimed, the cache being evicted) affect both methods alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.coldstart.clock import Clock
from tools.coldstart.config import Plan, Target
from tools.coldstart.endpoint import CompletionResult, Endpoint, post_completion, tls_context
from tools.coldstart.errors import ConfigError, MeasurementError
from tools.coldstart.kube import Cluster
from tools.coldstart.phases import Breakdown, compute_breakdown, ready_time, select_pod
from tools.coldstart.pods import ISVC_LABEL, PodSnapshot

#: After the response, how long to wait for the pod's Ready condition to show up in the API.
SETTLE_TIMEOUT_SECONDS = 30.0
SETTLE_POLL_SECONDS = 1.0

Sender = Callable[[Endpoint], CompletionResult]
Log = Callable[[str], None]


@dataclass
class TargetResult:
    """The cold starts measured for one InferenceService, in run order."""

    target: Target
    runs: list[Breakdown] = field(default_factory=list)


def default_sender(plan: Plan, clock: Clock) -> Sender:
    """Send the plan's completions request over HTTP(S), timed with ``clock``.

    The TLS context is built here, once and up front, so a bad ``--ca-file`` is reported before
    the first wait for scale to zero rather than after it, and loading CA certificates never
    counts towards a measured cold start.
    """
    tls = tls_context(plan.insecure, plan.ca_file) if plan.scheme == "https" else None

    def send(endpoint: Endpoint) -> CompletionResult:
        return post_completion(
            endpoint, plan.model_name, plan.prompt, plan.max_tokens, plan.request_timeout, clock.monotonic,
            tls=tls, credentials=plan.credentials,
        )

    return send


def scale_to_zero_problem(isvc: Mapping[str, Any]) -> str | None:
    """Why this InferenceService can never reach zero replicas, or None if it can."""
    annotations = (isvc.get("metadata") or {}).get("annotations") or {}
    mode = annotations.get("serving.kserve.io/deploymentMode", "")
    if mode in ("RawDeployment", "Standard"):
        return f"it runs in {mode} mode, which has no scale-to-zero (use Serverless/Knative mode)"
    min_replicas = ((isvc.get("spec") or {}).get("predictor") or {}).get("minReplicas")
    if isinstance(min_replicas, int) and min_replicas > 0:
        return f"spec.predictor.minReplicas is {min_replicas}; set it to 0"
    return None


def run_benchmark(
    plan: Plan, results: list[TargetResult], cluster: Cluster, clock: Clock, send: Sender, log: Log
) -> None:
    """Measure ``plan.runs`` cold starts of every target into ``results`` (one per target).

    Fails fast on configuration problems before the first (slow) run. Results are filled in
    place so that, when a later run fails, the caller still has the runs already measured.
    """
    cluster.clock_offset()  # the cheapest call that proves the API server is reachable
    for target in plan.targets:
        problem = scale_to_zero_problem(cluster.get_inference_service(plan.namespace, target.isvc))
        if problem:
            raise ConfigError(f"InferenceService {plan.namespace}/{target.isvc} cannot scale to zero: {problem}")

    for run in range(1, plan.runs + 1):
        for result in results:
            target = result.target
            log(f"run {run}/{plan.runs} - {target.method} ({target.isvc}):")
            breakdown = measure_once(plan, target, cluster, clock, send, log)
            skipped = ", ".join(p.detail for p in breakdown.skipped) or "no phase skipped"
            log(f"  cold start {breakdown.total_seconds:.1f} s on pod {breakdown.pod} ({skipped})")
            result.runs.append(breakdown)


def measure_once(plan: Plan, target: Target, cluster: Cluster, clock: Clock, send: Sender, log: Log) -> Breakdown:
    """One cold start of ``target``: wait for zero pods, time the first request, split the time."""
    waited = wait_for_zero(plan, target, cluster, clock, log)
    if waited:
        log(f"  scaled to zero after {waited:.0f} s")
    offset = cluster.clock_offset()
    started = clock.wall()
    endpoint = Endpoint(plan.ingress_address, plan.ingress_port, target.host_header, plan.scheme)
    log(f"  POST {endpoint.description}")
    result = send(endpoint)
    pod = _serving_pod(plan, target, cluster, clock)
    events = cluster.list_pod_events(plan.namespace, pod.name)
    return compute_breakdown(pod, events, started, result.seconds, offset)


def wait_for_zero(plan: Plan, target: Target, cluster: Cluster, clock: Clock, log: Log) -> float:
    """Block until no pod of ``target`` exists; return how long that took.

    Raises MeasurementError after ``plan.zero_timeout`` seconds (immediately with a zero timeout),
    telling the user how long Knative normally takes, so they can come back later.
    """
    start = clock.monotonic()
    deadline = start + plan.zero_timeout
    announced = False
    while True:
        pods = cluster.list_pods(plan.namespace, target.isvc)
        now = clock.monotonic()
        if not pods:
            return now - start
        if now >= deadline:
            names = ", ".join(sorted(p.name for p in pods))
            raise MeasurementError(
                f"{target.isvc} still has {len(pods)} pod(s) ({names}) after waiting {now - start:.0f} s. "
                f"Knative scales an idle InferenceService to zero about {plan.scale_to_zero_seconds} s "
                "after its last request: stop any other traffic to it and retry "
                "(--zero-timeout sets how long to wait)"
            )
        if not announced:
            log(
                f"  waiting for {target.isvc} to scale to zero: {len(pods)} pod(s) up; Knative removes "
                f"them about {plan.scale_to_zero_seconds} s after the last request "
                f"(giving up after {plan.zero_timeout:.0f} s)"
            )
            announced = True
        clock.sleep(min(plan.poll_interval, deadline - now))


def _serving_pod(plan: Plan, target: Target, cluster: Cluster, clock: Clock) -> PodSnapshot:
    """The pod that served the request, once the API reports it Ready (bounded wait)."""
    deadline = clock.monotonic() + SETTLE_TIMEOUT_SECONDS
    while True:
        pod = select_pod(cluster.list_pods(plan.namespace, target.isvc))
        timed_out = clock.monotonic() >= deadline
        if pod is not None and (ready_time(pod) is not None or timed_out):
            return pod
        if timed_out:
            raise MeasurementError(
                f"the request succeeded but no pod labelled {ISVC_LABEL}={target.isvc} exists in "
                f"{plan.namespace}: something else answered (check the Host header {target.host_header!r}), "
                "so this was not a cold start of that InferenceService"
            )
        clock.sleep(SETTLE_POLL_SECONDS)
