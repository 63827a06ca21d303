"""The serving platform: cert-manager, Istio, Knative Serving, KServe, Fluid and the NVIDIA device plugin."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.config import InstallSwitches
from components.versions import Chart

ISTIO_NAMESPACE = "istio-system"
# Knative's and KServe's default Istio gateways select `istio: ingressgateway`; the gateway chart derives
# that label from the release name minus "istio-", so this exact release name wires everything up.
GATEWAY_RELEASE = "istio-ingressgateway"
GATEWAY_SELECTOR = {"istio": "ingressgateway"}
KNATIVE_NAMESPACE = "knative-serving"
TLS_SECRET = "model-gateway-tls"
KSERVE_NAMESPACE = "kserve"
FLUID_NAMESPACE = "fluid-system"
# Knative flags the InferenceService pod spec needs: GPU node selector, GPU taint toleration, affinity.
KNATIVE_FEATURES = {
    "kubernetes.podspec-nodeselector": "enabled",
    "kubernetes.podspec-tolerations": "enabled",
    "kubernetes.podspec-affinity": "enabled",
}


@dataclass
class ServingPlatformArgs:
    charts: dict[str, Chart]
    knative_serving_version: str
    install: InstallSwitches
    domain: str
    mesh: str  # "istio": install it here; "asm": Alibaba Service Mesh provides it
    progress_deadline_seconds: int
    scale_to_zero_grace_seconds: int
    stable_window_seconds: int
    kubelet_root_dir: str
    # TLS on the ingress gateway: a cert-manager Certificate for these hosts, signed by this ClusterIssuer
    tls_issuer: str | None = None
    tls_hosts: list[pulumi.Input[str]] = field(default_factory=list)
    # resources the platform must wait for: node pools, the ASM gateway
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ServingPlatform(pulumi.ComponentResource):
    """Installs every operator the cache and the InferenceService need, in an order that works on the
    first `pulumi up`: CRDs and webhooks before anything that uses them, and (because Pulumi deletes
    in reverse) custom resources before their operators on `pulumi destroy`.

    Callers make their custom resources depend on `fluid_ready` (Dataset, JindoRuntime, DataLoad) and
    `serving_ready` (ServingRuntime, InferenceService).
    """

    def __init__(self, name: str, args: ServingPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ServingPlatform", name, None, opts)
        self._args = args
        self._charts = args.charts
        self.scheme = "https" if args.tls_issuer else "http"
        base = args.depends_on
        switches = args.install

        cert_manager = self._release("cert-manager", "certManager", "cert-manager", {
            "crds": {"enabled": True, "keep": True}}, base) if switches.cert_manager else None
        gateway = self._istio(base) if args.mesh == "istio" and switches.istio else None
        mesh = [gateway] if gateway else base

        self.certificate = self._certificate(cert_manager, mesh) if args.tls_issuer else None
        self.knative_serving = self._knative(mesh + ([self.certificate] if self.certificate else [])) \
            if switches.knative else None
        self.kserve = self._kserve([r for r in (cert_manager, self.knative_serving) if r] + mesh) \
            if switches.kserve else None
        self.fluid = self._release("fluid", "fluid", FLUID_NAMESPACE, {
            "csi": {"kubelet": {"rootDir": args.kubelet_root_dir}}}, base) if switches.fluid else None
        self.device_plugin = self._release("nvidia-device-plugin", "nvidiaDevicePlugin", "nvidia-device-plugin", {
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": scheduling.GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
        }, base) if switches.nvidia_device_plugin else None

        self.mesh_ready = mesh
        self.fluid_ready: list[pulumi.Resource] = [r for r in (self.fluid,) if r] or base
        self.serving_ready: list[pulumi.Resource] = [r for r in (self.kserve, self.knative_serving) if r] or base
        self.ingress_address = self._gateway_address(mesh)
        self.domain = args.domain
        self.versions = {
            "kserve": self._charts["kserve"].version if switches.kserve else "external",
            "knativeServing": args.knative_serving_version if switches.knative else "external",
            "fluid": self._charts["fluid"].version if switches.fluid else "external",
        }
        self.register_outputs({"ingressAddress": self.ingress_address, "domain": self.domain,
                               "versions": self.versions})

    def _release(self, name: str, key: str, namespace: str, values: dict,
                 depends_on: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        """A pinned Helm release that Pulumi awaits until its workloads (and so its webhooks) are ready."""
        chart = self._charts[key]
        return k8s.helm.v3.Release(
            name, name=name, chart=chart.chart, version=chart.version,
            repository_opts={"repo": chart.repo} if chart.repo else None,
            namespace=namespace, create_namespace=True, atomic=True, cleanup_on_fail=True, timeout=900,
            values=values, opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on))

    def _istio(self, base: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        istio_base = self._release("istio-base", "istioBase", ISTIO_NAMESPACE, {}, base)
        istiod = self._release("istiod", "istiod", ISTIO_NAMESPACE, {}, [istio_base])
        return self._release(GATEWAY_RELEASE, "istioGateway", ISTIO_NAMESPACE, {
            "service": {"type": "LoadBalancer"}, "autoscaling": {"minReplicas": 2}}, [istiod])

    def _certificate(self, cert_manager: k8s.helm.v3.Release | None,
                     mesh: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        """The gateway's serving certificate; Istio reads the Secret it writes in the gateway's namespace."""
        return k8s.apiextensions.CustomResource(
            "gateway-tls", api_version="cert-manager.io/v1", kind="Certificate",
            metadata={"name": TLS_SECRET, "namespace": ISTIO_NAMESPACE},
            spec={"secretName": TLS_SECRET, "dnsNames": self._args.tls_hosts,
                  "issuerRef": {"kind": "ClusterIssuer", "name": self._args.tls_issuer, "group": "cert-manager.io"},
                  "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[r for r in (cert_manager,) if r] + mesh))

    def _gateway_servers(self) -> list[dict]:
        """HTTPS on 443 with the certificate, and port 80 redirecting to it."""
        return [
            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["*"],
             "tls": {"mode": "SIMPLE", "credentialName": TLS_SECRET}},
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"],
             "tls": {"httpsRedirect": True}},
        ]

    def _knative(self, mesh: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        args = self._args
        gateway = {"selector": GATEWAY_SELECTOR}
        if args.tls_issuer:
            gateway["servers"] = self._gateway_servers()
        operator = self._release("knative-operator", "knativeOperator", "knative-operator", {}, mesh)
        namespace = k8s.core.v1.Namespace("knative-serving", metadata={"name": KNATIVE_NAMESPACE},
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=mesh))
        return k8s.apiextensions.CustomResource(
            "knative-serving",
            api_version="operator.knative.dev/v1beta1", kind="KnativeServing",
            metadata={"name": "knative-serving", "namespace": KNATIVE_NAMESPACE,
                      "annotations": {"pulumi.com/waitFor": "condition=Ready"}},
            spec={
                "version": args.knative_serving_version,
                "ingress": {"istio": {"enabled": True, "knative-ingress-gateway": gateway}},
                "config": {
                    "features": KNATIVE_FEATURES,
                    "autoscaler": {
                        "enable-scale-to-zero": "true",
                        "scale-to-zero-grace-period": f"{args.scale_to_zero_grace_seconds}s",
                        "stable-window": f"{args.stable_window_seconds}s",
                    },
                    # A cold start that pulls a multi-GB image and loads a large model can exceed the
                    # 600 s default, after which Knative marks the revision failed.
                    "deployment": {"progress-deadline": f"{args.progress_deadline_seconds}s",
                                   "registries-skipping-tag-resolving": "index.docker.io,docker.io,nvcr.io"},
                    "domain": {args.domain: ""},
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator, namespace],
                                        custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m")))

    def _kserve(self, depends_on: list[pulumi.Resource]) -> k8s.helm.v3.Release:
        crds = self._release("kserve-crd", "kserveCrd", KSERVE_NAMESPACE, {}, depends_on)
        return self._release("kserve", "kserve", KSERVE_NAMESPACE, {"kserve": {"controller": {
            "deploymentMode": "Knative",
            "gateway": {"domain": self._args.domain, "urlScheme": self.scheme,
                        "ingressGateway": {"gateway": "knative-serving/knative-ingress-gateway",
                                           "className": "istio"}},
        }}}, [crds])

    def _gateway_address(self, mesh: list[pulumi.Resource]) -> pulumi.Output[str]:
        """Hostname or IP of the ingress gateway's load balancer (self-installed Istio or ASM)."""
        service = k8s.core.v1.Service.get("ingress-gateway", f"{ISTIO_NAMESPACE}/{GATEWAY_RELEASE}",
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=mesh))

        def address(status) -> str:
            ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
            return (ingress[0].hostname or ingress[0].ip) if ingress else "pending"
        return service.status.apply(address)
