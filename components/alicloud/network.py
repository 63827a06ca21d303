"""VPC for ACK: per zone a node vSwitch and a Terway pod vSwitch, in zones that sell the GPU type."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from components.config import PROJECT

MAX_ZONES = 4  # the pod half of the VPC is cut in four


@dataclass
class NetworkArgs:
    cidr: str
    zones: int  # how many to choose, when none are pinned
    zone_ids: tuple[str, ...]  # cluster.zoneIds: pinned zones (checked, not chosen)
    gpu_instance_type: str  # the scarce type: every zone must sell it


def usable_zones(gpu_instance_type: str) -> list[str]:
    """Zones where a vSwitch can be made, the GPU type is sold and an enhanced NAT gateway (ACK's egress) can
    stand, in a stable order."""
    selling = alicloud.get_zones(available_instance_type=gpu_instance_type, available_resource_creation="VSwitch").ids
    nat = set(alicloud.vpc.get_enhanced_nat_available_zones().ids)
    return sorted(z for z in selling if z in nat)


def choose_zones(args: NetworkArgs) -> list[str]:
    usable = usable_zones(args.gpu_instance_type)
    if args.zone_ids:
        unusable = [z for z in args.zone_ids if z not in usable]
        if unusable:
            raise ValueError(f"{PROJECT}:cluster.zoneIds: got {list(args.zone_ids)}; {', '.join(unusable)} do not sell {args.gpu_instance_type} with enhanced NAT (usable: {', '.join(usable) or 'none'})")
        zones = list(args.zone_ids)
    elif len(usable) < args.zones:
        raise ValueError(f"{PROJECT}:cluster.zones: got {args.zones}; only {len(usable)} zones sell {args.gpu_instance_type} with enhanced NAT ({', '.join(usable) or 'none'}): lower it, or pick another gpuPool.instanceType or region")
    else:
        zones = usable[: args.zones]
    if len(zones) > MAX_ZONES:
        raise ValueError(f"{PROJECT}:cluster.zoneIds: got {len(zones)} zones; at most {MAX_ZONES}")
    return zones


class Network(pulumi.ComponentResource):
    """A VPC whose first half holds the node vSwitches (/20 in a /16) and whose second half the Terway pod
    vSwitches (/19), one of each per zone. vSwitches are named by index, so a different zone list replaces
    only the vSwitch whose zone changed; pin `cluster.zoneIds` (output zoneIds) to keep them. ACK adds the
    NAT gateway for outbound traffic (`new_nat_gateway`)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:Network", name, None, opts)
        self.zone_ids = choose_zones(args)
        nodes_half, pods_half = ipaddress.ip_network(args.cidr).subnets(prefixlen_diff=1)
        node_blocks = list(nodes_half.subnets(prefixlen_diff=3))
        pod_blocks = list(pods_half.subnets(prefixlen_diff=2))
        self.vpc = alicloud.vpc.Network(name, vpc_name=name, cidr_block=args.cidr, opts=pulumi.ResourceOptions(parent=self))

        def switch(kind: str, i: int, zone: str, block: ipaddress.IPv4Network) -> pulumi.Output[str]:
            return alicloud.vpc.Switch(f"{name}-{kind}-{i}", vswitch_name=f"{name}-{kind}-{i}", vpc_id=self.vpc.id,
                                       zone_id=zone, cidr_block=str(block), opts=pulumi.ResourceOptions(parent=self.vpc)).id

        self.vswitch_ids = [switch("nodes", i, zone, node_blocks[i]) for i, zone in enumerate(self.zone_ids)]
        self.pod_vswitch_ids = [switch("pods", i, zone, pod_blocks[i]) for i, zone in enumerate(self.zone_ids)]
        self.register_outputs({"vpcId": self.vpc.id, "vswitchIds": self.vswitch_ids, "zoneIds": self.zone_ids})
