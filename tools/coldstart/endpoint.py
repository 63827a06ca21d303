"""The first request: an OpenAI completions call through the ingress gateway, timed end to end.

This reproduces ``curl -w %{time_total}`` from the published benchmark: the clock starts before the
TCP connection is opened (and before the TLS handshake) and stops after the whole response body is
read. The ingress routes on the Host header (one gateway serves every InferenceService), so we
connect to the gateway address and send the model's host name in ``Host``. Over HTTPS the gateway's
certificate is issued for that host name, not for the load balancer we connect to, so SNI and the
certificate check use the host name too (curl's ``--connect-to <host>:443:<gateway>:443``). Only
the standard library is used, so the measurement does not depend on an HTTP client's connection
pooling or retries.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tools.coldstart.errors import ConfigError, EndpointError

COMPLETIONS_PATH = "/openai/v1/completions"
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_TOKEN_ENV = "TOKEN"
_EXCERPT_CHARS = 300
#: A connection closed after this long under a waiting request points at an idle timeout.
IDLE_TIMEOUT_HINT_SECONDS = 30.0
_REDACTED = "<token>"


@dataclass(frozen=True)
class Endpoint:
    """Where to send the request: the gateway address, the Host header that selects the model, and
    whether to speak TLS (then for the Host header's name)."""

    address: str
    port: int
    host_header: str
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The URL as a user would give it to curl: the gateway for http, the model host for https."""
        host = self.host_header if self.scheme == "https" else _bracketed(self.address)
        port = "" if self.scheme == "https" and self.port == DEFAULT_PORTS["https"] else f":{self.port}"
        return f"{self.scheme}://{host}{port}{COMPLETIONS_PATH}"

    @property
    def description(self) -> str:
        """The URL plus how it is reached, for progress lines and error messages."""
        if self.scheme == "https":
            return f"{self.url} (via {_bracketed(self.address)}:{self.port})"
        return f"{self.url} (Host: {self.host_header})"


@dataclass(frozen=True)
class Credentials:
    """The bearer token sent as ``Authorization`` and the environment variable it came from.

    ``repr=False`` keeps the token out of tracebacks and of anything that prints a plan; messages
    name the variable instead.
    """

    env: str = DEFAULT_TOKEN_ENV
    token: str = field(default="", repr=False)


#: No token, for endpoints without auth (and for callers that do not pass credentials).
ANONYMOUS = Credentials()


@dataclass(frozen=True)
class CompletionResult:
    """A successful first response: HTTP status and the client-side total time in seconds."""

    status: int
    seconds: float


def parse_ingress(value: str, scheme: str = "http") -> tuple[str, str, int]:
    """Split ``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or ``SCHEME://HOST[:PORT]`` into scheme, address
    and port. A scheme written in ``value`` wins over ``scheme``; the port defaults to the scheme's."""
    text = value.strip()
    if not text:
        raise ConfigError("the ingress address is empty; pass --ingress HOST[:PORT]")
    parts = urlsplit(text if "://" in text else f"{scheme}://{text}")
    if parts.scheme not in DEFAULT_PORTS:
        raise ConfigError(f"ingress {value!r}: unsupported scheme {parts.scheme!r}; use http or https")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise ConfigError(f"ingress {value!r}: invalid port ({exc})") from exc
    if not parts.hostname:
        raise ConfigError(f"ingress {value!r}: no host name; pass --ingress HOST[:PORT]")
    return parts.scheme, parts.hostname, port


def tls_context(insecure: bool = False, ca_file: Path | None = None) -> ssl.SSLContext:
    """The client TLS settings: the system's CAs, or only ``ca_file`` (a private CA, PEM), or no
    verification at all with ``insecure`` (the handshake and SNI still happen)."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        raise ConfigError(f"--ca-file {ca_file}: not a PEM CA certificate ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"--ca-file {ca_file}: cannot read it ({exc.strerror or exc})") from exc
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _ConnectToHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS for ``server_name`` over a TCP connection to another address (curl's ``--connect-to``).

    The stock HTTPSConnection uses the address it connects to for SNI and the certificate check,
    which would check the load balancer's name against a certificate issued for the model host.
    """

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # plain TCP to the gateway address
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def post_completion(
    endpoint: Endpoint,
    model: str,
    prompt: str,
    max_tokens: int,
    timeout: float,
    monotonic: Callable[[], float] = time.monotonic,
    *,
    tls: ssl.SSLContext | None = None,
    credentials: Credentials = ANONYMOUS,
) -> CompletionResult:
    """Send one completions request and time it; raise EndpointError unless it returns 2xx.

    ``timeout`` bounds every socket operation; a cold start blocks on the response headers while
    the activator holds the request, so in practice it bounds the whole cold start. ``tls`` is
    used for https endpoints (default: verify against the system's CAs).
    """
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens}).encode()
    headers = {"Host": endpoint.host_header, "Content-Type": "application/json", "Accept": "application/json"}
    if credentials.token:
        headers["Authorization"] = f"Bearer {credentials.token}"
    where = endpoint.description
    connection: http.client.HTTPConnection
    if endpoint.scheme == "https":
        connection = _ConnectToHTTPSConnection(
            endpoint.address, endpoint.port, endpoint.host_header, tls or tls_context(), timeout
        )
    else:
        connection = http.client.HTTPConnection(endpoint.address, endpoint.port, timeout=timeout)
    started = monotonic()
    try:
        connection.request("POST", COMPLETIONS_PATH, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
    except TimeoutError as exc:
        raise EndpointError(
            f"no response from {where} within {timeout:g} s; the model may still be loading or "
            "stuck (check the predictor pods), or raise --timeout",
            transient=True,
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise EndpointError(
            f"TLS verification failed for host {endpoint.host_header} on gateway "
            f"{_bracketed(endpoint.address)}:{endpoint.port}: {exc.verify_message}. If the gateway's "
            "certificate is signed by a private CA, pass --ca-file CA.pem; to measure without "
            "verifying it, pass --insecure"
        ) from exc
    except ssl.SSLError as exc:
        raise EndpointError(
            f"TLS handshake for {where} failed: {exc}. Check that the gateway serves HTTPS on port "
            f"{endpoint.port} for that host name (--scheme http for a plain-http gateway)"
        ) from exc
    except (ConnectionResetError, BrokenPipeError) as exc:  # http.client.RemoteDisconnected is one
        elapsed = monotonic() - started
        raise EndpointError(
            f"{where} closed the connection after {elapsed:.0f} s without a complete response ({exc}). "
            f"{_closed_hint(elapsed)}",
            transient=True,
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise EndpointError(
            f"cannot reach the inference endpoint {where}: {exc}. Check the ingress address and "
            "that the gateway's port is reachable from this machine"
        ) from exc
    finally:
        connection.close()
    seconds = monotonic() - started
    if not 200 <= response.status < 300:
        excerpt = _excerpt(payload)
        if credentials.token:
            excerpt = excerpt.replace(credentials.token, _REDACTED)  # a server may echo what it rejected
        raise EndpointError(
            f"{where} answered HTTP {response.status} {response.reason}"
            f"{_status_hint(response.status, endpoint, credentials)}: {excerpt}",
            transient=response.status >= 500,
        )
    return CompletionResult(status=response.status, seconds=seconds)


def _status_hint(status: int, endpoint: Endpoint, credentials: Credentials) -> str:
    """What a failing status usually means for this tool, in parentheses ("" if nothing to add)."""
    if status in (401, 403):
        env = credentials.env
        if not credentials.token:
            explicit = f"; over plain http the token is only sent when asked for, so also pass --token-env {env}"
            return (
                f" (no bearer token was sent: export {env}=<JWT from the endpoint's issuer>"
                f"{explicit if endpoint.scheme == 'http' else ''})"
            )
        return (
            f" (the bearer token from ${env} was refused: it may be expired, issued by "
            "another issuer than the stack's endpoint.jwtIssuer, or lack a required claim; get a fresh one)"
        )
    if status == 404:
        return " (a 404 usually means the Host header does not match the InferenceService URL: kubectl get isvc)"
    return ""


def _closed_hint(elapsed: float) -> str:
    """Why a connection is closed under a waiting request: after long, an idle timeout in between."""
    if elapsed >= IDLE_TIMEOUT_HINT_SECONDS:
        return (
            "A load balancer in front of the gateway may close a request that waits longer than its idle "
            "timeout, which a cold start easily does (an AWS Classic ELB: 60 s by default): raise that "
            "timeout or use an NLB"
        )
    return "The gateway or the model server dropped it: check the gateway's and the predictor pod's logs"


def _bracketed(address: str) -> str:
    """An address as it appears in a URL: IPv6 literals in brackets."""
    return f"[{address}]" if ":" in address else address


def _excerpt(payload: bytes) -> str:
    """The start of a response body on one line, enough to recognise the server's error."""
    text = " ".join(payload.decode("utf-8", errors="replace").split())
    if not text:
        return "(empty body)"
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."
