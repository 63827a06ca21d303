"""What to measure: resolved from the Pulumi stack outputs, overridden by explicit flags.

``--stack NAME`` reads the outputs the program exports (namespace, inferenceService,
baselineInferenceService, modelHost, baselineModelHost, ingressAddress, modelName,
scaleToZeroSeconds, endpointScheme, endpointAuth); any explicit flag wins over the stack, so
the tool also works on a cluster that was not deployed by this project. The options are defined
once, in ``cli.build_parser``; ``build_plan`` turns the parsed flags into a validated ``Plan``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.coldstart.endpoint import DEFAULT_PORTS, DEFAULT_TOKEN_ENV, Credentials, parse_ingress
from tools.coldstart.errors import ConfigError

FLUID_METHOD = "Fluid cache"
BASELINE_METHOD = "KServe storage initializer"
#: Knative's defaults: a 60 s stable window plus a 30 s scale-to-zero grace period.
DEFAULT_SCALE_TO_ZERO_SECONDS = 90
#: Extra time allowed for the last pod to terminate after Knative decides to scale to zero.
ZERO_WAIT_MARGIN_SECONDS = 300
PULUMI_TIMEOUT_SECONDS = 120
#: Stack outputs with the scale-to-zero time, the current name first (the old one is still read).
SCALE_TO_ZERO_OUTPUTS = ("scaleToZeroSeconds", "scaleToZeroGraceSeconds")

#: Runs a command and returns its standard output; injectable so tests need no pulumi CLI.
CommandRunner = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class Target:
    """One InferenceService to measure and the label it gets in the published-style table."""

    isvc: str
    method: str
    host_header: str


@dataclass(frozen=True)
class Plan:
    """Everything a benchmark run needs, validated."""

    namespace: str
    model_name: str
    ingress_address: str
    ingress_port: int
    scheme: str
    insecure: bool
    ca_file: Path | None
    credentials: Credentials
    targets: tuple[Target, ...]
    scale_to_zero_seconds: int
    prompt: str
    max_tokens: int
    runs: int
    request_timeout: float
    zero_timeout: float
    poll_interval: float


def run_command(argv: Sequence[str]) -> str:
    """Run ``argv`` and return its stdout; any failure becomes a ConfigError quoting stderr."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=PULUMI_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{argv[0]!r} is not on PATH; install it, or pass --namespace, --isvc, --ingress, "
            "--host-header and --model-name instead of --stack"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"{' '.join(argv)} did not finish within {PULUMI_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[:500] or "(no error output)"
        raise ConfigError(f"{' '.join(argv)} failed with exit code {done.returncode}: {detail}")
    return done.stdout


def read_stack_outputs(stack: str, run: CommandRunner = run_command) -> dict[str, Any]:
    """The stack's outputs (run from the Pulumi project directory).

    Without ``--show-secrets``: none of the outputs used is secret, so there is no need to decrypt
    the kubeconfig or to hold the rights to.
    """
    text = run(["pulumi", "stack", "output", "--json", "-s", stack])
    try:
        outputs = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"pulumi stack output -s {stack} did not print JSON: {text[:200]!r}") from exc
    if not isinstance(outputs, dict):
        raise ConfigError(f"pulumi stack output -s {stack} printed {type(outputs).__name__}, not an object")
    return outputs


