"""Command line: ``python -m tools.coldstart --stack NAME`` or explicit cluster/endpoint flags.

Progress goes to stderr and the tables to stdout, so ``> result.txt`` keeps only the report.
Every collaborator (pulumi runner, cluster, clock, HTTP sender, environment) can be injected into
``main``, which is how the tests drive the whole command without a cluster.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from tools.coldstart import chart, report
from tools.coldstart.clock import Clock, SystemClock
from tools.coldstart.config import CommandRunner, Plan, build_plan, read_stack_outputs, run_command
from tools.coldstart.endpoint import DEFAULT_TOKEN_ENV
from tools.coldstart.errors import ColdStartError
from tools.coldstart.kube import Cluster, connect
from tools.coldstart.runner import Sender, TargetResult, default_sender, run_benchmark

ClusterFactory = Callable[[str | None, str | None], Cluster]

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.coldstart",
        description=(
            "Measure scale-from-zero cold starts of a KServe InferenceService (and optionally the "
            "storage-initializer baseline): wait until it has scaled to zero, send the first "
            "OpenAI completions request through the ingress, and split the time into phases "
            "from the pod's conditions and events."
        ),
        epilog=(
            "Exit codes: 0 measured, 1 measurement failed or some runs failed (cluster/endpoint unreachable, "
            "HTTP error, timeout), 2 usage or configuration error. Run --stack from the Pulumi project directory. "
            "Documentation: docs/coldstart.md."
        ),
    )
    source = parser.add_argument_group("what to measure (flags override the stack outputs)")
    source.add_argument("--stack", help="Pulumi stack to read the outputs from, e.g. aws-dev")
    source.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    source.add_argument("--context", help="kubeconfig context (default: the current context)")
    source.add_argument("--namespace", help="namespace of the InferenceServices")
    source.add_argument(
        "--isvc", action="append", default=[], metavar="NAME",
        help="InferenceService to measure; repeat for the baseline (first: Fluid, second: storage initializer)",
    )
    source.add_argument(
        "--ingress", metavar="[SCHEME://]HOST[:PORT]",
        help="ingress gateway address to connect to (default port: 80 for http, 443 for https)",
    )
    source.add_argument(
        "--host-header", action="append", default=[], metavar="HOST",
        help="Host header per --isvc, in the same order (the baseline's is derived from the first if omitted)",
    )
    source.add_argument("--model-name", help="served model name, the 'model' field of the request")
    source.add_argument(
        "--scale-to-zero-seconds", type=int, metavar="S",
        help="Knative stable window + scale-to-zero grace, for wait hints (default: stack output "
        "scaleToZeroSeconds, else 90)",
    )

    access = parser.add_argument_group("TLS and authentication")
    access.add_argument(
        "--scheme", choices=("http", "https"),
        help="https connects to the ingress address but verifies TLS for the model's host name, like "
        "curl --connect-to (default: the scheme in --ingress, else stack output endpointScheme, else http)",
    )
    verification = access.add_mutually_exclusive_group()
    verification.add_argument(
        "--ca-file", type=Path, metavar="PEM",
        help="verify the gateway's certificate against this CA instead of the system's (a private CA)",
    )
    verification.add_argument(
        "--insecure", action="store_true", help="do not verify the gateway's certificate (prints a warning)"
    )
    access.add_argument(
        "--token-env", metavar="NAME",
        help=f"environment variable with the JWT sent as 'Authorization: Bearer' (default: {DEFAULT_TOKEN_ENV}; "
        "over plain http it is only sent with this flag or when the stack's endpointAuth is jwt)",
    )

    request = parser.add_argument_group("request and repetitions")
    request.add_argument("--prompt", default="Kubernetes is", help="completion prompt (default: %(default)r)")
    request.add_argument("--max-tokens", type=int, default=16, help="default: %(default)s")
    request.add_argument("--runs", type=int, default=3, help="cold starts per InferenceService (default: %(default)s)")
    request.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S",
        help="give up on a request after S seconds (default: %(default)g)",
    )
    request.add_argument(
        "--zero-timeout", type=float, metavar="S",
        help="wait at most S seconds until every measured InferenceService is at zero; 0 does not wait, so "
        "it allows a single cold start of a service already at zero (default: scale-to-zero seconds + 300)",
    )
    request.add_argument(
        "--poll-interval", type=float, default=5.0, metavar="S",
        help="seconds between pod checks while waiting for zero (default: %(default)g)",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=Path("coldstart.json"), help="JSON report (default: %(default)s)")
    output.add_argument(
        "--png", default="coldstart.png",
        help="PNG chart: per group of runs, its median run's phases in time order; '' to skip (default: %(default)s)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    run: CommandRunner = run_command,
    cluster_factory: ClusterFactory = connect,
    clock: Clock | None = None,
    send: Sender | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command; returns the exit code (argparse exits with 2 on bad usage by itself)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    # urllib3 logs each Kubernetes API retry as a warning; the failure, if any, is reported by us.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    clock = clock or SystemClock()
    args = build_parser().parse_args(argv)

    def log(message: str) -> None:
        print(message, file=err, flush=True)

    plan: Plan | None = None
    results: list[TargetResult] = []
    try:
        outputs = read_stack_outputs(args.stack, run) if args.stack else None
        plan = build_plan(outputs, args, os.environ if environ is None else environ)
        send = send or default_sender(plan, clock)
        cluster = cluster_factory(args.kubeconfig, args.context)
        results = [TargetResult(target) for target in plan.targets]
        warning = _access_warning(plan)
        if warning:
            log(f"warning: {warning}")
        token = f", with the bearer token from ${plan.credentials.env}" if plan.credentials.token else ""
        log(
            f"measuring {plan.runs} cold start(s) of {', '.join(t.isvc for t in plan.targets)} "
            f"in namespace {plan.namespace} through {plan.ingress_address}:{plan.ingress_port} "
            f"over {plan.scheme}{token}"
        )
        run_benchmark(plan, results, cluster, clock, send, log)
    except (ColdStartError, KeyboardInterrupt) as exc:
        print(f"error: {exc}" if isinstance(exc, ColdStartError) else "interrupted", file=err)
        if plan is not None and any(r.attempts for r in results):
            log("reporting the runs completed before that:")
            _report(plan, results, clock, args, out, log)
        return exc.exit_code if isinstance(exc, ColdStartError) else 130
    return _report(plan, results, clock, args, out, log)


def _access_warning(plan: Plan) -> str | None:
    """A TLS option that weakens the measurement's security or does nothing, said before any wait."""
    if plan.scheme == "http":
        if plan.insecure or plan.ca_file:
            return "--insecure and --ca-file have no effect on a plain-http endpoint (--scheme https uses TLS)"
        return None
    if plan.insecure:
        exposed = "requests and the bearer token" if plan.credentials.token else "requests"
        hosts = ", ".join(t.host_header for t in plan.targets)
        return (
            f"--insecure: the certificate of {plan.ingress_address} is not verified, so whoever answers "
            f"there for {hosts} gets the {exposed}"
        )
    return None


def _report(
    plan: Plan,
    results: list[TargetResult],
    clock: Clock,
    args: argparse.Namespace,
    out: TextIO,
    log: Callable[[str], None],
) -> int:
    """Print the tables, then write the JSON and PNG; 1 if a run failed or a file could not be written."""
    measured_at = clock.wall()
    print(report.text_report(plan.model_name, results), file=out)
    status = 1 if any(r.failures() for r in results) else 0
    try:
        report.write_json(args.out, report.report_json(plan, results, measured_at))
        log(f"wrote {args.out}")
    except OSError as exc:
        log(f"error: cannot write {args.out}: {exc}")
        status = 1
    if args.png and any(r.runs for r in results):
        try:
            chart.write_png(Path(args.png), plan, results, measured_at)
            log(f"wrote {args.png}")
        except ImportError:
            log("warning: matplotlib is not installed, so no PNG was written (pip install matplotlib)")
        except OSError as exc:
            log(f"error: cannot write {args.png}: {exc}")
            status = 1
    return status
