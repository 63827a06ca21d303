"""VPC and vSwitches for the ACK cluster, one vSwitch per zone."""
from __future__ import annotations

import ipaddress

import pulumi
import pulumi_alicloud as alicloud


class Network(pulumi.ComponentResource):
    """A VPC with a vSwitch in each of `zones` zones; ACK adds the NAT gateway for outbound traffic."""

    def __init__(self, name: str, cidr: str, zones: int, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:Network", name, None, opts)
        zone_ids = alicloud.get_zones(available_resource_creation="VSwitch").ids[:zones]
        blocks = ipaddress.ip_network(cidr).subnets(new_prefix=20)
        self.vpc = alicloud.vpc.Network(name, vpc_name=name, cidr_block=cidr, opts=pulumi.ResourceOptions(parent=self))
        self.vswitch_ids = [
            alicloud.vpc.Switch(f"{name}-{zone}", vswitch_name=f"{name}-{zone}", vpc_id=self.vpc.id, zone_id=zone,
                                cidr_block=str(block), opts=pulumi.ResourceOptions(parent=self.vpc)).id
            for zone, block in zip(zone_ids, blocks)]
        self.register_outputs({"vpcId": self.vpc.id, "vswitchIds": self.vswitch_ids})
