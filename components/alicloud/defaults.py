"""Alibaba Cloud defaults, validation rules and instance facts. No cloud SDK import: this runs before any
provider loads."""

from __future__ import annotations

import ipaddress
import re

from components.aws.defaults import aws_only
from components.cloud import Cloud
from components.config import PROJECT, Raw, Settings
from components.instances import InstanceFacts

P = PROJECT
GPU_FAMILIES = ("ecs.gn6i-*", "ecs.gn7i-*", "ecs.gn6v-*", "ecs.gn7e-*", "ecs.gn8is-*")

# Regions with ACK and OSS. Source: https://www.alibabacloud.com/help/en/ack/product-overview/supported-regions
# (read 2026-12-01); a region missing here is refused, so add it when ACK opens one.
REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-zhangjiakou", "cn-huhehaote",
           "cn-wulanchabu", "cn-qingdao", "cn-chengdu", "cn-heyuan", "cn-guangzhou", "cn-nanjing", "cn-fuzhou",
           "cn-hongkong", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
           "ap-northeast-1", "ap-northeast-2", "us-west-1", "us-east-1", "eu-central-1", "eu-west-1", "me-east-1",
           "me-central-1", "na-south-1")

# ACK Kubernetes minors offered for new clusters. Source: https://www.alibabacloud.com/help/en/ack/product-overview/
# support-for-kubernetes-versions (read 2026-12-01). The cluster gets the newest patch of the minor (cluster.py).
ACK_VERSIONS = ("1.32", "1.33", "1.34")
DEFAULT_KUBERNETES = "1.34"

# Sizes of the types the stacks use. Source: https://www.alibabacloud.com/help/en/ecs/user-guide/gpu-accelerated-
# compute-optimized-and-vgpu-accelerated-instance-families-1 (gn6i: NVIDIA T4 16 GB; gn7i: A10 24 GB) and the
# general-purpose g7 table; GPU memory is what the driver reports (T4 15 GiB, A10 22.5 GiB).
INSTANCES: dict[str, InstanceFacts] = {
    **{f"ecs.gn6i-{size}": InstanceFacts(cpu, mem, gpus, 15, "T4") for size, cpu, mem, gpus in (
        ("c4g1.xlarge", 4, 15, 1), ("c8g1.2xlarge", 8, 31, 1), ("c16g1.4xlarge", 16, 62, 1), ("c24g1.6xlarge", 24, 93, 1),
        ("c40g1.10xlarge", 40, 155, 1), ("c24g1.12xlarge", 48, 186, 2), ("c24g1.24xlarge", 96, 372, 4))},
    **{f"ecs.gn7i-{size}": InstanceFacts(cpu, mem, gpus, 22.5, "A10") for size, cpu, mem, gpus in (
        ("c8g1.2xlarge", 8, 30, 1), ("c16g1.4xlarge", 16, 60, 1), ("c32g1.8xlarge", 32, 188, 1),
        ("c32g1.16xlarge", 64, 376, 2), ("c32g1.32xlarge", 128, 752, 4), ("c48g1.12xlarge", 48, 310, 1))},
    "ecs.g7.large": InstanceFacts(2, 8), "ecs.g7.xlarge": InstanceFacts(4, 16), "ecs.g7.2xlarge": InstanceFacts(8, 32),
    "ecs.g7ne.xlarge": InstanceFacts(4, 16), "ecs.g7ne.2xlarge": InstanceFacts(8, 32),
}

DEFAULTS = {
    "cluster": {"vpcCidr": "192.168.0.0/16", "kubernetesVersion": DEFAULT_KUBERNETES},
    # a fixed pool (node_pool.py): CoreDNS and the operators stay off autoscaled nodes
    "systemPool": {"instanceType": "ecs.g7.large", "minSize": 2, "desiredSize": 2, "maxSize": 2, "diskSizeGi": 100},
    "gpuPool": {"instanceType": "ecs.gn6i-c24g1.12xlarge", "diskSizeGi": 200},
    "cachePool": {"instanceType": "ecs.g7.xlarge", "minSize": 2, "desiredSize": 2, "maxSize": 4, "diskSizeGi": 200},
    "cache": {"runtime": "jindo"},
    "inference": {"dtype": "float16"},  # T4 has no bfloat16
    # Istio from the same charts as on AWS, through the ACK API: ASM's own kubeconfig is private-only (mesh.py)
    "platform": {"mesh": "istio", "install": {"nvidiaDevicePlugin": False, "clusterAutoscaler": False}},
}

# The node half of the VPC holds one vSwitch per zone, the pod half (Terway) one per zone: network.py
SMALLEST_VPC_PREFIX = 18


def bucket_name_problem(name: str) -> str | None:
    """OSS naming: https://www.alibabacloud.com/help/en/oss/user-guide/bucket-naming-conventions (no dots)."""
    if not 3 <= len(name) <= 63 or not re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name):
        return "3-63 lowercase letters, digits and '-' (no dots), starting and ending with a letter or digit"
    return None


