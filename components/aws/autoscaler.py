"""Cluster Autoscaler for EKS: scales the GPU pool from zero when an InferenceService pod is pending."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import scheduling, versions
from components.aws.identity import irsa_role

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"
IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
# The autoscaler's minor must equal the cluster's (its README's version table): 1.35 locks dynamic resource
# allocation on and lists resource.k8s.io/v1, which Kubernetes serves from 1.34 (cluster-autoscaler-1.35.0
# config/flags/flags.go). Chart 9.59.0 defaults to v1.35.0; these are the newest patches per minor.
# (kubernetes/autoscaler tags cluster-autoscaler-1.3x.y, read 2026-08-22.)
IMAGE_TAGS = {"1.33": "v1.33.6", "1.34": "v1.34.5", "1.35": "v1.35.2", "1.36": "v1.36.1"}


@dataclass
class ClusterAutoscalerArgs:
    cluster_name: str
    kubernetes_version: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    chart: versions.Chart
    idle_minutes: int  # how long an unneeded (e.g. idle GPU) node stays
    registries: dict[str, str] = field(default_factory=dict)  # image mirrors
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # the system pool it runs on


class ClusterAutoscaler(pulumi.ComponentResource):
    """The upstream chart with auto-discovery of this cluster's node groups and an IRSA role that may only
    resize groups tagged as owned by this cluster. It runs on the untainted system pool."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:ClusterAutoscaler", name, None, opts)
        policy = aws.iam.get_policy_document_output(statements=[
            {"sid": "Discover", "resources": ["*"], "actions": [
                "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup"]},
            {"sid": "ResizeOwnGroups", "resources": ["*"], "actions": [
                "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
             "conditions": [{"test": "StringEquals", "values": ["owned"],
                             "variable": f"aws:ResourceTag/k8s.io/cluster-autoscaler/{args.cluster_name}"}]},
        ]).json
        self.role = irsa_role(f"{name}-irsa", args.oidc_provider_arn, args.oidc_provider_url,
                              [f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"], policy, self)
        image = versions.mirrored(f"{IMAGE}:{image_tag(args.kubernetes_version)}", args.registries)
        self.release = k8s.helm.v3.Release(
            name, name="cluster-autoscaler", chart=args.chart.chart, version=args.chart.version,
            repository_opts={"repo": args.chart.repo}, namespace=NAMESPACE, atomic=True, timeout=900,
            values={
                "cloudProvider": "aws",
                "fullnameOverride": "cluster-autoscaler",  # Deployment kube-system/cluster-autoscaler (README)
                "awsRegion": args.region,
                "autoDiscovery": {"clusterName": args.cluster_name},
                "image": {"repository": image.rsplit(":", 1)[0], "tag": image.rsplit(":", 1)[1]},
                "nodeSelector": {scheduling.ROLE_LABEL: "system"},
                "rbac": {"serviceAccount": {"name": SERVICE_ACCOUNT,
                                            "annotations": {"eks.amazonaws.com/role-arn": self.role.arn}}},
                "customArgs": ["--balance-similar-node-groups", "--expander=least-waste",
                               f"--scale-down-unneeded-time={args.idle_minutes}m", "--skip-nodes-with-system-pods=false"],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role, *args.depends_on]),
        )
        self.register_outputs({"roleArn": self.role.arn, "image": image})


def image_tag(kubernetes_version: str) -> str:
    """The autoscaler release whose minor matches the cluster's."""
    return IMAGE_TAGS[kubernetes_version]
