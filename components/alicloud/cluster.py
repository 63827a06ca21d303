"""ACK Pro managed cluster with RRSA, KMS-encrypted Secrets, and a Kubernetes provider."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s


@dataclass
class AckClusterArgs:
    name: str
    vswitch_ids: list[pulumi.Input[str]]
    endpoint_public_access: bool
    deletion_protection: bool


class AckCluster(pulumi.ComponentResource):
    """`ack.pro.small` with RRSA on (pods assume RAM roles through OIDC, no AccessKeys), Secrets
    envelope-encrypted with a KMS key, control-plane logs on, and NAT for private nodes."""

    def __init__(self, name: str, args: AckClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:AckCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secrets_key = alicloud.kms.Key(f"{name}-secrets", description=f"ACK secrets key for {args.name}",
                                            pending_window_in_days=30, automatic_rotation="Enabled",
                                            rotation_interval="365d", opts=child)
        self.cluster = alicloud.cs.ManagedKubernetes(
            name, name=args.name, cluster_spec="ack.pro.small", vswitch_ids=args.vswitch_ids,
            new_nat_gateway=True, slb_internet_enabled=args.endpoint_public_access,
            pod_cidr="172.20.0.0/16", service_cidr="172.21.0.0/20", proxy_mode="ipvs",
            enable_rrsa=True, encryption_provider_key=self.secrets_key.id,
            deletion_protection=args.deletion_protection,
            control_plane_log_components=["apiserver", "kcm", "scheduler", "ccm"],
            opts=child)
        self.id = self.cluster.id
        self.kubeconfig = pulumi.Output.secret(alicloud.cs.get_cluster_credential_output(
            cluster_id=self.cluster.id, temporary_duration_minutes=4320).kube_config)
        metadata = self.cluster.rrsa_metadata
        self.oidc_provider_arn = metadata.apply(lambda m: m.ram_oidc_provider_arn if m else "")
        self.oidc_issuer = metadata.apply(lambda m: m.rrsa_oidc_issuer_url if m else "")
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))
        self.register_outputs({"id": self.id, "kubeconfig": self.kubeconfig,
                               "oidcProviderArn": self.oidc_provider_arn})
