"""EKS control plane: private-subnet nodes, KMS-encrypted secrets, IRSA, access entries."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s


@dataclass
class EksClusterArgs:
    name: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    public_subnet_ids: list[pulumi.Input[str]]
    endpoint_public_access: bool
    public_access_cidrs: list[str]
    log_types: list[str]
    deletion_protection: bool


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with no default node group (the pools are separate components).

    Access uses EKS access entries (`API` mode, no aws-auth ConfigMap); the OIDC provider backs IRSA;
    Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key that rotates yearly.
    """

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secrets_key = aws.kms.Key(f"{name}-secrets", description=f"EKS secrets envelope key for {args.name}",
                                       enable_key_rotation=True, deletion_window_in_days=30, opts=child)
        self.cluster = eks.Cluster(
            name,
            name=args.name,
            version=args.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            authentication_mode=eks.AuthenticationMode.API,
            create_oidc_provider=True,
            encryption_config_key_arn=self.secrets_key.arn,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=args.public_access_cidrs if args.endpoint_public_access else None,
            enabled_cluster_log_types=args.log_types,
            deletion_protection=args.deletion_protection,
            vpc_cni_options={"enable_network_policy": True},  # enforce the model namespace's NetworkPolicy
            opts=child,
        )
        self.name = args.name
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc_provider_arn = self.cluster.oidc_provider_arn
        self.oidc_provider_url = self.cluster.oidc_provider_url
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))
        self.register_outputs({"name": self.name, "kubeconfig": self.kubeconfig,
                               "oidcProviderArn": self.oidc_provider_arn})
