"""Errors the cold-start tool reports to the user, each carrying its process exit code.

The CLI prints ``str(error)`` and exits with ``error.exit_code``; nothing else is shown, so every
message must name what was tried (URL, Host header, kubeconfig, namespace) and what to do next.
Exit code 2 means the invocation or the configuration is wrong (fix the flags or the stack);
exit code 1 means the configuration looked right but the measurement could not be made.
"""

from __future__ import annotations


class ColdStartError(Exception):
    """Base class: a failure with a user-facing message and an exit code."""

    exit_code: int = 1


class ConfigError(ColdStartError):
    """Flags, stack outputs or kubeconfig are missing or inconsistent (exit code 2)."""

    exit_code = 2


class InferenceServiceNotFound(ConfigError):
    """The named InferenceService does not exist in the namespace (a wrong name is a config error)."""

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(
            f"InferenceService {name!r} not found in namespace {namespace!r}. "
            f"List the existing ones with: kubectl get isvc -n {namespace}"
        )
        self.name = name
        self.namespace = namespace


class MeasurementError(ColdStartError):
    """The measurement itself failed: cluster or endpoint unreachable, timeout (exit code 1)."""


class ClusterUnreachable(MeasurementError):
    """The Kubernetes API server could not be reached or refused our credentials."""


class EndpointError(MeasurementError):
    """The inference endpoint could not be reached, timed out or answered with a non-2xx status.

    ``transient`` says the next cold start may well succeed (HTTP 5xx, connection closed, timeout),
    so the benchmark records the failed run and goes on; otherwise (HTTP 4xx, TLS, connection
    refused) every run would fail the same way, so it stops.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
