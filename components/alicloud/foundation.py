"""Alibaba Cloud: VPC, ACK Pro cluster, system/GPU/cache node pools with the cluster autoscaler, the OSS model
bucket, RAM principals (RRSA for the ingest, a read-only key for the cache), the pod-identity webhook, ASM
when chosen and, for a private API server, the in-VPC deployer. Handed over as a Foundation."""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_alicloud as alicloud

from components.alicloud.bucket import ModelBucket, ModelBucketArgs
from components.alicloud.cluster import AckCluster, AckClusterArgs
from components.alicloud.deployer import Deployer, DeployerArgs
from components.alicloud.identity import bucket_policy_document, reader_access_key, rrsa_role
from components.alicloud.mesh import ServiceMesh, ServiceMeshArgs
from components.alicloud.network import Network, NetworkArgs
from components.alicloud.node_pool import NodePool, NodePoolArgs, cluster_autoscaling
from components.alicloud.store import OssStore
from components.config import Settings
from components.foundation import INGEST_SERVICE_ACCOUNT, ClusterFacts, Foundation, FoundationOutputs

METADATA_CIDR = "100.100.100.200/32"  # the ECS metadata service, which hands out the node's RAM role


def bucket_name(s: Settings) -> str:
    """OSS names are global and there is no prefix option: derive a stable, unique-enough one."""
    if s.bucket.name:
        return s.bucket.name
    suffix = hashlib.sha256(f"{pulumi.get_organization()}/{pulumi.get_project()}/{s.stack}".encode()).hexdigest()
    return f"{s.cluster.name}-models-{suffix[:8]}"


def build(s: Settings) -> Foundation:
    """Everything Alibaba-specific, handed over as a Foundation."""
    name, prefix = s.cluster.name, s.bucket.prefix
    region = s.region or alicloud.get_regions(current=True).ids[0]
    network = Network(name, NetworkArgs(s.cluster.vpc_cidr, s.cluster.zones, s.cluster.zone_ids, s.gpu_pool.instance_type))
    cluster = AckCluster(name, AckClusterArgs(name, s.cluster.kubernetes_version, network.vswitch_ids,
                                              network.pod_vswitch_ids, s.cluster.endpoint_public_access,
                                              deletion_protection=s.cluster.deletion_protection))
    autoscaling = cluster_autoscaling(name, cluster.id, s.platform.gpu_node_idle_minutes,
                                      pulumi.ResourceOptions(depends_on=[cluster.cluster]))
    pools = {role: NodePool(f"{name}-{role}", NodePoolArgs(cluster.id, network.vswitch_ids, role, pool,
                                                           cluster.node_key_pair.key_pair_name, [autoscaling]))
             for role, pool in (("system", s.system_pool), ("gpu", s.gpu_pool), ("cache", s.cache_pool))}
    on_nodes = pulumi.ResourceOptions(depends_on=[pools["system"]])  # add-ons run on the system pool
    # injects RRSA credentials into pods of annotated ServiceAccounts created after it runs: capacity below
    pod_identity = alicloud.cs.KubernetesAddon(f"{name}-pod-identity", cluster_id=cluster.id,
                                               name="ack-pod-identity-webhook", opts=on_nodes)
    capacity: list[pulumi.Resource] = [*pools.values(), autoscaling, pod_identity]
    if s.platform.fluid_source == "ack-addon":
        capacity.append(alicloud.cs.KubernetesAddon(f"{name}-ack-fluid", cluster_id=cluster.id, name="ack-fluid",
                                                    opts=on_nodes))

    bucket_id = bucket_name(s)
    bucket = ModelBucket(f"{name}-models", ModelBucketArgs(bucket_id, s.bucket.kms, s.bucket.noncurrent_version_days,
                                                           s.bucket.protect, s.bucket.force_destroy))
    write_role = rrsa_role(f"{name}-model-write", cluster.oidc_provider_arn, cluster.oidc_issuer,
                           [f"system:serviceaccount:{s.inference.namespace}:{INGEST_SERVICE_ACCOUNT}"],
                           bucket_policy_document(bucket_id, prefix, write=True), cluster)
    cache_key = reader_access_key(f"{name}-cache-reader", bucket_id, prefix, bucket) if s.cache.credentials == "keyless" else None
    store = OssStore(bucket.name, prefix, region, write_role.role_name, ready=bucket.ready,
                     managed_keys=(cache_key.id, cache_key.secret) if cache_key else None,
                     static_keys=(s.storage_access_key_id, s.storage_secret_access_key) if s.cache.credentials == "static" else None)

    mesh = ServiceMesh(f"{name}-mesh", ServiceMeshArgs(cluster.id, network.vpc.id, network.vswitch_ids[0],
                                                       s.platform.asm_cluster_spec, cluster.provider,
                                                       dict(s.images.registries))) if s.platform.mesh == "asm" else None
    deployer = Deployer(f"{name}-deployer", DeployerArgs(network.vpc.id, network.vswitch_ids[0],
                                                         depends_on=[cluster.cluster])) if s.cluster.deployer else None
    private = "" if s.cluster.endpoint_public_access else " --PrivateIpAddress true"
    return Foundation(
        provider=cluster.provider, store=store, capacity=capacity,
        cluster=ClusterFacts(ships_device_plugin=True,  # ACK runs its own NVIDIA device plugin on GPU nodes
                             mesh_gateway=[mesh.gateway_ready] if mesh else [], metadata_cidr=METADATA_CIDR,
                             service_account_issuer=cluster.oidc_issuer),
        outputs=FoundationOutputs(
            cluster_name=name, kubeconfig=cluster.kubeconfig, bucket_name=bucket.name,
            model_write_role=write_role.role_name,
            gpu_node_pool=pools["gpu"].node_pool.node_pool_name, cache_node_pool=pools["cache"].node_pool.node_pool_name,
            kubectl_access=pulumi.Output.concat("aliyun cs DescribeClusterUserKubeconfig --ClusterId ", cluster.id,
                                                private, " | jq -r .config > kubeconfig"),
            deployer=deployer.connect if deployer else None,
            extra={"region": region, "clusterId": cluster.id, "zoneIds": network.zone_ids,
                   "oidcProviderArn": cluster.oidc_provider_arn,
                   "cacheReader": cache_key.user_name if cache_key else None,
                   "meshVersion": mesh.mesh.version if mesh else None}))
