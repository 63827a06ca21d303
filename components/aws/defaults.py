"""AWS defaults, validation rules and instance facts. No cloud SDK import: this runs before any provider loads."""

from __future__ import annotations

import ipaddress
import re
from datetime import date

from components.cloud import Cloud
from components.config import PROJECT, Raw, Settings
from components.instances import InstanceFacts

P = PROJECT
GPU_FAMILIES = ("g5.*", "g6.*", "g6e.*", "g4dn.*", "p4d.*", "p5.*")

# EKS Kubernetes minors and the last day of their standard support; after it a cluster bills extended
# support ($0.60 instead of $0.10 per hour) until the end of extended support.
# Sources: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (1.33-1.35; 1.36 is listed
# as available there, its dates are a third party's, docs/upstream-facts.md). Minors without a Cluster
# Autoscaler patch tag this project has read (components/aws/autoscaler.py) are left out.
EKS_VERSIONS: dict[str, tuple[date, date]] = {
    "1.33": (date(2026, 7, 29), date(2027, 7, 29)),
    "1.34": (date(2026, 12, 2), date(2027, 12, 2)),
    "1.35": (date(2027, 3, 27), date(2028, 3, 27)),
    "1.36": (date(2027, 8, 2), date(2028, 8, 2)),
}
DEFAULT_KUBERNETES = "1.35"

# Sizes of the types the stacks use. Source: https://aws.amazon.com/ec2/instance-types/ (accelerated
# computing and general purpose tables) and https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html;
# GPU memory is what the driver reports (A10G 22.5 GiB, L4 22.5, L40S 45, T4 15, A100 40, H100 79.6).
INSTANCES: dict[str, InstanceFacts] = {
    **{f"g5.{size}": InstanceFacts(cpu, mem, gpus, 22.5, "A10G", nvme) for size, cpu, mem, gpus, nvme in (
        ("xlarge", 4, 16, 1, 250), ("2xlarge", 8, 32, 1, 450), ("4xlarge", 16, 64, 1, 600), ("8xlarge", 32, 128, 1, 900),
        ("12xlarge", 48, 192, 4, 3800), ("16xlarge", 64, 256, 1, 1900), ("24xlarge", 96, 384, 4, 3800), ("48xlarge", 192, 768, 8, 7600))},
    **{f"g6.{size}": InstanceFacts(cpu, mem, gpus, 22.5, "L4", nvme) for size, cpu, mem, gpus, nvme in (
        ("xlarge", 4, 16, 1, 250), ("2xlarge", 8, 32, 1, 450), ("4xlarge", 16, 64, 1, 600), ("8xlarge", 32, 128, 1, 900),
        ("12xlarge", 48, 192, 4, 3760), ("16xlarge", 64, 256, 1, 1880), ("24xlarge", 96, 384, 4, 3760), ("48xlarge", 192, 768, 8, 7520))},
    **{f"g6e.{size}": InstanceFacts(cpu, mem, gpus, 45, "L40S", nvme) for size, cpu, mem, gpus, nvme in (
        ("xlarge", 4, 32, 1, 250), ("2xlarge", 8, 64, 1, 450), ("4xlarge", 16, 128, 1, 600), ("8xlarge", 32, 256, 1, 900),
        ("12xlarge", 48, 384, 4, 3800), ("16xlarge", 64, 512, 1, 1900), ("24xlarge", 96, 768, 4, 3800), ("48xlarge", 192, 1536, 8, 7600))},
    **{f"g4dn.{size}": InstanceFacts(cpu, mem, gpus, 15, "T4", nvme) for size, cpu, mem, gpus, nvme in (
        ("xlarge", 4, 16, 1, 125), ("2xlarge", 8, 32, 1, 225), ("4xlarge", 16, 64, 1, 225), ("8xlarge", 32, 128, 1, 900),
        ("12xlarge", 48, 192, 4, 900), ("16xlarge", 64, 256, 1, 900), ("metal", 96, 384, 8, 1800))},
    "p4d.24xlarge": InstanceFacts(96, 1152, 8, 40, "A100", 8000),
    "p5.48xlarge": InstanceFacts(192, 2048, 8, 79.6, "H100", 30400),
    "m6i.large": InstanceFacts(2, 8), "m6i.xlarge": InstanceFacts(4, 16),
    "m5n.xlarge": InstanceFacts(4, 16), "m5n.2xlarge": InstanceFacts(8, 32),
    "m5dn.xlarge": InstanceFacts(4, 16, local_nvme_gb=150), "m5dn.2xlarge": InstanceFacts(8, 32, local_nvme_gb=300),
    "m6id.xlarge": InstanceFacts(4, 16, local_nvme_gb=237), "m6id.2xlarge": InstanceFacts(8, 32, local_nvme_gb=474),
}

DEFAULTS = {
    "cluster": {"kubernetesVersion": DEFAULT_KUBERNETES},
    "systemPool": {"instanceType": "m6i.large", "minSize": 2, "desiredSize": 2, "maxSize": 3, "diskSizeGi": 100,
                   "diskThroughputMiBps": 125, "diskIops": 3000},
    "gpuPool": {"instanceType": "g5.2xlarge", "diskSizeGi": 200},
    "cachePool": {"instanceType": "m5dn.xlarge", "minSize": 2, "desiredSize": 2, "maxSize": 4, "diskSizeGi": 100},
    "cache": {"runtime": "alluxio"},
}

# S3 bucket naming rules: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_S3_RESERVED = (("xn--", "sthree-", "amzn-s3-demo-"), ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
ARN = re.compile(r"arn:aws(-cn|-us-gov)?:(iam|sts)::\d{12}:(role|user|assumed-role)/[\w+=,.@/-]+")


