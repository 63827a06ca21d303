"""EKS managed node groups for GPU serving and for the Fluid cache workers."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import scheduling
from components.config import NodePoolSettings

AMI_TYPES = {"gpu": "AL2023_x86_64_NVIDIA", "cache": "AL2023_x86_64_STANDARD", "system": "AL2023_x86_64_STANDARD"}
_EKS_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
# extended resources a GPU node has, which the autoscaler must assume when the group has no node to look at
GPU_RESOURCES = {"nvidia.com/gpu": "1"}
_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")


@dataclass
class NodePoolArgs:
    cluster_name: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    role: str  # "system", "gpu" or "cache": picks the AMI, labels and taint (components.scheduling)
    pool: NodePoolSettings


class NodePool(pulumi.ComponentResource):
    """An EKS managed node group with its own node role and launch template.

    The launch template requires IMDSv2 with a hop limit of 1 (pods cannot borrow the node role; they
    use IRSA) and gives the root volume gp3 throughput and IOPS above the 125 MB/s default, which
    would otherwise cap image pulls and cache reads. Min size 0 is allowed: the node group's ASG
    carries cluster-autoscaler node-template tags, so it scales from zero.
    """

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:NodePool", name, None, opts)
        pool = args.pool
        labels, taints = scheduling.pool_placement(args.role, pool.dedicated)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(f"{name}-node", assume_role_policy=aws.iam.get_policy_document(statements=[{
            "actions": ["sts:AssumeRole"], "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}],
        }]).json, opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=self.role.name,
                                                    policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child)
                       for policy in _NODE_POLICIES]
        template = aws.ec2.LaunchTemplate(
            name,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": pool.disk_size_gi, "volume_type": "gp3", "encrypted": "true",
                "throughput": pool.disk_throughput_mi_bps, "iops": pool.disk_iops, "delete_on_termination": "true"}}],
            tag_specifications=[{"resource_type": "instance", "tags": {"Name": name, **labels}}],
            update_default_version=True,
            opts=child,
        )
        self.node_group = aws.eks.NodeGroup(
            name,
            cluster_name=args.cluster_name,
            node_group_name=name,
            node_role_arn=self.role.arn,
            subnet_ids=args.subnet_ids,
            ami_type=AMI_TYPES[args.role],
            capacity_type=pool.capacity_type,
            instance_types=[pool.instance_type],
            scaling_config={"min_size": pool.min_size, "desired_size": pool.desired_size, "max_size": pool.max_size},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=labels,
            taints=[{"key": t["key"], "value": t["value"], "effect": _EKS_TAINT_EFFECT[t["effect"]]} for t in taints],
            update_config={"max_unavailable": 1},
            # the autoscaler owns the size once created
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments,
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )
        self._tag_for_scale_from_zero(name, labels, taints, GPU_RESOURCES if args.role == "gpu" else {})
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name, "roleArn": self.role.arn})

    def _tag_for_scale_from_zero(self, name: str, labels: dict[str, str], taints: list[dict[str, str]],
                                 resources: dict[str, str]) -> None:
        """Cluster-autoscaler builds a node template from ASG tags when the group has no nodes."""
        prefix = "k8s.io/cluster-autoscaler/node-template"
        tags = {f"{prefix}/label/{k}": v for k, v in labels.items()}
        tags |= {f"{prefix}/taint/{t['key']}": f"{t['value']}:{t['effect']}" for t in taints}
        tags |= {f"{prefix}/resources/{k}": v for k, v in resources.items()}
        asg_name = self.node_group.resources.apply(
            lambda res: res[0].autoscaling_groups[0].name if res and res[0].autoscaling_groups else None)
        for i, (key, value) in enumerate(sorted(tags.items())):
            aws.autoscaling.Tag(f"{name}-template-{i}", autoscaling_group_name=asg_name,
                                tag={"key": key, "value": value, "propagate_at_launch": False},
                                opts=pulumi.ResourceOptions(parent=self.node_group))
