"""The few Kubernetes reads the tool needs, behind a small interface so tests can pass fakes.

``Cluster`` is what the runner depends on; ``KubernetesCluster`` implements it with the official
``kubernetes`` client, converting its models into the plain snapshots of ``pods.py`` and its
exceptions into the tool's user-facing errors (naming the kubeconfig and context, since "connection
refused" alone does not tell the user which cluster we tried). The client is imported lazily so
``--help`` and the unit tests do not need it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from tools.coldstart.errors import (
    ClusterUnreachable,
    ConfigError,
    InferenceServiceNotFound,
    MeasurementError,
)
from tools.coldstart.pods import COMPONENT_LABEL, ISVC_LABEL, ContainerInfo, NodeInfo, PodEvent, PodSnapshot

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Event, V1Pod

#: Bound on every API call, so an unresponsive API server fails the run instead of hanging it.
REQUEST_TIMEOUT_SECONDS = 30.0
#: The well-known node label with the cloud instance type (g5.8xlarge, ecs.gn7i-c8g1.2xlarge, ...).
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


class Cluster(Protocol):
    """Read access to the cluster that serves the InferenceServices."""

    def clock_offset(self) -> float:
        """API server clock minus client clock, in seconds; also proves the API is reachable."""
        ...

    def get_inference_service(self, namespace: str, name: str) -> Mapping[str, Any]:
        """The InferenceService object; raises InferenceServiceNotFound when it does not exist."""
        ...

    def list_pods(self, namespace: str, isvc: str) -> list[PodSnapshot]:
        """Every pod (including terminating ones) labelled as belonging to InferenceService ``isvc``."""
        ...

    def list_pod_events(self, namespace: str, pod: str) -> list[PodEvent]:
        """The events recorded about pod ``pod``."""
        ...

    def get_node(self, name: str) -> NodeInfo | None:
        """The node ``name``, or None when it is gone or may not be read (nodes are cluster-scoped)."""
        ...


class KubernetesCluster:
    """``Cluster`` backed by the official client, with errors translated for the user."""

    def __init__(self, api_client: ApiClient, description: str) -> None:
        from kubernetes import client

        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._version = client.VersionApi(api_client)
        self._server = api_client.configuration.host
        self._description = description

    def clock_offset(self) -> float:
        """Compare the API server's ``Date`` header with the midpoint of the client-side call.

        ``Date`` has whole-second resolution and is truncated, so the server time is on average
        half a second later than it says; that half second is added back.
        """
        before = datetime.now(UTC)
        with self._translate("reading the API server version"):
            # Raw response: only the header is needed, not the (version-dependent) body model.
            response = self._version.get_code(_preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS)
            response.read()
            response.release_conn()
        after = datetime.now(UTC)
        date = response.headers.get("Date")
        if not date:
            return 0.0
        server = parsedate_to_datetime(date) + timedelta(seconds=0.5)
        return (server - (before + (after - before) / 2)).total_seconds()

    def get_inference_service(self, namespace: str, name: str) -> Mapping[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            with self._translate(f"reading InferenceService {namespace}/{name}", passthrough=(404,)):
                obj: Mapping[str, Any] = self._custom.get_namespaced_custom_object(
                    "serving.kserve.io", "v1beta1", namespace, "inferenceservices", name,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
        except ApiException as exc:  # only 404 gets here, see passthrough
            if _not_found_name(exc) == name:
                raise InferenceServiceNotFound(name, namespace) from exc
            raise ConfigError(
                f"the InferenceService API (serving.kserve.io/v1beta1) is not served by "
                f"{self._server} ({self._description}); is KServe installed on this cluster?"
            ) from exc
        return obj

    def list_pods(self, namespace: str, isvc: str) -> list[PodSnapshot]:
        with self._translate(f"listing the pods of {namespace}/{isvc}"):
            pods = self._core.list_namespaced_pod(
                namespace, label_selector=f"{ISVC_LABEL}={isvc}", _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        return [pod_snapshot(p) for p in pods.items]

    def list_pod_events(self, namespace: str, pod: str) -> list[PodEvent]:
        with self._translate(f"listing the events of pod {namespace}/{pod}"):
            events = self._core.list_namespaced_event(
                namespace,
                field_selector=f"involvedObject.kind=Pod,involvedObject.name={pod}",
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        return [e for e in (pod_event(item) for item in events.items) if e is not None]

    def get_node(self, name: str) -> NodeInfo | None:
        from kubernetes.client.exceptions import ApiException

        try:
            with self._translate(f"reading node {name}", passthrough=(401, 403, 404)):
                node = self._core.read_node(name, _request_timeout=REQUEST_TIMEOUT_SECONDS)
        except ApiException:  # gone since, or no RBAC to read nodes (cluster-scoped): do without
            return None
        labels = node.metadata.labels or {}
        return NodeInfo(name, node.metadata.creation_timestamp, labels.get(INSTANCE_TYPE_LABEL, ""))

    @contextmanager
    def _translate(self, action: str, passthrough: Collection[int] = ()) -> Iterator[None]:
        """Turn client exceptions into messages that name the API server, kubeconfig and context;
        API errors with a ``passthrough`` status are re-raised for the caller to handle."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        where = f"{self._server} ({self._description})"
        try:
            yield
        except ApiException as exc:
            if exc.status in passthrough:
                raise
            if exc.status == 0:  # the client's wrapping of TLS failures
                raise ClusterUnreachable(
                    f"cannot talk to the Kubernetes API at {where} while {action}: {exc.reason}"
                ) from exc
            if exc.status in (401, 403):
                raise ClusterUnreachable(
                    f"the Kubernetes API at {where} refused {action}: HTTP {exc.status} {exc.reason}. "
                    "Refresh the credentials (for EKS: aws eks update-kubeconfig --name <cluster>) "
                    "or use a context allowed to read pods, events and InferenceServices"
                ) from exc
            raise MeasurementError(
                f"Kubernetes API error while {action} at {where}: HTTP {exc.status} {exc.reason}"
            ) from exc
        except (HTTPError, OSError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API at {where} while {action}: {_root_cause(exc)}. "
                "Check that the cluster is running and that --kubeconfig/--context point at it"
            ) from exc


