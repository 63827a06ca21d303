"""ACK node pools for GPU serving, Fluid cache workers and the system operators, and the cluster-level
autoscaler that grows the GPU pool from zero."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from components import scheduling
from components.config import NodePoolSettings


@dataclass
class NodePoolArgs:
    cluster_id: pulumi.Input[str]
    vswitch_ids: list[pulumi.Input[str]]
    role: str  # "system", "gpu" or "cache": picks labels and taint, the same as on EKS (components.scheduling)
    pool: NodePoolSettings
    key_name: pulumi.Input[str]  # the login ACK wants for nodes (cluster.py)
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # the cluster autoscaling config


class NodePool(pulumi.ComponentResource):
    """An ACK node pool with an encrypted ESSD system disk sized for multi-GB serving images.

    GPU and cache pools autoscale (min 0 allowed: ACK's autoscaler reads the pool's labels, taints and
    instance type, so it scales from zero). The system pool is fixed at `desiredSize`: ACK labels nodes of
    autoscaled pools `k8s.aliyun.com=true` to keep CoreDNS and metrics-server off them, so an all-elastic
    cluster leaves those nowhere to run.
    """

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:NodePool", name, None, opts)
        pool = args.pool
        labels, taints = scheduling.pool_placement(args.role, pool.dedicated)
        size = ({"desired_size": str(pool.desired_size)} if args.role == "system" else
                {"scaling_config": {"enable": True, "min_size": pool.min_size, "max_size": pool.max_size}})
        self.node_pool = alicloud.cs.NodePool(
            name, node_pool_name=name, cluster_id=args.cluster_id, vswitch_ids=args.vswitch_ids,
            instance_types=[pool.instance_type], instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo" if pool.capacity_type == "SPOT" else "NoSpot",
            system_disk_category="cloud_essd", system_disk_performance_level="PL1",
            system_disk_size=pool.disk_size_gi, system_disk_encrypted=True, key_name=args.key_name,
            # hardened (token) metadata access only, as IMDSv2 on EKS; ACK supports it from Kubernetes 1.28
            instance_metadata_options={"http_tokens": "required"},
            labels=[{"key": k, "value": v} for k, v in labels.items()], taints=taints,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on), **size)
        self.register_outputs({"nodePoolName": name})


def cluster_autoscaling(name: str, cluster_id: pulumi.Input[str], idle_minutes: int,
                        opts: pulumi.ResourceOptions | None = None) -> alicloud.cs.AutoscalingConfig:
    """ACK scales a pool only once autoscaling is on for the cluster. An idle GPU node goes after
    `idle_minutes`: the API docs have swapped the meanings of `unneeded_duration` and `cool_down_duration`
    between versions, so both are set to it (either way a node leaves `idle_minutes` after it is unneeded)."""
    idle = f"{idle_minutes}m"
    return alicloud.cs.AutoscalingConfig(name, cluster_id=cluster_id, scaler_type="cluster-autoscaler",
                                         expander="least-waste", scale_down_enabled=True,
                                         unneeded_duration=idle, cool_down_duration=idle, opts=opts)
