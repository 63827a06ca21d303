"""Who may call the model: JWT at the gateway, TLS, and network isolation of every tokenless path.

The policy, decided once for every cloud:
- From outside: every request through the gateway's public listeners (80/443) needs a valid JWT from the
  configured issuer with one of the configured audiences. The DENY matches listener ports, not hosts: Knative
  publishes `<isvc>-predictor.<ns>.<domain>` beside KServe's `<isvc>.<ns>.<domain>`, and Istio matches hosts
  ignoring the port a client appends, so a host list leaves both gaps (net-istio ingress reconciler; Istio
  AuthorizationPolicy host semantics). Knative's prober (`K-Network-Probe: probe`) is exempt: the activator and
  queue-proxy answer probes themselves and never forward them to the model.
- From inside the cluster: the same gateway, with the same token. Every other way in is closed by
  NetworkPolicy: model pods admit only the activator, the gateway pods and their own namespace (the cache);
  the activator admits only the gateway and Knative itself; the cluster-local gateway port (where KServe
  forwards external traffic, and which would accept any Host without a token) admits only the gateway pods.
- Model pods cannot reach the cloud's instance metadata endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.wiring import (
    ACTIVATOR_SELECTOR,
    AUTOSCALER_SELECTOR,
    FLUID_NAMESPACE,
    GATEWAY_SELECTOR,
    ISTIO_NAMESPACE,
    KNATIVE_NAMESPACE,
    LOCAL_GATEWAY_PORT,
    TLS_SECRET,
)
from components.names import ModelNames

PROBE_HEADER = "request.headers[K-Network-Probe]"
# The gateway chart's public listeners (service ports 80/443 -> the same container ports) and its health and
# metrics ports; the cluster-local gateway port is deliberately absent.
PUBLIC_GATEWAY_PORTS = (80, 443, 15021, 15090)


@dataclass
class JwtAuth:
    issuer: pulumi.Input[str]
    audiences: list[str]
    jwks_uri: pulumi.Input[str] | None = None  # None: Istio discovers it from the issuer


@dataclass
class EndpointSecurityArgs:
    names: ModelNames
    namespace: pulumi.Input[str]
    auth: JwtAuth | None = None  # None: open (allowed only with an explicit CIDR allow-list)
    tls_issuer: str | None = None  # ClusterIssuer of the gateway certificate; None: no TLS
    metadata_cidr: str | None = None  # the cloud's instance metadata endpoint, kept from model pods
    certificates_ready: list[pulumi.Resource] = field(default_factory=list)  # the issuer exists
    mesh_ready: list[pulumi.Resource] = field(default_factory=list)  # Istio's CRDs exist


class EndpointSecurity(pulumi.ComponentResource):
    """The model namespace's certificate, JWT rules and NetworkPolicy (see the module docstring)."""

    def __init__(self, name: str, args: EndpointSecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:EndpointSecurity", name, None, opts)
        after_mesh = pulumi.ResourceOptions(parent=self, depends_on=args.mesh_ready)
        self.authenticated = args.auth is not None
        self.ready: list[pulumi.Resource] = []
        if args.tls_issuer:
            # a wildcard covers both hosts of every InferenceService in the namespace; Pulumi waits for Ready, so
            # an issuer that cannot issue fails here with cert-manager's reason, not as a 45-minute service wait
            self.certificate = k8s.apiextensions.CustomResource(
                f"{name}-tls", api_version="cert-manager.io/v1", kind="Certificate",
                metadata={"name": TLS_SECRET, "namespace": ISTIO_NAMESPACE,
                          "annotations": {"pulumi.com/waitFor": "condition=Ready"}},
                spec={"secretName": TLS_SECRET, "dnsNames": [args.names.hosts_pattern],
                      "issuerRef": {"kind": "ClusterIssuer", "name": args.tls_issuer, "group": "cert-manager.io"},
                      "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.certificates_ready,
                                            custom_timeouts=pulumi.CustomTimeouts(create="10m", update="10m")))
            self.ready.append(self.certificate)
        if args.auth is not None:
            selector = {"matchLabels": GATEWAY_SELECTOR}
            rule: dict = {"issuer": args.auth.issuer, "audiences": list(args.auth.audiences)}
            if args.auth.jwks_uri:
                rule["jwksUri"] = args.auth.jwks_uri
            authn = k8s.apiextensions.CustomResource(
                f"{name}-jwt", api_version="security.istio.io/v1", kind="RequestAuthentication",
                metadata={"name": f"{name}-jwt", "namespace": ISTIO_NAMESPACE},
                spec={"selector": selector, "jwtRules": [rule]}, opts=after_mesh)
            deny = k8s.apiextensions.CustomResource(
                f"{name}-require-jwt", api_version="security.istio.io/v1", kind="AuthorizationPolicy",
                metadata={"name": f"{name}-require-jwt", "namespace": ISTIO_NAMESPACE},
                spec={"selector": selector, "action": "DENY", "rules": [{
                    "from": [{"source": {"notRequestPrincipals": ["*"]}}],
                    "to": [{"operation": {"ports": ["80", "443"]}}],
                    "when": [{"key": PROBE_HEADER, "notValues": ["probe"]}]}]},
                opts=after_mesh)
            self.ready += [authn, deny]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-isolate", metadata={"name": "model-namespace-isolation", "namespace": args.namespace},
            spec=_model_namespace_policy(args.namespace, args.metadata_cidr), opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"authenticated": self.authenticated})


