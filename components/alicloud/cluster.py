"""ACK Pro managed cluster: Terway with NetworkPolicy, RRSA, KMS-encrypted Secrets, and a
Kubernetes provider whose kubeconfig does not expire."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s
import yaml

from components.config import PROJECT

# Installed at creation (ACK reads `addons` on create only). Terway in shared-ENI mode is the CNI that
# enforces NetworkPolicy on ACK; an explicit list may replace ACK's defaults, so the CSI storage plugins
# are named too (the managed provisioner is ACK Pro's).
ADDONS = [
    {"name": "terway-eniip", "config": json.dumps({"NetworkPolicy": "true"})},
    {"name": "csi-plugin"},
    {"name": "managed-csiprovisioner"},
]
SERVICE_CIDR = "172.21.0.0/20"  # outside the VPC range (192.168.0.0/16 by default)


@dataclass
class AckClusterArgs:
    name: str
    kubernetes_version: str  # a minor, e.g. 1.34: the cluster gets ACK's newest patch of it
    vswitch_ids: list[pulumi.Input[str]]
    pod_vswitch_ids: list[pulumi.Input[str]]
    endpoint_public_access: bool
    deletion_protection: bool  # prod: the cluster and the Secrets key are protected and retained


class AckCluster(pulumi.ComponentResource):
    """`ack.pro.small` with Terway (pod IPs from the pod vSwitches, NetworkPolicy on), RRSA (pods assume RAM
    roles through OIDC; the webhook that injects them is an add-on installed once nodes exist, foundation.py),
    Secrets envelope-encrypted with a KMS key, and control-plane logs.

    The provider's kubeconfig is requested without `temporary_duration_minutes`, so ACK issues a long-lived
    one (a temporary one is kept in the provider's state and breaks `refresh`/`destroy` once it expires). With
    a private API server it points at the intranet endpoint, reachable from the in-VPC deployer.
    """

    def __init__(self, name: str, args: AckClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:AckCluster", name, None, opts)
        keep = {"protect": args.deletion_protection, "retain_on_delete": args.deletion_protection}
        # ACK warns that a disabled or deleted key leaves the API server unable to read Secrets
        self.secrets_key = alicloud.kms.Key(f"{name}-secrets", description=f"ACK secrets key for {args.name}",
                                            pending_window_in_days=30, automatic_rotation="Enabled",
                                            rotation_interval="365d", opts=pulumi.ResourceOptions(parent=self, **keep))
        self.cluster = alicloud.cs.ManagedKubernetes(
            name, name=args.name, cluster_spec="ack.pro.small", version=newest_patch(args.kubernetes_version),
            vswitch_ids=args.vswitch_ids, pod_vswitch_ids=args.pod_vswitch_ids, addons=ADDONS,
            new_nat_gateway=True, slb_internet_enabled=args.endpoint_public_access,
            service_cidr=SERVICE_CIDR, proxy_mode="ipvs", enable_rrsa=True,
            disable_encryption=False, encryption_provider_key=self.secrets_key.id,
            deletion_protection=args.deletion_protection,
            control_plane_log_components=["apiserver", "kcm", "scheduler", "ccm"],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["version"]))
        # ACK node pools take a login; nobody keeps this key pair's private half (nodes are reached through
        # Session Manager when at all)
        self.node_key_pair = alicloud.ecs.EcsKeyPair(f"{name}-nodes", key_pair_name=f"{args.name}-nodes",
                                                     opts=pulumi.ResourceOptions(parent=self))
        self.id = self.cluster.id
        rrsa = self.cluster.rrsa_metadata.apply(lambda m: _rrsa(args.name, m))
        self.oidc_provider_arn = rrsa.apply(lambda m: m["ram_oidc_provider_arn"])
        # RRSA makes this the issuer of the cluster's service-account tokens (endpoint.jwtIssuer: cluster)
        self.oidc_issuer = rrsa.apply(lambda m: m["rrsa_oidc_issuer_url"])
        kubeconfig = alicloud.cs.get_cluster_credential_output(cluster_id=self.cluster.id).kube_config
        if not args.endpoint_public_access:
            kubeconfig = pulumi.Output.all(kubeconfig, self.cluster.connections).apply(
                lambda a: intranet_kubeconfig(a[0], a[1]))
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]))
        self.register_outputs({"id": self.id, "kubeconfig": self.kubeconfig, "oidcProviderArn": self.oidc_provider_arn})


def newest_patch(minor: str) -> str | None:
    """ACK's newest release of a Kubernetes minor here, at creation (`version` wants a full one, e.g.
    1.34.1-aliyun.1); the cluster ignores later patches (an upgrade is a deliberate change, not a side effect
    of an unrelated `up`). No answer at all from the API leaves the choice to ACK."""
    metadatas = alicloud.cs.get_kubernetes_version(cluster_type="ManagedKubernetes", profile="Default").metadatas
    if metadatas is None:
        return None
    offered = [m.version for m in metadatas]
    matching = [v for v in offered if v.startswith(f"{minor}.")]
    if not matching:
        raise ValueError(f"{PROJECT}:cluster.kubernetesVersion: got {minor!r}; ACK offers {', '.join(offered) or 'nothing'} in this region")
    return max(matching, key=lambda v: [int(n) for n in re.findall(r"\d+", v)])


def _rrsa(cluster: str, metadata: dict | None) -> dict:
    """The cluster's RRSA OIDC provider, or a clear error: an empty one would render RAM trust policies with an
    empty Federated principal, which fail far from the cause. (Output types are dicts keyed by snake_case.)"""
    if not metadata or not metadata.get("ram_oidc_provider_arn") or not metadata.get("rrsa_oidc_issuer_url"):
        raise ValueError(f"ACK cluster {cluster}: rrsa_metadata is empty (RRSA not enabled?); the RAM roles of the ingest need its OIDC provider ARN and issuer URL")
    return metadata


def intranet_kubeconfig(kubeconfig: str, connections: list[dict]) -> str:
    """The kubeconfig with its server replaced by the API server's intranet endpoint (`connections` is a list
    of plain dicts since pulumi-alicloud 4.0; the credential data source always asks for the Internet one)."""
    server = connections[0].get("api_server_intranet") if connections else None
    if not server:
        raise ValueError("the ACK cluster reports no intranet API server endpoint (connections[0].api_server_intranet)")
    config = yaml.safe_load(kubeconfig)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = server
    return yaml.safe_dump(config)
