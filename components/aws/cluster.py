"""EKS control plane: private-subnet nodes, KMS-encrypted secrets, IRSA, access entries, retained logs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


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
    log_retention_days: int
    deletion_protection: bool
    # IAM principals given cluster-admin / read-only access besides the creator (EKS access entries)
    admins: list[pulumi.Input[str]] = field(default_factory=list)
    viewers: list[pulumi.Input[str]] = field(default_factory=list)
    # EXTENDED keeps a cluster past standard support (and bills it); STANDARD lets EKS upgrade it then
    support_type: str = "STANDARD"


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with no default node group (the pools are separate components).

    Access uses EKS access entries (`API` mode, no aws-auth ConfigMap): the creator, plus `admins` and
    `viewers`. The OIDC provider backs IRSA; Secrets are envelope-encrypted with a customer-managed KMS key
    that rotates yearly; control-plane logs go to a log group this component creates first, with retention
    (EKS would create it without one).
    """

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:EksCluster", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.deletion_protection,
                                      retain_on_delete=args.deletion_protection)
        self.secrets_key = aws.kms.Key(f"{name}-secrets", description=f"EKS secrets envelope key for {args.name}",
                                       enable_key_rotation=True, deletion_window_in_days=30, opts=keep)
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/eks/{args.name}/cluster",
                                       retention_in_days=args.log_retention_days,
                                       opts=pulumi.ResourceOptions(parent=self))
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
            access_entries=_access_entries(args),
            create_oidc_provider=True,
            encryption_config_key_arn=self.secrets_key.arn,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=args.public_access_cidrs if args.endpoint_public_access else None,
            enabled_cluster_log_types=args.log_types,
            deletion_protection=args.deletion_protection,
            upgrade_policy={"support_type": args.support_type},
            vpc_cni_options={"enable_network_policy": True},  # enforce the model namespace's NetworkPolicy
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        self.name = args.name
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc_provider_arn = self.cluster.oidc_provider_arn
        self.oidc_provider_url = self.cluster.oidc_provider_url
        # the issuer of this cluster's service-account tokens (endpoint.jwtIssuer: cluster)
        self.oidc_issuer_url = self.cluster.oidc_provider_url.apply(lambda u: "https://" + u.removeprefix("https://"))
        self.security_group_id = self.cluster.cluster_security_group_id
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))
        self.register_outputs({"name": self.name, "kubeconfig": self.kubeconfig,
                               "oidcProviderArn": self.oidc_provider_arn})


def _access_entries(args: EksClusterArgs) -> dict[str, dict]:
    """One access entry per principal: cluster-admin or read-only, cluster-wide."""
    entries = {}
    for kind, policy, principals in (("admin", ADMIN_POLICY, args.admins), ("viewer", VIEW_POLICY, args.viewers)):
        for i, principal in enumerate(principals):
            entries[f"{kind}-{i}"] = {"principal_arn": principal, "access_policies": {
                kind: {"policy_arn": policy, "access_scope": {"type": "cluster"}}}}
    return entries
