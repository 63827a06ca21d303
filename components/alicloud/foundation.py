"""Alibaba Cloud: VPC, ACK Pro cluster, GPU (ecs.gn6i) and cache node pools, the OSS model bucket,
RAM roles (RRSA for pods, a node role for the cache), and Alibaba Service Mesh."""
from __future__ import annotations

import hashlib

import pulumi
import pulumi_alicloud as alicloud

from components.alicloud.bucket import ModelBucket, ModelBucketArgs
from components.alicloud.cluster import AckCluster, AckClusterArgs
from components.alicloud.identity import ECS_TRUST, READ_ACTIONS, WRITE_ACTIONS, ram_role, rrsa_trust
from components.alicloud.mesh import ServiceMesh
from components.alicloud.network import Network
from components.alicloud.node_pool import NodePool, NodePoolArgs
from components.config import Settings
from components.foundation import INGEST_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT, Foundation, model_store


def bucket_name(s: Settings) -> str:
    """OSS names are global and there is no prefix option: derive a stable, unique-enough one."""
    if s.bucket.name:
        return s.bucket.name
    suffix = hashlib.sha256(f"{pulumi.get_organization()}/{pulumi.get_project()}/{s.stack}".encode()).hexdigest()
    return f"{s.cluster.name}-models-{suffix[:8]}"


def build(s: Settings) -> Foundation:
    """Everything Alibaba-specific, handed over as a Foundation."""
    name = s.cluster.name
    region = s.region or alicloud.get_regions(current=True).regions[0].id
    bucket_id = bucket_name(s)
    network = Network(name, s.cluster.vpc_cidr, s.cluster.zones)
    cluster = AckCluster(name, AckClusterArgs(name, network.vswitch_ids, s.cluster.endpoint_public_access,
                                              deletion_protection=s.is_prod))
    bucket = ModelBucket(f"{name}-models", ModelBucketArgs(bucket_id, s.bucket.kms,
                                                           s.bucket.noncurrent_version_days, s.bucket.protect))
    prefix, ns = s.bucket.prefix, s.inference.namespace
    cache_node_role = ram_role(f"{name}-cache-node", ECS_TRUST, bucket_id, prefix, READ_ACTIONS, bucket)

    def pod_role(suffix: str, account: str, actions: list[str]):
        trust = rrsa_trust(cluster.oidc_provider_arn, cluster.oidc_issuer, [f"system:serviceaccount:{ns}:{account}"])
        return ram_role(f"{name}-{suffix}", trust, bucket_id, prefix, actions, bucket)

    read_role = pod_role("model-read", READER_SERVICE_ACCOUNT, READ_ACTIONS)
    write_role = pod_role("model-write", INGEST_SERVICE_ACCOUNT, WRITE_ACTIONS)
    after_cluster = pulumi.ResourceOptions(depends_on=[cluster.cluster])
    pools = [NodePool(f"{name}-{role}", NodePoolArgs(cluster.id, network.vswitch_ids, role, pool,
                                                     cache_node_role.role_name if role == "cache" else None),
                      after_cluster)
             for role, pool in (("system", s.system_pool), ("gpu", s.gpu_pool), ("cache", s.cache_pool))]
    capacity: list[pulumi.Resource] = list(pools)
    if s.platform.mesh == "asm":
        mesh = ServiceMesh(f"{name}-mesh", cluster.id, network.vpc.id, network.vswitch_ids[0],
                           s.platform.asm_cluster_spec, pulumi.ResourceOptions(depends_on=pools))
        capacity.append(mesh)
    if s.platform.fluid_source == "ack-addon":
        capacity.append(alicloud.cs.KubernetesAddon(f"{name}-ack-fluid", cluster_id=cluster.id, name="ack-fluid",
                                                    opts=pulumi.ResourceOptions(depends_on=pools)))
    store = model_store("oss", bucket.name, prefix, region, read_role.role_name, write_role.role_name,
                        ready=bucket.ready)
    return Foundation(provider=cluster.provider, store=store, capacity=capacity, outputs={
        "clusterName": name, "clusterId": cluster.id, "kubeconfig": cluster.kubeconfig,
        "oidcProviderArn": cluster.oidc_provider_arn, "bucketName": bucket.name,
        "gpuNodePool": f"{name}-gpu", "cacheNodePool": f"{name}-cache",
        "modelReadRole": read_role.arn, "modelWriteRole": write_role.arn, "cacheNodeRole": cache_node_role.arn})