def validate(s: Settings, raw: Raw) -> list[str]:
    import pulumi

    problems = []
    if s.region and s.region not in REGIONS:
        problems.append(f"alicloud:region: got {s.region!r}; not a region with ACK and OSS: one of {', '.join(REGIONS)}")
    version = s.cluster.kubernetes_version
    if version not in ACK_VERSIONS:
        problems.append(f"{P}:cluster.kubernetesVersion: got {version!r}; ACK offers {', '.join(ACK_VERSIONS)} ({DEFAULT_KUBERNETES} is the default)")
    if ipaddress.ip_network(s.cluster.vpc_cidr).prefixlen > SMALLEST_VPC_PREFIX:
        problems.append(f"{P}:cluster.vpcCidr: got {s.cluster.vpc_cidr!r}; ACK with Terway takes node and pod vSwitches from the VPC: a /{SMALLEST_VPC_PREFIX} or larger")
    if s.region and (foreign := [z for z in s.cluster.zone_ids if not re.fullmatch(rf"{re.escape(s.region)}-?[a-z]", z)]):
        problems.append(f"{P}:cluster.zoneIds: got {foreign}; zones of alicloud:region {s.region} are named like {s.region}a or {s.region}-a")
    if raw.has("cluster.publicAccessCidrs"):
        problems.append(f"{P}:cluster.publicAccessCidrs: set, but ACK's public API endpoint is not restricted by this key; use endpointPublicAccess false and the in-VPC deployer")
    if s.bucket.name and (why := bucket_name_problem(s.bucket.name)):
        problems.append(f"{P}:bucket.name: got {s.bucket.name!r}; an OSS bucket name is {why}")
    for pool, settings in (("systemPool", s.system_pool), ("cachePool", s.cache_pool), ("gpuPool", s.gpu_pool)):
        if not settings.instance_type.startswith("ecs."):
            problems.append(f"{P}:{pool}.instanceType: got {settings.instance_type!r}; Alibaba Cloud instance types start with 'ecs.' (e.g. ecs.g7.xlarge)")
        elif settings.instance_type not in INSTANCES:
            pulumi.log.warn(f"{P}:{pool}.instanceType {settings.instance_type!r}: not in this project's instance table; its sizing is not checked")
        for key in ("diskThroughputMiBps", "diskIops"):
            if raw.has(f"{pool}.{key}"):
                problems.append(f"{P}:{pool}.{key}: set, but it is an AWS gp3 setting; ACK disks are ESSD PL1 (throughput follows the size)")
    system = s.system_pool
    if not system.min_size == system.desired_size == system.max_size:
        problems.append(f"{P}:systemPool: minSize {system.min_size}, desiredSize {system.desired_size}, maxSize {system.max_size}; the ACK system pool is fixed (an autoscaled pool repels CoreDNS): set all three to the node count")
    if s.inference.baseline:
        problems.append(f"{P}:inference.baseline: got True; KServe's storage initializer has no oss:// support, the baseline runs on S3 only")
    if s.inference.serverless and s.platform.fluid_source != "ack-addon":
        problems.append(f"{P}:inference.serverless: got True; ECI pods get their FUSE sidecar only from ack-fluid: set platform.fluidSource ack-addon")
    if s.platform.fluid_source == "ack-addon" and raw.has("platform.install.fluid") and s.platform.install.fluid:
        problems.append(f"{P}:platform.install.fluid: got True; the open-source Fluid chart and the ack-fluid add-on cannot coexist, drop one")
    if s.cache.runtime != "jindo":
        problems.append(f"{P}:cache.runtime: got {s.cache.runtime!r}; on OSS the cache runs JindoRuntime (Fluid's OSS engine)")
    if s.cluster.admins or s.cluster.viewers:
        problems.append(f"{P}:cluster.admins: set, but ACK grants access through RAM authorizations in the console or `alicloud.cs.KubernetesPermission`; not handled by this key")
    if s.platform.mesh == "asm" and not s.cluster.deployer:
        pulumi.log.warn(f"{P}:platform.mesh asm: ASM's control plane is reachable only inside the VPC (its kubeconfig is private); run `pulumi up` from the in-VPC deployer (cluster.deployer: true) or a machine with VPC access")
    return problems + aws_only(s)


DEPLOYER_INSTANCE_TYPE = "ecs.g7.large"  # the in-VPC deployer (alicloud/deployer.py); priced in components/costs.py

CLOUD = Cloud(name="alicloud", builder="components.alicloud.foundation:build", defaults=DEFAULTS, validate=validate,
              provider_namespace="alicloud", gpu_families=GPU_FAMILIES, instances=INSTANCES,
              deployer_instance_type=DEPLOYER_INSTANCE_TYPE)
