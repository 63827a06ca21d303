"""Cluster Autoscaler for EKS: scales the GPU pool from zero when an InferenceService pod is pending."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.identity import irsa_role
from components.versions import Chart

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"


class ClusterAutoscaler(pulumi.ComponentResource):
    """The upstream chart with auto-discovery of this cluster's node groups and an IRSA role that may
    only resize groups tagged as owned by this cluster. GPU nodes left idle after scale-to-zero are
    removed after 5 minutes (the default 10 keeps an idle GPU twice as long)."""

    def __init__(self, name: str, cluster_name: str, region: str, oidc_provider_arn: pulumi.Input[str],
                 oidc_provider_url: pulumi.Input[str], chart: Chart, opts: pulumi.ResourceOptions):
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
                             "variable": f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}"}]},
        ]).json
        self.role = irsa_role(f"{name}-irsa", oidc_provider_arn, oidc_provider_url,
                              [f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"], policy, self)
        self.release = k8s.helm.v3.Release(
            name, chart=chart.chart, version=chart.version, repository_opts={"repo": chart.repo},
            namespace=NAMESPACE, atomic=True,
            values={
                "cloudProvider": "aws",
                "awsRegion": region,
                "autoDiscovery": {"clusterName": cluster_name},
                "rbac": {"serviceAccount": {"name": SERVICE_ACCOUNT,
                                            "annotations": {"eks.amazonaws.com/role-arn": self.role.arn}}},
                "customArgs": ["--balance-similar-node-groups", "--expander=least-waste",
                               "--scale-down-unneeded-time=5m", "--skip-nodes-with-system-pods=false"],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"roleArn": self.role.arn})
