"""Fakes for the cold-start tool tests: clock, cluster, sender, a loopback inference endpoint (plain
or TLS, with certificates from a throwaway private CA) and a loopback Kubernetes API server.

The fake cluster plays Knative: it has no pod until a request arrives, then reports a pod whose
timestamps are the scripted offsets from the request time (shifted by the API server's clock
skew), and removes the pod after a few more polls, as scale-to-zero would.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tools.coldstart.endpoint import CompletionResult, Endpoint
from tools.coldstart.pods import ContainerInfo, NodeInfo, PodEvent, PodSnapshot

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float, base: datetime = T0) -> datetime:
    """``base`` plus ``seconds``."""
    return base + timedelta(seconds=seconds)


#: When the nodes that a script does not create joined the cluster.
OLD_NODE = T0 - timedelta(days=1)


@dataclass(frozen=True)
class ColdStart:
    """A scripted cold start: milestone offsets in seconds from the request, as the cluster would
    record them (the API server's clock for ``created``/``scheduled``, the node's for the rest).

    ``mounted`` is the kubelet's first image event (volumes are mounted before it); with init
    containers, their image is pulled until ``init_pulled``, they run from ``init_started`` to
    ``initialized``; ``pulling`` is the model-server image's Pulling event (when not cached).
    ``restarted`` is when kserve-container runs again after a crash.
    """

    created: float = 1.0
    scheduled: float = 2.0
    initialized: float = 2.0
    pulled: float = 3.0
    started: float = 4.0
    ready: float = 45.0
    init_containers: tuple[str, ...] = ()
    image_cached: bool = True
    scale_up: bool = False
    mounted: float | None = None
    init_pulled: float | None = None
    init_started: float | None = None
    pulling: float | None = None
    failed_scheduling: str = ""
    restarted: float | None = None
    init_image_cached: bool | None = None  # default: image_cached
    node: str = "gpu-node-1"
    instance_type: str = "g5.8xlarge"

    @property
    def first_image_event(self) -> float:
        if self.mounted is not None:
            return self.mounted
        return self.scheduled if self.init_containers else (self.pulling if self.pulling is not None else self.pulled)

    def pod(self, name: str, base: datetime, node_skew: float = 0.0) -> PodSnapshot:
        """The pod as listed after the cold start; ``base`` is the request time on the API server's
        clock, and the node's clock is ``node_skew`` ahead of it."""

        def node(seconds: float) -> datetime:
            return at(seconds + node_skew, base)

        init = tuple(
            ContainerInfo(c, node(self._init_started), finished_at=node(self.initialized), image=f"kserve/{c}:v0.15")
            for c in self.init_containers
        )
        model = ContainerInfo("kserve-container", node(self.started), image="vllm/vllm-openai:v0.8.5")
        if self.restarted is not None:
            model = replace(
                model, started_at=node(self.restarted), restart_count=1, previous_started_at=node(self.started)
            )
        return PodSnapshot(
            name=name,
            created=at(self.created, base),
            conditions={
                "PodScheduled": at(self.scheduled, base),
                "Initialized": node(self.initialized),
                "ContainersReady": node(self.ready),
                "Ready": node(self.ready),
            },
            init_containers=init,
            containers=(model, ContainerInfo("queue-proxy", node(self.started), image="knative/queue:1.17")),
            component="predictor",
            node_name=self.node,
        )

    @property
    def _init_pulled(self) -> float:
        return self.init_pulled if self.init_pulled is not None else self.first_image_event

    @property
    def _init_started(self) -> float:
        return self.init_started if self.init_started is not None else self._init_pulled

    def events(self, base: datetime, node_skew: float = 0.0) -> list[PodEvent]:
        """What the scheduler, the autoscaler and the kubelet report about the pod. Kubelet events
        carry the node's time and are stored by the API server at its own."""
        def api(reason: str, message: str, seconds: float, source: str) -> PodEvent:
            return PodEvent(reason, message, at(seconds, base), source=source, stored=at(seconds, base))

        def kubelet(reason: str, message: str, seconds: float, container: str, init: bool = False) -> PodEvent:
            path = f"spec.{'initContainers' if init else 'containers'}{{{container}}}"
            return PodEvent(reason, message, at(seconds + node_skew, base), path, "kubelet", at(seconds, base))

        def image(container: str, pulled: float, pulling: float, init: bool = False) -> list[PodEvent]:
            cached = self.init_image_cached if init and self.init_image_cached is not None else self.image_cached
            if cached:
                return [kubelet("Pulled", f'Container image "{container}" already present on machine', pulled,
                                container, init)]
            return [
                kubelet("Pulling", f'Pulling image "{container}"', pulling, container, init),
                kubelet("Pulled", f'Successfully pulled image "{container}" in {pulled - pulling:.1f}s', pulled,
                        container, init),
            ]

        assigned = f"Successfully assigned models/pod to {self.node}"
        events = [api("Scheduled", assigned, self.scheduled, "default-scheduler")]
        if self.scale_up or self.failed_scheduling:
            message = self.failed_scheduling or "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
            events.append(api("FailedScheduling", message, self.created, "default-scheduler"))
        if self.scale_up:
            scale_up = "pod triggered scale-up: [{gpu 0->1 (max: 2)}]"
            events.append(api("TriggeredScaleUp", scale_up, self.created + 1, "cluster-autoscaler"))
        for name in self.init_containers[:1]:
            events += image(name, self._init_pulled, self.first_image_event, init=True)
            events.append(kubelet("Started", f"Started container {name}", self._init_started, name, init=True))
        pulling = self.pulling if self.pulling is not None else (
            self.initialized if self.init_containers else self.first_image_event
        )
        events += image("kserve-container", self.pulled, pulling)
        events.append(kubelet("Started", "Started container kserve-container", self.started, "kserve-container"))
        events += image("queue-proxy", self.started, self.started)
        events.append(kubelet("Started", "Started container queue-proxy", self.started, "queue-proxy"))
        return events