def _from(namespace: pulumi.Input[str], pods: dict[str, str] | None = None) -> dict:
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def _model_namespace_policy(namespace: pulumi.Input[str], metadata_cidr: str | None) -> dict:
    spec: dict = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
        _from(namespace),  # cache master/workers/FUSE, DataLoad, warmers
        _from(FLUID_NAMESPACE),
        _from(KNATIVE_NAMESPACE, ACTIVATOR_SELECTOR),
        _from(KNATIVE_NAMESPACE, AUTOSCALER_SELECTOR),  # scrapes queue-proxy metrics
        _from(ISTIO_NAMESPACE, GATEWAY_SELECTOR),
    ]}]}
    if metadata_cidr:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [metadata_cidr]}}]}]
    return spec


def isolate_serving_path(parent: pulumi.Resource, after: list[pulumi.Resource]) -> list[k8s.networking.v1.NetworkPolicy]:
    """Cluster-wide half of the policy: the activator and the cluster-local gateway port take no direct calls."""
    opts = pulumi.ResourceOptions(parent=parent, depends_on=after)
    activator = k8s.networking.v1.NetworkPolicy(
        "activator-ingress", metadata={"name": "activator-ingress", "namespace": KNATIVE_NAMESPACE},
        spec={"podSelector": {"matchLabels": ACTIVATOR_SELECTOR}, "policyTypes": ["Ingress"],
              "ingress": [{"from": [_from(ISTIO_NAMESPACE, GATEWAY_SELECTOR), _from(KNATIVE_NAMESPACE)]}]},
        opts=opts)
    gateway = k8s.networking.v1.NetworkPolicy(
        "local-gateway-ingress", metadata={"name": "local-gateway-ingress", "namespace": ISTIO_NAMESPACE},
        spec={"podSelector": {"matchLabels": GATEWAY_SELECTOR}, "policyTypes": ["Ingress"], "ingress": [
            {"ports": [{"port": port, "protocol": "TCP"} for port in PUBLIC_GATEWAY_PORTS]},
            {"from": [{"podSelector": {"matchLabels": GATEWAY_SELECTOR}}],
             "ports": [{"port": LOCAL_GATEWAY_PORT, "protocol": "TCP"}]},
        ]},
        opts=opts)
    return [activator, gateway]
