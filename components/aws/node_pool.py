"""EKS managed node groups for GPU serving, the Fluid cache workers and the system operators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import scheduling

Role = Literal["system", "gpu", "cache"]
AMI_TYPES = {"gpu": "AL2023_x86_64_NVIDIA", "cache": "AL2023_x86_64_STANDARD", "system": "AL2023_x86_64_STANDARD"}
_EKS_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")
# The label Cluster Autoscaler's AWS provider reads to treat a node as a GPU node (it then waits for the
# device plugin instead of adding another node while the GPU is not yet advertised): cluster-autoscaler-1.35.0
# cloudprovider/aws/aws_cloud_provider.go, processors/customresources/gpu_processor.go.
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
ACCELERATORS = {"g5": "nvidia-a10g", "g6": "nvidia-l4", "g6e": "nvidia-l40s", "g4dn": "nvidia-tesla-t4",
                "p4d": "nvidia-tesla-a100", "p5": "nvidia-h100"}
# nodeadm NodeConfig: RAID0 the instance-store NVMe and bind-mount containerd, kubelet (emptyDirs), SOCI and pod
# logs onto it before they start; pull and unpack image layers in parallel. EKS merges this MIME part with its
# own NodeConfig for AL2023 AMI types (amazon-eks-ami nodeadm api/v1alpha1/nodeconfig_types.go, doc/examples.md).
LOCAL_NVME_USER_DATA = """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="NODECONFIG"

--NODECONFIG
Content-Type: application/node.eks.aws

---
apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  instance:
    localStorage:
      strategy: RAID0
  featureGates:
    FastImagePull: true

--NODECONFIG--
"""
LOCAL_NVME_PATH = "/mnt/k8s-disks/0"  # where RAID0 mounts the array; the cache tier lives below it


@dataclass
class NodePoolArgs:
    cluster_name: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    role: Role  # picks the AMI, labels and taint (components.scheduling)
    instance_type: str
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gi: int
    disk_throughput_mi_bps: int
    disk_iops: int
    capacity_type: str = "ON_DEMAND"
    dedicated: bool = True  # cache pool: taint so only cache workers land
    local_nvme: bool = False  # the instance type has instance-store NVMe: put containerd and caches on it
    node_policy: pulumi.Input[str] | None = None  # an extra inline policy of the node role (pull-through caches)
    # what the node group waits for (the cluster): a component's own depends_on does not reach its children
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class NodePool(pulumi.ComponentResource):
    """An EKS managed node group with its own node role and launch template.

    The launch template requires IMDSv2 with a hop limit of 1 (pods cannot borrow the node role; they use
    IRSA), encrypts the root volume and gives it gp3 throughput above the 125 MiB/s default. Where the type has
    instance-store NVMe, containerd and kubelet move onto it (image pulls and the cache tier at NVMe speed).
    Min size 0 is allowed: Cluster Autoscaler learns labels and taints from the node group (and the ASG tags
    below) and the GPU count from the instance type, so it scales from zero.
    """

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:NodePool", name, None, opts)
        labels, taints = scheduling.pool_placement(args.role, args.dedicated)
        if args.role == "gpu":
            labels[ACCELERATOR_LABEL] = ACCELERATORS.get(args.instance_type.split(".")[0], "nvidia")
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(f"{name}-node", assume_role_policy=aws.iam.get_policy_document(statements=[{
            "actions": ["sts:AssumeRole"], "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}],
        }]).json, opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-{policy}", role=self.role.name,
                                                    policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child)
                       for policy in _NODE_POLICIES]
        if args.node_policy is not None:
            attachments.append(aws.iam.RolePolicy(f"{name}-node", role=self.role.name, policy=args.node_policy, opts=child))
        template = aws.ec2.LaunchTemplate(
            name,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": args.disk_size_gi, "volume_type": "gp3", "encrypted": "true",
                "throughput": args.disk_throughput_mi_bps, "iops": args.disk_iops, "delete_on_termination": "true"}}],
            user_data=_base64(LOCAL_NVME_USER_DATA) if args.local_nvme else None,
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
            capacity_type=args.capacity_type,
            instance_types=[args.instance_type],
            scaling_config={"min_size": args.min_size, "desired_size": args.desired_size, "max_size": args.max_size},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=labels,
            taints=[{"key": t["key"], "value": t["value"], "effect": _EKS_TAINT_EFFECT[t["effect"]]} for t in taints],
            update_config={"max_unavailable": 1},
            # the autoscaler owns the size once created: without this every `pulumi up` resets it
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *args.depends_on],
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )
        self._tag_for_scale_from_zero(name, labels, taints)
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name, "roleArn": self.role.arn})

    def _tag_for_scale_from_zero(self, name: str, labels: dict[str, str], taints: list[dict[str, str]]) -> None:
        """Node-template tags on the group's ASG, so the autoscaler knows labels and taints of a group at zero
        even after a restart (it can also ask eks:DescribeNodegroup). No `resources/nvidia.com/gpu` tag: it
        would override the GPU count the autoscaler reads from the instance type."""
        prefix = "k8s.io/cluster-autoscaler/node-template"
        tags = {f"{prefix}/label/{k}": v for k, v in labels.items()}
        tags |= {f"{prefix}/taint/{t['key']}": f"{t['value']}:{t['effect']}" for t in taints}
        asg_name = self.node_group.resources.apply(
            lambda res: res[0].autoscaling_groups[0].name if res and res[0].autoscaling_groups else None)
        for key, value in sorted(tags.items()):
            aws.autoscaling.Tag(f"{name}-template-{_slug(key)}", autoscaling_group_name=asg_name,
                                tag={"key": key, "value": value, "propagate_at_launch": False},
                                opts=pulumi.ResourceOptions(parent=self.node_group))


def _base64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _slug(key: str) -> str:
    """A stable resource-name suffix for a tag key (an index would renumber when a label is added)."""
    return re.sub(r"[^a-z0-9]+", "-", key.rsplit("node-template/", 1)[-1].lower()).strip("-")