class FakeClock:
    """Wall and monotonic time that only move when told to (``sleep`` or ``advance``)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class _Isvc:
    obj: dict[str, Any]
    scripts: tuple[ColdStart, ...]
    pods: list[PodSnapshot] = field(default_factory=list)
    events: list[PodEvent] = field(default_factory=list)
    visible_polls: int | None = None  # list_pods calls that still see the pods (None: forever)
    unready_polls: int = 0  # of those, how many see it not Ready yet
    requests: int = 0


class FakeCluster:
    """A ``Cluster`` whose InferenceServices scale from zero when ``on_request`` is called.

    ``skew`` is how far the API server clock runs ahead of the client (applied to every pod
    timestamp); ``measured_offset`` is what ``clock_offset`` reports (defaults to ``skew``);
    ``node_skew`` is how far the nodes' clocks run ahead of the API server's.
    Each InferenceService has a script, or a list of them used one per request (the last repeats).
    After a request, the first ``ready_after_polls`` looks at the pod see it not Ready, the next
    one sees it Ready, and ``busy_polls`` more still see it before it is scaled away.
    ``initial_pods`` makes an InferenceService start with a warm pod that disappears after that
    many ``list_pods`` calls (None: it never does); ``leftovers`` are pods that stay listed for
    ever (evicted ones). ``contended`` records every request that arrived while another
    InferenceService still had a pod, which on a one-GPU pool waits for it to go.
    """

    def __init__(
        self,
        scripts: Mapping[str, ColdStart | Sequence[ColdStart]],
        *,
        namespace: str = "models",
        skew: float = 0.0,
        measured_offset: float | None = None,
        node_skew: float = 0.0,
        busy_polls: int = 1,
        objects: Mapping[str, dict[str, Any]] | None = None,
        initial_pods: Mapping[str, int | None] | None = None,
        ready_after_polls: int = 0,
        leftovers: Mapping[str, Sequence[PodSnapshot]] | None = None,
    ) -> None:
        self.namespace = namespace
        self.skew = skew
        self.measured_offset = skew if measured_offset is None else measured_offset
        self.node_skew = node_skew
        self.ready_after_polls = ready_after_polls
        self.busy_polls = busy_polls
        self.leftovers = {k: list(v) for k, v in (leftovers or {}).items()}
        self.nodes: dict[str, NodeInfo] = {}
        self.calls: list[str] = []
        self.contended: list[tuple[str, tuple[str, ...]]] = []
        self._isvcs: dict[str, _Isvc] = {}
        for name, script in scripts.items():
            obj = (objects or {}).get(name, {"metadata": {"name": name}, "spec": {"predictor": {"minReplicas": 0}}})
            state = _Isvc(obj=obj, scripts=(script,) if isinstance(script, ColdStart) else tuple(script))
            warm = (initial_pods or {}).get(name, 0)
            if warm != 0:
                state.pods = [state.scripts[0].pod(f"{name}-warm", T0 - timedelta(hours=1))]
                state.visible_polls = warm
            self._isvcs[name] = state

    def host_for(self, isvc: str) -> str:
        return f"{isvc}.{self.namespace}.example.com"

    def on_request(self, host: str, client_time: datetime) -> None:
        """Knative creating a pod for the request that just arrived with ``host``."""
        isvc = host.split(".", 1)[0]
        holders = tuple(name for name, other in self._isvcs.items() if name != isvc and other.pods)
        if holders:
            self.contended.append((isvc, holders))
        state = self._isvcs[isvc]
        script = state.scripts[min(state.requests, len(state.scripts) - 1)]
        state.requests += 1
        base = client_time + timedelta(seconds=self.skew)
        state.pods = [script.pod(f"{isvc}-predictor-{state.requests:05d}", base, self.node_skew)]
        state.events = script.events(base, self.node_skew)
        state.visible_polls = self.ready_after_polls + 1 + self.busy_polls
        state.unready_polls = self.ready_after_polls
        joined = at(script.scheduled - 10, base) if script.scale_up else OLD_NODE
        if script.scale_up or script.node not in self.nodes:
            self.nodes[script.node] = NodeInfo(script.node, joined, script.instance_type)

    # -- Cluster protocol ---------------------------------------------------------------------
    def clock_offset(self) -> float:
        self.calls.append("clock_offset")
        return self.measured_offset

    def get_inference_service(self, namespace: str, name: str) -> Mapping[str, Any]:
        from tools.coldstart.errors import InferenceServiceNotFound

        self.calls.append(f"get_isvc {name}")
        if namespace != self.namespace or name not in self._isvcs:
            raise InferenceServiceNotFound(name, namespace)
        return self._isvcs[name].obj

    def list_pods(self, namespace: str, isvc: str) -> list[PodSnapshot]:
        self.calls.append(f"list_pods {isvc}")
        state = self._isvcs[isvc]
        leftovers = self.leftovers.get(isvc, [])
        if state.visible_polls == 0:
            state.pods = []
        if not state.pods:
            return list(leftovers)
        if state.visible_polls is not None:
            state.visible_polls -= 1
        if state.unready_polls:
            state.unready_polls -= 1
            return [_without_ready(p) for p in state.pods] + leftovers
        return list(state.pods) + leftovers

    def list_pod_events(self, namespace: str, pod: str) -> list[PodEvent]:
        self.calls.append(f"list_events {pod}")
        return [e for state in self._isvcs.values() if any(p.name == pod for p in state.pods) for e in state.events]

    def get_node(self, name: str) -> NodeInfo | None:
        self.calls.append(f"get_node {name}")
        return self.nodes.get(name)


def _without_ready(pod: PodSnapshot) -> PodSnapshot:
    conditions = {k: v for k, v in pod.conditions.items() if k not in ("Ready", "ContainersReady")}
    return replace(pod, conditions=conditions)


class FakeSender:
    """Stands in for the HTTP request: tells the cluster, then advances the clock by the total.

    ``totals`` gives per InferenceService the client-side total, or a list used one per request
    (the last repeats) whose items may also be an exception to raise after the pod was created.
    """

    def __init__(
        self, cluster: FakeCluster, clock: FakeClock, totals: Mapping[str, float | Sequence[float | Exception]]
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.totals = {k: [v] if isinstance(v, (int, float)) else list(v) for k, v in totals.items()}
        self.endpoints: list[Endpoint] = []

    def __call__(self, endpoint: Endpoint) -> CompletionResult:
        self.endpoints.append(endpoint)
        self.cluster.on_request(endpoint.host_header, self.clock.wall())
        planned = self.totals[endpoint.host_header.split(".", 1)[0]]
        outcome = planned.pop(0) if len(planned) > 1 else planned[0]
        if isinstance(outcome, Exception):
            self.clock.advance(1.0)
            raise outcome
        self.clock.advance(outcome)
        return CompletionResult(status=200, seconds=outcome)


# -- loopback HTTP servers ------------------------------------------------------------------------


@dataclass
class Reply:
    """What the fake endpoint answers: status, body and how long it waits first."""

    status: int = 200
    body: bytes = b'{"id": "cmpl-1", "choices": [{"text": " a container orchestrator"}]}'
    delay: float = 0.0
    close: bool = False  # close the connection without answering (a load balancer's idle timeout)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a private CA and of a server certificate it signed."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_tls_files(directory: Path, *hosts: str) -> TlsFiles:
    """A CA and a server certificate for ``hosts`` (DNS names only, so 127.0.0.1 itself is not valid).

    Built with the extensions strict verification (Python 3.13's default) insists on.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, signer: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        )

    def key_usage(cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        certificate("coldstart test CA", ca_key, None, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        certificate(hosts[0], server_key, ca.subject, ca_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


class _QuietServer(ThreadingHTTPServer):
    """Does not print the tracebacks of connections the client aborted (failed TLS handshakes)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _LoopbackServer:
    """Runs ``self.server`` on a daemon thread for the duration of a ``with`` block."""

    server: ThreadingHTTPServer

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeEndpoint(_LoopbackServer):
    """An OpenAI-completions-like server on 127.0.0.1; replies are consumed in order, the last repeats.

    ``on_request(host, time)`` is called when a request arrives, before the delay, so a fake
    cluster can create its pod relative to the request. With ``tls`` (a server context) it speaks
    HTTPS and records the SNI name of every handshake in ``server_names``.
    """

    def __init__(
        self,
        *replies: Reply,
        on_request: Callable[[str, datetime], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.replies = list(replies) or [Reply()]
        self.on_request = on_request
        self.received: list[Received] = []
        self.server_names: list[str | None] = []
        endpoint = self
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: endpoint.server_names.append(name)

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                if tls is not None:  # handshake in this connection's thread, not the accept loop
                    self.request = tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                endpoint.received.append(Received(self.path, dict(self.headers.items()), payload))
                if endpoint.on_request:
                    endpoint.on_request(self.headers.get("Host", ""), datetime.now(UTC))
                reply = endpoint.replies.pop(0) if len(endpoint.replies) > 1 else endpoint.replies[0]
                time.sleep(reply.delay)
                if reply.close:
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


class FakeApiServer(_LoopbackServer):
    """A minimal Kubernetes API server on 127.0.0.1: GET ``path`` -> (status, JSON) from ``routes``.

    Unknown paths answer 404 with a Status carrying no details (what an unknown resource type
    gets). ``date`` overrides the ``Date`` header to simulate a skewed server clock. Query
    strings of the requests are kept in ``queries`` for assertions on selectors.
    """

    def __init__(self, routes: Mapping[str, tuple[int, Any]], date: datetime | None = None) -> None:
        self.routes = dict(routes)
        self.queries: dict[str, dict[str, list[str]]] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                path = url.path.rstrip("/")  # the client asks for /version/
                api.queries[path] = parse_qs(url.query)
                status, body = api.routes.get(
                    path, (404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def date_time_string(self, timestamp: float | None = None) -> str:
                if date is None:
                    return super().date_time_string(timestamp)
                return date.strftime("%a, %d %b %Y %H:%M:%S GMT")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def write_kubeconfig(path: Any, server: str, context: str = "fake") -> str:
    """A kubeconfig for ``server`` with a static token; returns the file name as a string."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "test-token"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return str(path)


@contextmanager
def free_port() -> Iterator[int]:
    """A loopback port with nothing listening on it (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port
