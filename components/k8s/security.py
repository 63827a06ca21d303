"""Endpoint security: JWT authentication at the ingress gateway, and network isolation of the model namespace."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.platform import FLUID_NAMESPACE, GATEWAY_SELECTOR, ISTIO_NAMESPACE, KNATIVE_NAMESPACE


@dataclass
class EndpointSecurityArgs:
    namespace: pulumi.Input[str]
    hosts: list[pulumi.Input[str]]  # the model hosts the gateway protects
    jwt_issuer: str | None = None  # None: the endpoint stays open (dev)
    jwks_uri: str | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # Istio's CRDs


class EndpointSecurity(pulumi.ComponentResource):
    """- With a JWT issuer: a `RequestAuthentication` that validates tokens at the gateway and an
      `AuthorizationPolicy` that denies requests to the model hosts without a valid one.
    - Always: a NetworkPolicy that lets into the model namespace (cache workers, FUSE, model servers)
      only the namespace itself, Fluid, Knative's activator and the Istio gateway.
    """

    def __init__(self, name: str, args: EndpointSecurityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:EndpointSecurity", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.authenticated = args.jwt_issuer is not None
        if self.authenticated:
            selector = {"matchLabels": GATEWAY_SELECTOR}
            k8s.apiextensions.CustomResource(
                f"{name}-jwt", api_version="security.istio.io/v1", kind="RequestAuthentication",
                metadata={"name": f"{name}-jwt", "namespace": ISTIO_NAMESPACE},
                spec={"selector": selector, "jwtRules": [{"issuer": args.jwt_issuer, "jwksUri": args.jwks_uri}]},
                opts=after)
            hosts = pulumi.Output.all(*args.hosts).apply(lambda hs: [h for host in hs for h in (host, f"{host}:*")])
            k8s.apiextensions.CustomResource(
                f"{name}-require-jwt", api_version="security.istio.io/v1", kind="AuthorizationPolicy",
                metadata={"name": f"{name}-require-jwt", "namespace": ISTIO_NAMESPACE},
                spec={"selector": selector, "action": "DENY", "rules": [{
                    "from": [{"source": {"notRequestPrincipals": ["*"]}}],
                    "to": [{"operation": {"hosts": hosts}}]}]},
                opts=after)
        allowed = pulumi.Output.from_input(args.namespace).apply(lambda ns: [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
            for n in (ns, FLUID_NAMESPACE, KNATIVE_NAMESPACE, ISTIO_NAMESPACE)])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-isolate", metadata={"name": "model-namespace-isolation", "namespace": args.namespace},
            spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": allowed}]},
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"authenticated": self.authenticated})
