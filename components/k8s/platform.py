"""The serving platform: cert-manager, Istio, Knative Serving, KServe, Fluid and the NVIDIA device plugin.

Cluster-wide only: nothing here is per model (the per-model certificate and policies live in
`components.k8s.security`), so a second model is a second namespace, not a second platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.foundation import ClusterFacts
from components.k8s import images
from components.k8s.security import isolate_serving_path
from components.k8s.wiring import (
    CERT_MANAGER_NAMESPACE,
    FLUID_NAMESPACE,
    GATEWAY_RELEASE,
    GATEWAY_SELECTOR,
    ISTIO_NAMESPACE,
    KNATIVE_NAMESPACE,
    KSERVE_NAMESPACE,
    PRIVATE_CA_ISSUER,
    TLS_SECRET,
)
from components.versions import Chart

# Knative flags the InferenceService pod spec needs: GPU node selector, GPU taint toleration, affinity.
KNATIVE_FEATURES = {
    "kubernetes.podspec-nodeselector": "enabled",
    "kubernetes.podspec-tolerations": "enabled",
    "kubernetes.podspec-affinity": "enabled",
}


@dataclass
class InstallSwitches:
    cert_manager: bool = True
    istio: bool = True
    knative: bool = True
    kserve: bool = True
    fluid: bool = True
    nvidia_device_plugin: bool = True


@dataclass
class ServingPlatformArgs:
    charts: dict[str, Chart]
    knative_serving_version: str
    install: InstallSwitches
    domain: str
    mesh: str  # "istio": installed here; "asm": Alibaba Service Mesh provides it (cluster.mesh_gateway)
    cluster: ClusterFacts
    progress_deadline_seconds: int
    scale_to_zero_grace_seconds: int
    stable_window_seconds: int
    # Knative refuses a revision whose timeout exceeds this; set to the InferenceService's request timeout
    max_revision_timeout_seconds: int
    tls: bool = False  # the gateway serves 443 with TLS_SECRET (the endpoint layer issues it) and redirects 80
    private_ca: bool = False  # create a CA ClusterIssuer (PRIVATE_CA_ISSUER) to issue it
    allowed_cidrs: list[str] = field(default_factory=list)  # the gateway load balancer's source ranges
    registries: dict[str, str] = field(default_factory=dict)  # image mirrors
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # node pools, the autoscaler


class ServingPlatform(pulumi.ComponentResource):
    """Installs every operator the cache and the InferenceService need, in an order that works on the first
    `pulumi up`: CRDs and webhooks before anything that uses them, and (because Pulumi deletes in reverse)
    custom resources before their operators on `pulumi destroy`.

    Callers make their custom resources depend on `fluid_ready` (Dataset, runtime, DataLoad), `serving_ready`
    (ServingRuntime, InferenceService) and `certificates_ready` (Certificates).
    """

    def __init__(self, name: str, args: ServingPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ServingPlatform", name, None, opts)
        self._args = args
        base = args.depends_on
        switches = args.install
        cert_manager = self._release("cert-manager", "certManager", CERT_MANAGER_NAMESPACE, {
            "crds": {"enabled": True, "keep": True}, **images.cert_manager(args.registries)}, base) \
            if switches.cert_manager else None
        if args.mesh == "istio" and switches.istio:
            mesh: list[pulumi.Resource] = [self._istio(base)]
        else:
            mesh = args.cluster.mesh_gateway or base
        self.certificates_ready: list[pulumi.Resource] = [r for r in (cert_manager,) if r] or base
        self.ca_certificate: pulumi.Output[str] | None = None
        self.tls_issuer = self._private_ca(self.certificates_ready) if args.private_ca else None
        self.knative_serving = self._knative(mesh) if switches.knative else None
        self.kserve = self._kserve([r for r in (cert_manager, self.knative_serving) if r] + mesh) if switches.kserve else None
        self.fluid = self._release("fluid", "fluid", FLUID_NAMESPACE, {
            "csi": {"kubelet": {"rootDir": args.cluster.kubelet_root_dir},
                    "useNodeAuthorization": args.cluster.fluid_node_authorization},
            **images.fluid(args.registries)}, base) if switches.fluid else None
        device_plugin = switches.nvidia_device_plugin and not args.cluster.ships_device_plugin
        self.device_plugin = self._release("nvidia-device-plugin", "nvidiaDevicePlugin", "nvidia-device-plugin", {
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": scheduling.GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
            **images.nvidia_device_plugin(args.registries)}, base) if device_plugin else None

        self.mesh_ready = mesh
        if self.knative_serving is not None:
            isolate_serving_path(self, [self.knative_serving, *mesh])
        self.fluid_ready: list[pulumi.Resource] = [r for r in (self.fluid,) if r] or base
        self.serving_ready: list[pulumi.Resource] = [r for r in (self.kserve, self.knative_serving) if r] or base
        self.ingress_address = self._gateway_address(mesh)
        self.scheme = "https" if args.tls else "http"
        self.versions = {
            "kserve": args.charts["kserve"].version if switches.kserve else "external",
            "knativeServing": args.knative_serving_version if switches.knative else "external",
            "fluid": args.charts["fluid"].version if switches.fluid else "external",
        }
        self.register_outputs({"ingressAddress": self.ingress_address, "versions": self.versions})

    def _release(self, name: str, key: str, namespace: str, values: dict,
                 depends_on: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        """A pinned Helm release that Pulumi awaits until its workloads (and so its webhooks) are ready."""
        chart = self._args.charts[key]
        return k8s.helm.v3.Release(
            name, name=name, chart=chart.chart, version=chart.version,
            repository_opts={"repo": chart.repo} if chart.repo else None,
            namespace=namespace, create_namespace=True, atomic=True, cleanup_on_fail=True, timeout=900,
            values=values, opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _istio(self, base: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        istio_base = self._release("istio-base", "istioBase", ISTIO_NAMESPACE, {}, base)
        istiod = self._release("istiod", "istiod", ISTIO_NAMESPACE, images.istiod(self._args.registries), [istio_base])
        service = {"type": "LoadBalancer", "annotations": dict(self._args.cluster.load_balancer_annotations)}
        if self._args.allowed_cidrs:
            service["loadBalancerSourceRanges"] = list(self._args.allowed_cidrs)
        return self._release(GATEWAY_RELEASE, "istioGateway", ISTIO_NAMESPACE, {
            "service": service, "autoscaling": {"minReplicas": 2}}, [istiod])

    def _private_ca(self, after: list[pulumi.Resource]) -> str:
        """A CA of this cluster's own (cert-manager's CA bootstrap: a self-signed root, then a CA issuer), so
        TLS works on the first `up` for any domain; clients trust its certificate (stack output caCertificate)."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=after)
        root = k8s.apiextensions.CustomResource(
            "ca-bootstrap", api_version="cert-manager.io/v1", kind="ClusterIssuer",
            metadata={"name": f"{PRIVATE_CA_ISSUER}-bootstrap"}, spec={"selfSigned": {}}, opts=opts)
        ca = k8s.apiextensions.CustomResource(
            "ca", api_version="cert-manager.io/v1", kind="Certificate",
            metadata={"name": PRIVATE_CA_ISSUER, "namespace": CERT_MANAGER_NAMESPACE,
                      "annotations": {"pulumi.com/waitFor": "condition=Ready"}},
            spec={"isCA": True, "commonName": PRIVATE_CA_ISSUER, "secretName": PRIVATE_CA_ISSUER, "duration": "87600h",
                  "privateKey": {"algorithm": "ECDSA", "size": 256},
                  "issuerRef": {"kind": "ClusterIssuer", "name": f"{PRIVATE_CA_ISSUER}-bootstrap", "group": "cert-manager.io"}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[root], custom_timeouts=pulumi.CustomTimeouts(create="5m", update="5m")))
        issuer = k8s.apiextensions.CustomResource(
            "ca-issuer", api_version="cert-manager.io/v1", kind="ClusterIssuer",
            metadata={"name": PRIVATE_CA_ISSUER}, spec={"ca": {"secretName": PRIVATE_CA_ISSUER}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ca]))
        self.certificates_ready = [issuer]
        secret = k8s.core.v1.Secret.get("ca-certificate", f"{CERT_MANAGER_NAMESPACE}/{PRIVATE_CA_ISSUER}",
                                        opts=pulumi.ResourceOptions(parent=self, depends_on=[ca]))
        # the CA's public certificate (not its key) for clients: --cacert
        self.ca_certificate = pulumi.Output.unsecret(secret.data.apply(lambda d: _b64decode((d or {}).get("ca.crt", ""))))
        return PRIVATE_CA_ISSUER

    def _gateway_servers(self) -> list[dict]:
        """HTTPS on 443 with the certificate, and port 80 redirecting to it."""
        return [
            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*"],
             "tls": {"mode": "SIMPLE", "credentialName": TLS_SECRET}},
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"], "tls": {"httpsRedirect": True}},
        ]

    def _knative(self, mesh: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        args = self._args
        gateway: dict = {"selector": GATEWAY_SELECTOR}
        if args.tls:
            gateway["servers"] = self._gateway_servers()
        operator = self._release("knative-operator", "knativeOperator", "knative-operator",
                                 images.knative_operator(args.registries), mesh)
        namespace = k8s.core.v1.Namespace("knative-serving", metadata={"name": KNATIVE_NAMESPACE},
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=mesh))
        spec: dict = {
            "version": args.knative_serving_version,
            "ingress": {"istio": {"enabled": True, "knative-ingress-gateway": gateway}},
            "config": {
                "features": KNATIVE_FEATURES,
                "autoscaler": {
                    "enable-scale-to-zero": "true",
                    "scale-to-zero-grace-period": f"{args.scale_to_zero_grace_seconds}s",
                    "stable-window": f"{args.stable_window_seconds}s",
                },
                # A first pod that pulls a multi-GB image onto a new GPU node and loads a large model can exceed
                # the 600 s default; Knative also gives up activating a request at progress-deadline + 30 s.
                "deployment": {"progress-deadline": f"{args.progress_deadline_seconds}s",
                               "registries-skipping-tag-resolving": images.skip_tag_resolution(args.registries)},
                # The webhook refuses a revision timeout above this (knative/serving revision_validation.go);
                # KServe turns the InferenceService `timeout` into the revision's timeout and response-start timeout.
                "defaults": {"max-revision-timeout-seconds": str(args.max_revision_timeout_seconds)},
                "domain": {args.domain: ""},
            },
        }
        if registry := images.knative_serving_registry(args.registries, args.knative_serving_version):
            spec["registry"] = registry
        return k8s.apiextensions.CustomResource(
            "knative-serving", api_version="operator.knative.dev/v1beta1", kind="KnativeServing",
            metadata={"name": "knative-serving", "namespace": KNATIVE_NAMESPACE,
                      "annotations": {"pulumi.com/waitFor": "condition=Ready"}},
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator, namespace],
                                        custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m")))

    def _kserve(self, depends_on: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        crds = self._release("kserve-crd", "kserveCrd", KSERVE_NAMESPACE, {}, depends_on)
        values = {"kserve": {"controller": {
            "deploymentMode": "Knative",
            "gateway": {"domain": self._args.domain, "urlScheme": "https" if self._args.tls else "http",
                        "ingressGateway": {"gateway": "knative-serving/knative-ingress-gateway", "className": "istio"}},
        }}}
        mirrored = images.kserve(self._args.registries)
        if mirrored:
            values = {"kserve": {**values["kserve"], **mirrored["kserve"],
                                 "controller": {**values["kserve"]["controller"], **mirrored["kserve"].get("controller", {})}}}
        return self._release("kserve", "kserve", KSERVE_NAMESPACE, values, [crds])

    def _gateway_address(self, mesh: list[pulumi.Resource]) -> pulumi.Output[str]:
        """Hostname or IP of the ingress gateway's load balancer, read once the gateway exists."""
        service = k8s.core.v1.Service.get("ingress-gateway", f"{ISTIO_NAMESPACE}/{GATEWAY_RELEASE}",
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=mesh))

        def address(status) -> str:
            ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
            return (ingress[0].hostname or ingress[0].ip) if ingress else "pending"

        return service.status.apply(address)


def _b64decode(value: str) -> str:
    import base64

    return base64.b64decode(value).decode() if value else ""
