"""An in-VPC deployer for stacks whose Kubernetes API is private (prod): where `pulumi up` runs from."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import versions
from components.aws.defaults import DEPLOYER_INSTANCE_TYPE

# Amazon Linux 2023 (ships the AWS CLI v2 and the SSM agent); the parameter always names the newest AMI.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
USER_DATA = f"""#!/bin/bash
set -euo pipefail
dnf install -y git python3.11 python3.11-pip
{versions.PULUMI_INSTALL}"""


@dataclass
class DeployerArgs:
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]  # a private subnet
    cluster_security_group_id: pulumi.Input[str]
    instance_type: str = DEPLOYER_INSTANCE_TYPE


class Deployer(pulumi.ComponentResource):
    """A small instance in a private subnet with the Pulumi CLI, reached only through SSM Session Manager
    (no inbound port, no SSH key, no public IP), allowed to the cluster's private endpoint on 443.

    Its own role can only talk to SSM: people bring their credentials into the session (or CI its OIDC
    role, with the instance registered as a self-hosted runner), so the instance holds no deploy rights.
    Trade-off: about $0.04/h (t3.medium) and one more machine to patch, against a public API endpoint.
    """

    def __init__(self, name: str, args: DeployerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:Deployer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(f"{name}-sg", vpc_id=args.vpc_id, description="in-VPC deployer: egress only",
                                      egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
                                      opts=child)
        aws.vpc.SecurityGroupIngressRule(f"{name}-to-api", security_group_id=args.cluster_security_group_id,
                                         referenced_security_group_id=group.id, ip_protocol="tcp", from_port=443,
                                         to_port=443, description="in-VPC deployer to the Kubernetes API", opts=child)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=aws.iam.get_policy_document(statements=[{
            "actions": ["sts:AssumeRole"], "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}],
        }]).json, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name,
                                     policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", opts=child)
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER).value
        self.instance = aws.ec2.Instance(
            name, ami=ami, instance_type=args.instance_type, subnet_id=args.subnet_id,
            vpc_security_group_ids=[group.id], iam_instance_profile=profile.name, associate_public_ip_address=False,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
            root_block_device={"volume_size": 30, "volume_type": "gp3", "encrypted": True},
            user_data=USER_DATA, tags={"Name": name},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]))
        self.connect = pulumi.Output.concat("aws ssm start-session --target ", self.instance.id)
        self.register_outputs({"instanceId": self.instance.id, "connect": self.connect})
