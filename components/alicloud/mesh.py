"""Alibaba Service Mesh (ASM): the managed Istio control plane and its ingress gateway."""
from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s


class ServiceMesh(pulumi.ComponentResource):
    """An ASM instance managing the ACK cluster, with the data-plane KubeAPI allowed to read and write
    Istio resources (Knative's net-istio and KServe create VirtualServices and Gateways through the
    cluster's own API server), and an ingress gateway `ingressgateway` on ports 80 and 443 whose pods
    carry `istio: ingressgateway`, the label Knative's and KServe's gateways select."""

    def __init__(self, name: str, cluster_id: pulumi.Input[str], vpc_id: pulumi.Input[str],
                 vswitch_id: pulumi.Input[str], cluster_spec: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:ServiceMesh", name, None, opts)
        self.mesh = alicloud.servicemesh.ServiceMesh(
            name, service_mesh_name=name, edition="Pro", cluster_spec=cluster_spec,
            cluster_ids=[cluster_id], network={"vpc_id": vpc_id, "vswitche_list": vswitch_id},
            extra_configuration={"cr_aggregation_enabled": True},
            load_balancer={"api_server_public_eip": False, "pilot_public_eip": False},
            opts=pulumi.ResourceOptions(parent=self))
        control_plane = k8s.Provider(f"{name}-control-plane", kubeconfig=pulumi.Output.secret(self.mesh.kubeconfig),
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.mesh]))
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-ingressgateway", api_version="istio.alibabacloud.com/v1beta1", kind="IstioGateway",
            metadata={"name": "ingressgateway", "namespace": "istio-system"},
            spec={"clusterIds": [cluster_id], "gatewayType": "ingress", "serviceType": "LoadBalancer",
                  "replicaCount": 2,
                  "ports": [{"name": "http-0", "port": 80, "targetPort": 80, "protocol": "HTTP"},
                            {"name": "https-0", "port": 443, "targetPort": 443, "protocol": "HTTPS"}],
                  "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"cpu": "2", "memory": "2Gi"}}},
            opts=pulumi.ResourceOptions(parent=self, provider=control_plane))
        self.register_outputs({"meshId": self.mesh.id})