def build_plan(
    outputs: Mapping[str, Any] | None, flags: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> Plan:
    """Merge stack ``outputs`` (None without --stack) with the parsed ``flags`` and validate the
    result; the bearer token is read from ``environ`` (the variable ``--token-env`` names)."""
    stack = flags.stack
    out = dict(outputs or {})
    missing: list[tuple[str, str]] = []  # (flag, stack output)

    def pick(flag: str | None, output: str, option: str) -> str:
        """The flag, else the stack output; records the option as missing and returns ""."""
        if flag:
            return flag
        value = out.get(output)
        if value is None or value == "":
            missing.append((option, output))
            return ""
        if not isinstance(value, str):
            raise ConfigError(f"stack output {output!r} should be a string, got {value!r}")
        return value

    namespace = pick(flags.namespace, "namespace", "--namespace")
    model_name = pick(flags.model_name, "modelName", "--model-name")
    ingress = pick(flags.ingress, "ingressAddress", "--ingress")
    isvcs = _isvc_names(tuple(flags.isvc), out, missing)
    if missing:
        flags_needed = ", ".join(option for option, _ in missing)
        if stack:
            outputs_missing = ", ".join(output for _, output in missing)
            raise ConfigError(
                f"stack {stack!r} has no value for output(s) {outputs_missing}: pass {flags_needed}, "
                "or run `pulumi up` on a program version that exports them"
            )
        raise ConfigError(
            f"missing {flags_needed}: pass --stack NAME to read them from the Pulumi stack outputs, "
            "or give these flags"
        )
    stack_scheme = out.get("endpointScheme") or "http"
    if stack_scheme not in DEFAULT_PORTS:
        raise ConfigError(f"stack output 'endpointScheme' should be 'http' or 'https', got {stack_scheme!r}")
    scheme, address, port = parse_ingress(ingress, flags.scheme or stack_scheme)
    if flags.scheme and scheme != flags.scheme:
        raise ConfigError(f"--scheme {flags.scheme} contradicts the ingress address {ingress!r}")
    token = (environ or {}).get(flags.token_env or DEFAULT_TOKEN_ENV, "")
    credentials = _credentials(flags.token_env, token, scheme, out.get("endpointAuth"), stack)

    known_hosts = {
        out.get("inferenceService"): out.get("modelHost"),
        out.get("baselineInferenceService"): out.get("baselineModelHost"),
    }
    targets = tuple(
        Target(
            isvc=name,
            method=FLUID_METHOD if index == 0 else BASELINE_METHOD,
            host_header=_host_header(index, name, isvcs, tuple(flags.host_header), known_hosts),
        )
        for index, name in enumerate(isvcs)
    )

    grace = _scale_to_zero_seconds(flags.scale_to_zero_seconds, out)
    _check_positive(
        runs=flags.runs, max_tokens=flags.max_tokens, timeout=flags.timeout, poll_interval=flags.poll_interval
    )
    zero_timeout = flags.zero_timeout if flags.zero_timeout is not None else grace + ZERO_WAIT_MARGIN_SECONDS
    if zero_timeout < 0:
        raise ConfigError(f"--zero-timeout must be 0 or more seconds, got {zero_timeout:g}")
    if zero_timeout == 0 and flags.runs * len(targets) > 1:
        raise ConfigError(
            "--zero-timeout 0 does not wait, so it allows one cold start only: every later one would find "
            "the pod of the one before still up. Pass --runs 1 and a single --isvc, or let the tool wait "
            f"(the default waits up to {grace + ZERO_WAIT_MARGIN_SECONDS} s)"
        )
    return Plan(
        namespace=namespace,
        model_name=model_name,
        ingress_address=address,
        ingress_port=port,
        scheme=scheme,
        insecure=flags.insecure,
        ca_file=flags.ca_file,
        credentials=credentials,
        targets=targets,
        scale_to_zero_seconds=grace,
        prompt=flags.prompt,
        max_tokens=flags.max_tokens,
        runs=flags.runs,
        request_timeout=flags.timeout,
        zero_timeout=zero_timeout,
        poll_interval=flags.poll_interval,
    )


def _scale_to_zero_seconds(flag: int | None, out: Mapping[str, Any]) -> int:
    """``--scale-to-zero-seconds``, else the stack output (new name first), else Knative's default."""
    if flag is not None:
        value, source = flag, "--scale-to-zero-seconds"
    else:
        name = next((n for n in SCALE_TO_ZERO_OUTPUTS if out.get(n) is not None), None)
        if name is None:
            return DEFAULT_SCALE_TO_ZERO_SECONDS
        value, source = out[name], f"stack output {name!r}"
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"the scale-to-zero time ({source}) must be whole seconds >= 0, got {value!r}")
    return value


def _credentials(token_env: str | None, token: str, scheme: str, auth: Any, stack: str | None) -> Credentials:
    """The bearer token to send, from the variable ``--token-env`` names (default $TOKEN).

    A stack with JWT auth cannot be measured without one, so that fails before any waiting.
    Otherwise the token goes out over https, and over plain http only when the stack asks for it
    or --token-env was given, so that a $TOKEN meant for something else is not sent in clear text.
    """
    env = token_env or DEFAULT_TOKEN_ENV
    token = token.strip()
    if auth == "jwt" and not token:
        raise ConfigError(
            f"stack {stack!r} serves the model with JWT auth (endpointAuth 'jwt') but ${env} is empty: "
            f"export {env}=<JWT from the endpoint's issuer>, or name another variable with --token-env"
        )
    if not (auth == "jwt" or scheme == "https" or token_env):
        return Credentials(env)
    if any(char.isspace() or not char.isprintable() for char in token):
        # http.client would refuse the header with the token in its message; say it without the value
        raise ConfigError(f"${env} does not hold a single JWT: it contains whitespace or control characters")
    return Credentials(env, token)


def _isvc_names(flags: tuple[str, ...], out: Mapping[str, Any], missing: list[tuple[str, str]]) -> tuple[str, ...]:
    """``--isvc`` values, else the stack's Fluid InferenceService and, if deployed, its baseline."""
    if len(flags) > 2:
        raise ConfigError(f"--isvc given {len(flags)} times; pass at most two: the Fluid one, then the baseline")
    if flags:
        return flags
    names = tuple(n for n in (out.get("inferenceService"), out.get("baselineInferenceService")) if n)
    if not names:
        missing.append(("--isvc", "inferenceService"))
    return names


def _host_header(
    index: int,
    name: str,
    isvcs: tuple[str, ...],
    explicit: tuple[str, ...],
    known: Mapping[Any, Any],
) -> str:
    """The Host header for the ``index``-th InferenceService.

    In order: the ``--host-header`` at the same position; the stack's host for that name; or,
    for the baseline, the Fluid host with its first label swapped, following KServe's
    ``<isvc>.<namespace>.<domain>`` naming.
    """
    if index < len(explicit):
        return explicit[index]
    host = known.get(name)
    if isinstance(host, str) and host:
        return host
    if index > 0:
        first = explicit[0] if explicit else known.get(isvcs[0])
        if isinstance(first, str) and first.startswith(f"{isvcs[0]}."):
            return f"{name}.{first[len(isvcs[0]) + 1:]}"
    raise ConfigError(
        f"no Host header for InferenceService {name!r}: pass --host-header for it "
        f"(kubectl get isvc {name} shows its URL)"
    )


def _check_positive(**values: float) -> None:
    """Reject zero or negative counts and durations with the offending option named."""
    for option, value in values.items():
        if value <= 0:
            raise ConfigError(f"--{option.replace('_', '-')} must be positive, got {value:g}")
