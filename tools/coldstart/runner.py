"""The measurement loop: wait for scale to zero, send the first request, read back the pod.

Runs alternate between the InferenceServices (Fluid, baseline, Fluid, ...) so that slow drifts in
the cluster (a node being reclaimed, the cache being evicted) affect both methods alike. Before
every request the loop waits until *every* measured InferenceService is at zero: with one GPU
node, a cold start that began while the other service's pod still held the GPU would include
that pod's scale-down (minutes) and be reported as node provisioning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.coldstart.clock import Clock
from tools.coldstart.config import Plan, Target
from tools.coldstart.endpoint import CompletionResult, Endpoint, post_completion, tls_context
from tools.coldstart.errors import ConfigError, EndpointError, MeasurementError
from tools.coldstart.kube import Cluster
from tools.coldstart.phases import Breakdown, compute_breakdown, ready_time, select_pod
from tools.coldstart.pods import ISVC_LABEL, PodSnapshot

#: After the response, how long to wait for the pod's Ready condition to show up in the API.
SETTLE_TIMEOUT_SECONDS = 30.0
SETTLE_POLL_SECONDS = 1.0

Sender = Callable[[Endpoint], CompletionResult]
Log = Callable[[str], None]


@dataclass(frozen=True)
class FailedRun:
    """A cold start that gave no measurement (the request failed, or it was not a cold start),
    kept so the report and the JSON say so instead of silently having fewer runs."""

    request_started: datetime
    seconds: float | None
    error: str
    pod: str | None = None


@dataclass
class TargetResult:
    """Every attempt at a cold start of one InferenceService, in run order."""

    target: Target
    attempts: list[Breakdown | FailedRun] = field(default_factory=list)

    @property
    def runs(self) -> list[Breakdown]:
        """The measured cold starts."""
        return [a for a in self.attempts if isinstance(a, Breakdown)]

    def numbered_runs(self) -> list[tuple[int, Breakdown]]:
        """The measured cold starts with their run numbers (1-based, failures counted)."""
        return [(n, a) for n, a in enumerate(self.attempts, start=1) if isinstance(a, Breakdown)]

    def failures(self) -> list[tuple[int, FailedRun]]:
        return [(n, a) for n, a in enumerate(self.attempts, start=1) if isinstance(a, FailedRun)]


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
    """Attempt ``plan.runs`` cold starts of every target into ``results`` (one per target).

    Fails fast on configuration problems before the first (slow) run. A request that fails in a
    way the next cold start may not (HTTP 5xx, connection closed, timeout) is recorded as a
    failed run and the loop goes on; one that would fail the same way every time (HTTP 4xx, TLS
    verification, connection refused) ends it. Results are filled in place so that the caller
    still has the runs measured before an error.
    """
    cluster.clock_offset()  # the cheapest call that proves the API server is reachable
    for target in plan.targets:
        problem = scale_to_zero_problem(cluster.get_inference_service(plan.namespace, target.isvc))
        if problem:
            raise ConfigError(f"InferenceService {plan.namespace}/{target.isvc} cannot scale to zero: {problem}")

    for run in range(1, plan.runs + 1):
        for result in results:
            log(f"run {run}/{plan.runs} - {result.target.method} ({result.target.isvc}):")
            measure_once(plan, result, cluster, clock, send, log)


def measure_once(plan: Plan, result: TargetResult, cluster: Cluster, clock: Clock, send: Sender, log: Log) -> None:
    """One cold start of ``result.target``, appended to ``result.attempts`` (a failure too):
    wait until nothing runs, time the first request, read back the pod and split the time."""
    target = result.target
    waited = wait_for_zero(plan, cluster, clock, log)
    if waited is not None:
        log(f"  scaled to zero after {waited:.0f} s")
    offset = cluster.clock_offset()
    started = clock.wall()
    begun = clock.monotonic()
    endpoint = Endpoint(plan.ingress_address, plan.ingress_port, target.host_header, plan.scheme)
    log(f"  POST {endpoint.description}")
    try:
        response = send(endpoint)
        pod = _serving_pod(plan, target, cluster, clock)
    except MeasurementError as exc:
        result.attempts.append(FailedRun(started, clock.monotonic() - begun, str(exc)))
        if not (isinstance(exc, EndpointError) and exc.transient):
            raise
        log(f"  run failed, going on with the next cold start: {exc}")
        return
    events = cluster.list_pod_events(plan.namespace, pod.name)
    node = cluster.get_node(pod.node_name) if pod.node_name else None
    breakdown = compute_breakdown(
        pod, events, started, response.seconds, offset, node=node, earlier_nodes=[r.node_name for r in result.runs]
    )
    not_cold = breakdown.not_cold()
    if not_cold:
        result.attempts.append(FailedRun(started, response.seconds, not_cold, pod.name))
        log(f"  {not_cold}; not counted")
        return
    result.attempts.append(breakdown)
    log(
        f"  cold start {breakdown.total_seconds:.1f} s on pod {breakdown.pod}, node {breakdown.node_name or '?'} "
        f"({breakdown.conditions.label})"
    )


def wait_for_zero(plan: Plan, cluster: Cluster, clock: Clock, log: Log) -> float | None:
    """Block until no pod of any target runs; return how long that took, None if it did at once.

    Evicted or completed pods are ignored (they hold no GPU and Knative does not remove them).
    Raises MeasurementError after ``plan.zero_timeout`` seconds (immediately with a zero timeout),
    telling the user how long Knative normally takes, so they can come back later.
    """
    start = clock.monotonic()
    deadline = start + plan.zero_timeout
    ignored: set[str] = set()
    announced = False
    while True:
        up: dict[str, list[PodSnapshot]] = {}
        for target in plan.targets:
            pods = cluster.list_pods(plan.namespace, target.isvc)
            for pod in pods:
                if pod.finished and pod.name not in ignored:
                    ignored.add(pod.name)
                    why = f"{pod.phase}: {pod.reason}" if pod.reason else pod.phase
                    log(f"  ignoring pod {pod.name} ({why}): it will not run again and holds no GPU")
            if live := [p for p in pods if not p.finished]:
                up[target.isvc] = live
        now = clock.monotonic()
        if not up:
            return now - start if announced else None
        described = "; ".join(
            f"{isvc} still has {len(pods)} pod(s) ({', '.join(sorted(p.name for p in pods))})"
            for isvc, pods in up.items()
        )
        if now >= deadline:
            raise MeasurementError(
                f"{described} after waiting {now - start:.0f} s. Knative scales an idle InferenceService to zero "
                f"about {plan.scale_to_zero_seconds} s after its last request, and every cold start waits until "
                "all measured InferenceServices are at zero: stop any other traffic to them and retry "
                "(--zero-timeout sets how long to wait)"
            )
        if not announced:
            log(
                f"  waiting for scale to zero: {described}. Knative removes idle pods about "
                f"{plan.scale_to_zero_seconds} s after the last request (giving up after {plan.zero_timeout:.0f} s)"
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
