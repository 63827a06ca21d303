"""ACK node pools for GPU serving, Fluid cache workers and the system operators."""
from __future__ import annotations

from dataclasses import dataclass

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
    ram_role_name: pulumi.Input[str] | None = None  # the nodes' own identity (cache pool: read the bucket)


class NodePool(pulumi.ComponentResource):
    """An auto-scaling ACK node pool (min 0 allowed: ACK's autoscaler knows the pool's labels and taints,
    so it scales from zero) with an ESSD system disk sized for multi-GB serving images."""

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:NodePool", name, None, opts)
        pool = args.pool
        labels, taints = scheduling.pool_placement(args.role, pool.dedicated)
        self.node_pool = alicloud.cs.NodePool(
            name, node_pool_name=name, cluster_id=args.cluster_id, vswitch_ids=args.vswitch_ids,
            instance_types=[pool.instance_type], instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo" if pool.capacity_type == "SPOT" else "NoSpot",
            system_disk_category="cloud_essd", system_disk_performance_level="PL1",
            system_disk_size=pool.disk_size_gi, system_disk_encrypted=True,
            labels=[{"key": k, "value": v} for k, v in labels.items()],
            taints=taints,
            scaling_config={"enable": True, "min_size": pool.min_size, "max_size": pool.max_size},
            ram_role_name=args.ram_role_name,
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"nodePoolName": name})
