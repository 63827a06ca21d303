"""AWS: VPC, EKS cluster, GPU and cache node groups, the S3 model bucket and IRSA roles."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.autoscaler import ClusterAutoscaler
from components.aws.bucket import ModelBucket, ModelBucketArgs
from components.aws.cluster import EksCluster, EksClusterArgs
from components.aws.identity import READ_ACTIONS, WRITE_ACTIONS, bucket_policy, irsa_role
from components.aws.network import Network, NetworkArgs
from components.aws.node_pool import NodePool, NodePoolArgs
from components.config import Settings
from components.foundation import (CACHE_SERVICE_ACCOUNT, INGEST_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT,
                                   Foundation, model_store)


def build(s: Settings) -> Foundation:
    """Everything AWS-specific, handed over as a Foundation."""
    region = s.region or aws.get_region().region
    name = s.cluster.name
    network = Network(name, NetworkArgs(s.cluster.vpc_cidr, s.cluster.zones, name, nat_per_zone=s.is_prod))
    cluster = EksCluster(name, EksClusterArgs(
        name=name, kubernetes_version=s.cluster.kubernetes_version, vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids, public_subnet_ids=network.public_subnet_ids,
        endpoint_public_access=s.cluster.endpoint_public_access,
        public_access_cidrs=list(s.cluster.public_access_cidrs), log_types=list(s.cluster.log_types),
        deletion_protection=s.is_prod))
    after_cluster = pulumi.ResourceOptions(depends_on=[cluster])
    system, gpu, cache = (NodePool(f"{name}-{role}", NodePoolArgs(name, network.private_subnet_ids, role, pool),
                                   after_cluster)
                          for role, pool in (("system", s.system_pool), ("gpu", s.gpu_pool), ("cache", s.cache_pool)))
    bucket = ModelBucket(f"{name}-models", ModelBucketArgs(s.bucket.name, s.bucket.kms,
                                                           s.bucket.noncurrent_version_days, s.bucket.protect))
    key_arn = bucket.key.arn if bucket.key else None
    ns = s.inference.namespace

    def role(suffix: str, accounts: list[str], actions: list[str], write: bool) -> aws.iam.Role:
        return irsa_role(f"{name}-{suffix}", cluster.oidc_provider_arn, cluster.oidc_provider_url,
                         [f"system:serviceaccount:{ns}:{sa}" for sa in accounts],
                         bucket_policy(bucket.arn, s.bucket.prefix, actions, key_arn, write), bucket)

    read_role = role("model-read", [CACHE_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT], READ_ACTIONS, write=False)
    write_role = role("model-write", [INGEST_SERVICE_ACCOUNT], WRITE_ACTIONS, write=True)
    capacity = [system, gpu, cache]
    if s.platform.install.cluster_autoscaler:
        capacity.append(ClusterAutoscaler(f"{name}-autoscaler", name, region, cluster.oidc_provider_arn,
                                          cluster.oidc_provider_url, s.chart_versions["clusterAutoscaler"],
                                          pulumi.ResourceOptions(provider=cluster.provider, depends_on=[cache])))
    store = model_store("s3", bucket.name, s.bucket.prefix, region, read_role.arn, write_role.arn,
                        ready=bucket.ready)
    return Foundation(provider=cluster.provider, store=store, capacity=capacity, outputs={
        "clusterName": name, "kubeconfig": cluster.kubeconfig, "oidcProviderArn": cluster.oidc_provider_arn,
        "systemNodeGroup": system.node_group.node_group_name,
        "gpuNodeGroup": gpu.node_group.node_group_name, "cacheNodeGroup": cache.node_group.node_group_name,
        "bucketName": bucket.name, "bucketArn": bucket.arn,
        "modelReadRoleArn": read_role.arn, "modelWriteRoleArn": write_role.arn})