def bucket_name_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63 or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        return "3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    if ".." in name or name.startswith(_S3_RESERVED[0]) or name.endswith(_S3_RESERVED[1]):
        return "no '..', no prefix xn--, sthree- or amzn-s3-demo-, no suffix -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3"
    try:
        ipaddress.ip_address(name)
        return "not formatted as an IP address"
    except ValueError:
        return None


def regions() -> list[str]:
    """Regions EKS runs in, from botocore's endpoint data (a dependency of boto3)."""
    import boto3

    return boto3.session.Session().get_available_regions("eks")


def validate(s: Settings, raw: Raw) -> list[str]:
    problems = []
    if s.region and s.region not in regions():
        problems.append(f"aws:region: got {s.region!r}; not an AWS region EKS runs in (e.g. us-west-2)")
    version = s.cluster.kubernetes_version
    if version not in EKS_VERSIONS:
        problems.append(f"{P}:cluster.kubernetesVersion: got {version!r}; EKS supports {', '.join(EKS_VERSIONS)} ({DEFAULT_KUBERNETES} is in standard support)")
    elif EKS_VERSIONS[version][0] < date.today():
        import pulumi

        pulumi.log.warn(f"{P}:cluster.kubernetesVersion {version}: EKS standard support ended {EKS_VERSIONS[version][0]}; the control plane bills extended support ($0.60/h instead of $0.10/h)")
    subnets = 2 * s.cluster.zones  # a public and a private /20 per zone (components/aws/network.py)
    if ipaddress.ip_network(s.cluster.vpc_cidr).prefixlen > 20 - (subnets - 1).bit_length():
        problems.append(f"{P}:cluster.vpcCidr: got {s.cluster.vpc_cidr!r}; {s.cluster.zones} zones need {subnets} /20 subnets, "
                        f"so a /{20 - (subnets - 1).bit_length()} or larger network")
    if s.bucket.name and (why := bucket_name_problem(s.bucket.name)):
        problems.append(f"{P}:bucket.name: got {s.bucket.name!r}; an S3 bucket name is {why}")
    for pool in ("systemPool", "cachePool", "gpuPool"):
        instance = getattr(s, {"systemPool": "system_pool", "cachePool": "cache_pool", "gpuPool": "gpu_pool"}[pool]).instance_type
        if instance.startswith("ecs."):
            problems.append(f"{P}:{pool}.instanceType: got {instance!r}; an Alibaba Cloud type, not an AWS one (e.g. m5dn.xlarge)")
        elif instance not in INSTANCES:
            import pulumi

            pulumi.log.warn(f"{P}:{pool}.instanceType {instance!r}: not in this project's instance table; its sizing is not checked")
    for key in ("admins", "viewers"):
        for arn in getattr(s.cluster, key):
            if not ARN.fullmatch(arn):
                problems.append(f"{P}:cluster.{key}: got {arn!r}; an IAM role or user ARN, arn:aws:iam::<12-digit account>:role/<name>")
    problems += _pull_through(s)
    if s.cache.runtime == "jindo" and s.cache.credentials == "keyless":
        problems.append(f"{P}:cache.runtime: got 'jindo'; Jindo's S3 client cannot use IRSA (fluid v1.0.8 jindocache passes S3 credentials only as keys): use 'alluxio', or cache.credentials 'static'")
    problems += alicloud_only(s)
    return problems


SECRET_ARN = re.compile(r"arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/[\w/+=.@-]+")


def _pull_through(s: Settings) -> list[str]:
    images, problems = s.images, []
    if images.pull_through_credentials and not images.pull_through_cache:
        problems.append(f"{P}:images.pullThroughCredentials: set, but images.pullThroughCache is false; set it true to create the caches")
    for source, arn in images.pull_through_credentials.items():
        if source not in ("docker.io", "ghcr.io"):
            problems.append(f"{P}:images.pullThroughCredentials: got {source!r}; only docker.io and ghcr.io need credentials (ECR caches public.ecr.aws, registry.k8s.io and quay.io without)")
        elif not SECRET_ARN.fullmatch(arn):
            problems.append(f"{P}:images.pullThroughCredentials.{source}: got {arn!r}; a Secrets Manager secret ARN whose name begins with ecr-pullthroughcache/ (ECR's rule)")
    return problems


def aws_only(s: Settings) -> list[str]:
    """Options that only AWS has."""
    if s.images.pull_through_cache or s.images.pull_through_credentials:
        return [f"{P}:images.pullThroughCache: got True; ECR pull-through caches are only for cloud 'aws' (point images.registries at your mirror)"]
    return []


def alicloud_only(s: Settings) -> list[str]:
    """Options that only Alibaba Cloud has."""
    problems = []
    if s.platform.mesh == "asm":
        problems.append(f"{P}:platform.mesh: got 'asm'; Alibaba Service Mesh is only for cloud 'alicloud'")
    if s.platform.fluid_source == "ack-addon":
        problems.append(f"{P}:platform.fluidSource: got 'ack-addon'; the ack-fluid add-on is only for cloud 'alicloud'")
    if s.inference.serverless:
        problems.append(f"{P}:inference.serverless: got True; virtual-node (ECI) serving is only for cloud 'alicloud'")
    return problems


DEPLOYER_INSTANCE_TYPE = "t3.medium"  # the in-VPC deployer (aws/deployer.py); priced in components/costs.py

CLOUD = Cloud(name="aws", builder="components.aws.foundation:build", defaults=DEFAULTS, validate=validate,
              provider_namespace="aws", gpu_families=GPU_FAMILIES, instances=INSTANCES,
              deployer_instance_type=DEPLOYER_INSTANCE_TYPE)