def connect(kubeconfig: str | None, context: str | None) -> KubernetesCluster:
    """Load a kubeconfig (the default one when ``kubeconfig`` is None) and return a cluster handle.

    The kubeconfig file is never written back (``persist_config=False``), even when an exec
    credential plugin refreshes a token.
    """
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError as exc:
        raise ConfigError(
            "the 'kubernetes' Python package is required: pip install -r requirements.txt"
        ) from exc

    description = f"kubeconfig {kubeconfig or '$KUBECONFIG or ~/.kube/config'}, context {context or '(current)'}"
    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError) as exc:
        raise ConfigError(
            f"cannot load {description}: {exc}. Pass --kubeconfig and --context "
            "(for EKS: aws eks update-kubeconfig --name <cluster>)"
        ) from exc
    configuration.retries = 1
    return KubernetesCluster(client.ApiClient(configuration), description)


def pod_snapshot(pod: V1Pod) -> PodSnapshot:
    """Convert a client ``V1Pod`` into the timing-relevant ``PodSnapshot``."""
    meta, spec, status = pod.metadata, pod.spec, pod.status
    conditions = {
        c.type: c.last_transition_time
        for c in (status.conditions or [])
        if c.status == "True" and c.last_transition_time is not None
    }
    return PodSnapshot(
        name=meta.name,
        created=meta.creation_timestamp,
        conditions=conditions,
        init_containers=_containers(spec.init_containers, status.init_container_statuses),
        containers=_containers(spec.containers, status.container_statuses),
        component=(meta.labels or {}).get(COMPONENT_LABEL),
        node_name=spec.node_name,
        deleting=meta.deletion_timestamp is not None,
        phase=status.phase or "",
        reason=status.reason or "",
    )


def _containers(specs: list[Any] | None, statuses: list[Any] | None) -> tuple[ContainerInfo, ...]:
    """The containers in spec order, with the times of their current and previous run."""
    by_name = {s.name: s for s in (statuses or [])}
    found = []
    for container in specs or []:
        status = by_name.get(container.name)
        state = status.state if status else None
        current = state and (state.running or state.terminated)
        previous = status.last_state.terminated if status and status.last_state else None
        found.append(
            ContainerInfo(
                name=container.name,
                started_at=current.started_at if current else None,
                restart_count=status.restart_count if status else 0,
                finished_at=state.terminated.finished_at if state and state.terminated else None,
                previous_started_at=previous.started_at if previous else None,
                image=container.image or "",
            )
        )
    return tuple(found)


def pod_event(event: CoreV1Event) -> PodEvent | None:
    """Convert a client event, timed at its first occurrence; None if it carries no timestamp."""
    when = event.first_timestamp or event.event_time or event.last_timestamp
    if when is None:
        return None
    involved = event.involved_object
    return PodEvent(
        reason=event.reason or "",
        message=event.message or "",
        time=when,
        field_path=(involved.field_path if involved else None) or "",
        source=(event.source.component if event.source else None) or event.reporting_component or "",
        stored=event.metadata.creation_timestamp if event.metadata else None,
    )


def _not_found_name(exc: Exception) -> str | None:
    """The object name a 404 Status body reports (absent when the resource type itself is unknown)."""
    try:
        details = json.loads(getattr(exc, "body", None) or "{}").get("details") or {}
    except (ValueError, AttributeError):
        return None
    name = details.get("name")
    return name if isinstance(name, str) else None


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a urllib3 retry error (e.g. "Connection refused"), without the noise."""
    cause: BaseException = exc
    reason = getattr(cause, "reason", None)
    while isinstance(reason, BaseException):
        cause, reason = reason, getattr(reason, "reason", None)
    return str(cause)
