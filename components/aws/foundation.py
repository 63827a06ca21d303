"""AWS: VPC, EKS cluster, GPU/cache/system node groups, the S3 model bucket, IRSA roles, the autoscaler and,
for a private API server, the in-VPC deployer. Handed over as a Foundation."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.aws.bucket import ModelBucket, ModelBucketArgs
from components.aws.cluster import EksCluster, EksClusterArgs
from components.aws.defaults import INSTANCES
from components.aws.deployer import Deployer, DeployerArgs
from components.aws.identity import READ_ACTIONS, WRITE_ACTIONS, bucket_policy, irsa_role
from components.aws.network import Network, NetworkArgs
from components.aws.node_pool import LOCAL_NVME_PATH, NodePool, NodePoolArgs
from components.aws.registry import PullThroughCache
from components.aws.store import S3Store
from components.config import NodePoolSettings, Settings
from components.foundation import (
    CACHE_SERVICE_ACCOUNT,
    INGEST_SERVICE_ACCOUNT,
    READER_SERVICE_ACCOUNT,
    ClusterFacts,
    Foundation,
    FoundationOutputs,
)

# The Classic ELB the in-tree service controller creates closes a connection after 60 s without bytes; a
# request waiting in Knative's activator during a cold start sends none. 3600 s is the CLB maximum (an NLB is
# fixed at 350 s without the AWS Load Balancer Controller).
LOAD_BALANCER_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "3600",
    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
}


def build(s: Settings) -> Foundation:
    """Everything AWS-specific, handed over as a Foundation."""
    region = s.region or aws.get_region().region
    name = s.cluster.name
    network = Network(name, NetworkArgs(s.cluster.vpc_cidr, s.cluster.zones, name, region, nat_per_zone=s.is_prod))
    cluster = EksCluster(name, EksClusterArgs(
        name=name, kubernetes_version=s.cluster.kubernetes_version, vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids, public_subnet_ids=network.public_subnet_ids,
        endpoint_public_access=s.cluster.endpoint_public_access, public_access_cidrs=list(s.cluster.public_access_cidrs),
        log_types=list(s.cluster.log_types), log_retention_days=s.cluster.log_retention_days,
        deletion_protection=s.cluster.deletion_protection, admins=list(s.cluster.admins), viewers=list(s.cluster.viewers),
        support_type="EXTENDED" if s.is_prod else "STANDARD"))
    cache = PullThroughCache(f"{name}-images", region, dict(s.images.pull_through_credentials)) \
        if s.images.pull_through_cache else None
    registries = {**(cache.mirrors if cache else {}), **s.images.registries}  # the stack's own mirrors win
    pools = {role: NodePool(f"{name}-{role}", _pool_args(name, network.private_subnet_ids, role, pool, [cluster],
                                                         cache.node_policy if cache else None))
             for role, pool in (("system", s.system_pool), ("gpu", s.gpu_pool), ("cache", s.cache_pool))}
    bucket = ModelBucket(f"{name}-models", ModelBucketArgs(s.bucket.name, s.bucket.kms, s.bucket.noncurrent_version_days,
                                                           s.bucket.protect, s.bucket.force_destroy))
    ns = s.inference.namespace

    def role(suffix: str, accounts: list[str], actions: list[str], write: bool) -> aws.iam.Role:
        return irsa_role(f"{name}-{suffix}", cluster.oidc_provider_arn, cluster.oidc_provider_url,
                         [f"system:serviceaccount:{ns}:{sa}" for sa in accounts],
                         bucket_policy(bucket.arn, s.bucket.prefix, actions, bucket.key_arn, write), cluster)

    read_role = role("model-read", [CACHE_SERVICE_ACCOUNT, READER_SERVICE_ACCOUNT], READ_ACTIONS, write=False)
    write_role = role("model-write", [INGEST_SERVICE_ACCOUNT], WRITE_ACTIONS, write=True)
    capacity: list[pulumi.Resource] = list(pools.values())
    if s.platform.install.cluster_autoscaler:
        capacity.append(ClusterAutoscaler(f"{name}-autoscaler", ClusterAutoscalerArgs(
            cluster_name=name, kubernetes_version=s.cluster.kubernetes_version, region=region,
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_provider_url=cluster.oidc_provider_url,
            chart=s.chart_versions["clusterAutoscaler"], idle_minutes=s.platform.gpu_node_idle_minutes,
            registries=registries, depends_on=[pools["system"]]),
            pulumi.ResourceOptions(provider=cluster.provider)))
    keys = (s.storage_access_key_id, s.storage_secret_access_key) if s.cache.credentials == "static" else None
    store = S3Store(bucket.name, s.bucket.prefix, region, read_role.arn, write_role.arn, ready=bucket.ready, static_keys=keys)
    deployer = Deployer(f"{name}-deployer", DeployerArgs(network.vpc.id, network.private_subnet_ids[0],
                                                         cluster.security_group_id)) if s.cluster.deployer else None
    return Foundation(
        provider=cluster.provider, store=store, capacity=capacity, mirrors=cache.mirrors if cache else {},
        cluster=ClusterFacts(fluid_node_authorization=False,  # AL2023 nodes have no /etc/kubernetes/kubelet.conf
                             load_balancer_annotations=LOAD_BALANCER_ANNOTATIONS, metadata_cidr="169.254.169.254/32",
                             service_account_issuer=cluster.oidc_issuer_url, local_nvme_path=LOCAL_NVME_PATH),
        outputs=FoundationOutputs(
            cluster_name=name, kubeconfig=cluster.kubeconfig, bucket_name=bucket.name,
            model_read_role=read_role.arn, model_write_role=write_role.arn,
            gpu_node_pool=pools["gpu"].node_group.node_group_name, cache_node_pool=pools["cache"].node_group.node_group_name,
            kubectl_access=f"aws eks update-kubeconfig --region {region} --name {name}",
            deployer=deployer.connect if deployer else None,
            extra={"region": region, "oidcProviderArn": cluster.oidc_provider_arn, "bucketArn": bucket.arn,
                   "systemNodeGroup": pools["system"].node_group.node_group_name}))


def _pool_args(cluster: str, subnets: list[pulumi.Input[str]], role: str, pool: NodePoolSettings,
               depends_on: list[pulumi.Resource], node_policy: pulumi.Input[str] | None) -> NodePoolArgs:
    facts = INSTANCES.get(pool.instance_type)
    return NodePoolArgs(cluster_name=cluster, subnet_ids=subnets, role=role, instance_type=pool.instance_type,
                        min_size=pool.min_size, desired_size=pool.desired_size, max_size=pool.max_size,
                        disk_size_gi=pool.disk_size_gi, disk_throughput_mi_bps=pool.disk_throughput_mi_bps,
                        disk_iops=pool.disk_iops, capacity_type=pool.capacity_type, dedicated=pool.dedicated,
                        local_nvme=bool(facts and facts.local_nvme_gb), node_policy=node_policy, depends_on=depends_on)
