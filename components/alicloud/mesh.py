"""Alibaba Service Mesh (ASM), the `platform.mesh: asm` option: the managed Istio control plane, its ingress
gateway, and a wait until the gateway's Service exists in the cluster.

The default is `platform.mesh: istio` (the charts AWS uses, through the ACK API). ASM's kubeconfig is the
private one (the provider always asks for `PrivateIpAddress=true`), so the gateway can only be applied from
inside the VPC: run `pulumi up` from the in-VPC deployer. Alibaba documents Knative only as "Knative on ASM",
not a self-installed Knative talking to Istio through the data-plane KubeAPI, so that path is untested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components import versions

GATEWAY_NAMESPACE = "istio-system"
GATEWAY_SERVICE = "istio-ingressgateway"  # ASM names the Service istio-<IstioGateway name>
# security.istio.io/v1 AuthorizationPolicy and RequestAuthentication (components/k8s/security.py) need Istio 1.17
MIN_ISTIO = (1, 17)


@dataclass
class ServiceMeshArgs:
    cluster_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    vswitch_id: pulumi.Input[str]
    cluster_spec: str  # enterprise: the data-plane KubeAPI may read and write Istio resources
    provider: k8s.Provider  # the ACK cluster, where the gateway's Service appears
    registries: dict[str, str] = field(default_factory=dict)  # image mirrors


class ServiceMesh(pulumi.ComponentResource):
    """An ASM instance managing the ACK cluster, with the data-plane KubeAPI allowed to read and write Istio
    resources, and an ingress gateway `ingressgateway` on ports 80 and 443 whose pods carry
    `istio: ingressgateway`, the label Knative's and KServe's gateways select.

    ASM's controller creates the gateway's Service in the cluster some time after the IstioGateway exists;
    `gateway_ready` is a Job that completes once that Service has a load-balancer address, so the platform
    reads it only then. The ASM version is the newest offered at creation and then held (ignore_changes):
    an upgrade is a deliberate change in the ASM console.
    """

    def __init__(self, name: str, args: ServiceMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:ServiceMesh", name, None, opts)
        self.mesh = alicloud.servicemesh.ServiceMesh(
            name, service_mesh_name=name, edition="Pro", cluster_spec=args.cluster_spec, version=newest_version(),
            cluster_ids=[args.cluster_id], network={"vpc_id": args.vpc_id, "vswitche_list": args.vswitch_id},
            extra_configuration={"cr_aggregation_enabled": True}, load_balancer={"api_server_public_eip": False},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["version"]))
        control_plane = k8s.Provider(f"{name}-control-plane", kubeconfig=pulumi.Output.secret(self.mesh.kubeconfig),
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.mesh]))
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-ingressgateway", api_version="istio.alibabacloud.com/v1beta1", kind="IstioGateway",
            metadata={"name": "ingressgateway", "namespace": GATEWAY_NAMESPACE},
            spec={"clusterIds": [args.cluster_id], "gatewayType": "ingress", "serviceType": "LoadBalancer",
                  "replicaCount": 2,
                  "ports": [{"name": "http-0", "port": 80, "targetPort": 80, "protocol": "HTTP"},
                            {"name": "https-0", "port": 443, "targetPort": 443, "protocol": "HTTPS"}],
                  "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"cpu": "2", "memory": "2Gi"}}},
            opts=pulumi.ResourceOptions(parent=self, provider=control_plane))
        self.gateway_ready = self._wait_for_gateway(name, args)
        self.register_outputs({"meshId": self.mesh.id, "version": self.mesh.version})

    def _wait_for_gateway(self, name: str, args: ServiceMeshArgs) -> k8s.batch.v1.Job:
        """A Job in kube-system that waits for the Service to be created, then for its load-balancer address;
        its account may only read Services."""
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        account = k8s.core.v1.ServiceAccount(f"{name}-gateway-wait", metadata={"name": "asm-gateway-wait",
                                                                               "namespace": "kube-system"}, opts=on_cluster)
        role = k8s.rbac.v1.ClusterRole(f"{name}-gateway-wait", metadata={"name": "asm-gateway-wait"}, rules=[
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}], opts=on_cluster)
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-gateway-wait", metadata={"name": "asm-gateway-wait"},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": "asm-gateway-wait", "namespace": "kube-system"}], opts=on_cluster)
        image = versions.mirrored(versions.KUBECTL_IMAGE, args.registries)
        service = ["-n", GATEWAY_NAMESPACE, f"service/{GATEWAY_SERVICE}", "--timeout=1500s"]
        return k8s.batch.v1.Job(
            f"{name}-gateway-wait",
            metadata={"name": "asm-gateway-wait", "namespace": "kube-system",
                      "annotations": {"pulumi.com/waitFor": "condition=Complete"}},
            spec={"backoffLimit": 3, "activeDeadlineSeconds": 1800, "template": {"spec": {
                "serviceAccountName": "asm-gateway-wait", "restartPolicy": "OnFailure",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
                "initContainers": [{"name": "created", "image": image, "args": ["wait", "--for=create", *service]}],
                "containers": [{"name": "addressed", "image": image,
                                "args": ["wait", "--for=jsonpath={.status.loadBalancer.ingress}", *service]}]}}},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.gateway, binding, account],
                                        delete_before_replace=True, custom_timeouts={"create": "30m"}))


def newest_version() -> str:
    """The newest ASM Pro version offered, of at least Istio MIN_ISTIO (versions look like v1.22.6.71-g...-aliyun)."""
    offered = [v.version for v in alicloud.servicemesh.get_versions(edition="Pro").versions]
    usable = [v for v in offered if _numbers(v)[:2] >= MIN_ISTIO]
    if not usable:
        raise ValueError(f"platform.mesh asm: ASM offers no Pro version of Istio {'.'.join(map(str, MIN_ISTIO))} or newer here ({', '.join(offered) or 'none'})")
    return max(usable, key=_numbers)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0]))
