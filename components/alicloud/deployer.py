"""An in-VPC deployer for stacks whose Kubernetes API is private (prod): where `pulumi up` runs from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from components import versions
from components.alicloud.defaults import DEPLOYER_INSTANCE_TYPE

# Alibaba Cloud Linux 3 ships the Cloud Assistant agent that Session Manager connects through.
IMAGE_NAME = r"^aliyun_3_x64_20G_alibase_"
USER_DATA = f"""#!/bin/bash
set -euo pipefail
dnf install -y git python3.11 python3.11-pip jq
{versions.PULUMI_INSTALL}curl -fsSL https://aliyuncli.alicdn.com/install.sh | bash
"""


@dataclass
class DeployerArgs:
    vpc_id: pulumi.Input[str]
    vswitch_id: pulumi.Input[str]  # a node vSwitch: private, with the cluster's NAT for egress
    instance_type: str = DEPLOYER_INSTANCE_TYPE
    # the user data installs from the Internet at first boot: wait for the cluster, which brings the NAT gateway
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Deployer(pulumi.ComponentResource):
    """A small ECS instance in a private vSwitch with the Pulumi and Alibaba Cloud CLIs, reached only through
    ECS Session Manager (Cloud Assistant): no public IP, no inbound rule, no key pair, an egress-only
    security group. The ACK API server's and ASM's intranet endpoints are in the VPC, so both are reachable.

    It has no RAM role: people bring their credentials into the session (or CI runs there as a self-hosted
    runner), so the instance holds no deploy rights. Trade-offs: about $0.1/h (ecs.g7.large) and one more
    machine to patch, against a public API endpoint; Session Manager must be enabled once per account in the
    ECS console.
    """

    def __init__(self, name: str, args: DeployerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:alicloud:Deployer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = alicloud.ecs.SecurityGroup(f"{name}-sg", security_group_name=f"{name}-sg", vpc_id=args.vpc_id,
                                           description="in-VPC deployer: egress only", inner_access_policy="Drop",
                                           opts=child)
        alicloud.ecs.SecurityGroupRule(f"{name}-egress", security_group_id=group.id, type="egress", ip_protocol="all",
                                       port_range="-1/-1", cidr_ip="0.0.0.0/0", policy="accept", nic_type="intranet",
                                       opts=child)
        image = alicloud.ecs.get_images(name_regex=IMAGE_NAME, owners="system", most_recent=True).ids[0]
        self.instance = alicloud.ecs.Instance(
            name, instance_name=name, image_id=image, instance_type=args.instance_type, vswitch_id=args.vswitch_id,
            security_groups=[group.id], internet_max_bandwidth_out=0, instance_charge_type="PostPaid",
            system_disk_category="cloud_essd", system_disk_size=40, system_disk_encrypted=True,
            http_tokens="required", user_data=USER_DATA,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, ignore_changes=["imageId"]))
        self.connect = pulumi.Output.concat("ali-instance-cli session --instance ", self.instance.id)
        self.register_outputs({"instanceId": self.instance.id, "connect": self.connect})
