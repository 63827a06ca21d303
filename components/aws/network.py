"""VPC for the EKS cluster: public subnets for load balancers, private subnets for nodes, and an S3 gateway
endpoint so no model byte pays NAT processing."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class NetworkArgs:
    cidr: str
    zones: int
    cluster_name: str
    region: str
    # one NAT gateway per zone survives a zone outage; one in total is cheaper for dev
    nat_per_zone: bool


class Network(pulumi.ComponentResource):
    """A VPC across `zones` availability zones (Local and Wavelength Zones excluded: EKS control planes and
    g5 capacity live in the region's own zones). Nodes run in private subnets and reach out through NAT;
    S3 traffic (ingest, cache fills, the baseline's downloads) goes through a free gateway endpoint."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(
            state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]).names[: args.zones]
        if len(zones) < args.zones:
            raise ValueError(f"kserve-fluid:cluster.zones: got {args.zones}; region {args.region} has {len(zones)} standard availability zones")
        subnets = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=20))  # size checked by the config
        elb_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}

        self.vpc = aws.ec2.Vpc(name, cidr_block=args.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                               tags={"Name": name}, opts=child)
        vpc_child = pulumi.ResourceOptions(parent=self.vpc)
        igw = aws.ec2.InternetGateway(name, vpc_id=self.vpc.id, opts=vpc_child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}], opts=vpc_child)
        self.public_subnet_ids: list[pulumi.Output[str]] = []
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        private_route_tables: list[pulumi.Output[str]] = []
        nat_ids: list[pulumi.Output[str]] = []
        for i, zone in enumerate(zones):
            public = aws.ec2.Subnet(f"{name}-public-{i}", vpc_id=self.vpc.id, availability_zone=zone,
                                    cidr_block=str(subnets[i]), map_public_ip_on_launch=False,
                                    tags={**elb_tag, "Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                                    opts=vpc_child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=public.id, route_table_id=public_rt.id,
                                          opts=vpc_child)
            if args.nat_per_zone or i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", opts=vpc_child)
                nat_ids.append(aws.ec2.NatGateway(f"{name}-nat-{i}", subnet_id=public.id, allocation_id=eip.id,
                                                  opts=pulumi.ResourceOptions(parent=self.vpc, depends_on=[igw])).id)
            private = aws.ec2.Subnet(f"{name}-private-{i}", vpc_id=self.vpc.id, availability_zone=zone,
                                     cidr_block=str(subnets[len(zones) + i]),
                                     tags={**elb_tag, "Name": f"{name}-private-{zone}",
                                           "kubernetes.io/role/internal-elb": "1"},
                                     opts=vpc_child)
            private_rt = aws.ec2.RouteTable(f"{name}-private-{i}", vpc_id=self.vpc.id,
                                            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[-1]}],
                                            opts=vpc_child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=private.id,
                                          route_table_id=private_rt.id, opts=vpc_child)
            self.public_subnet_ids.append(public.id)
            self.private_subnet_ids.append(private.id)
            private_route_tables.append(private_rt.id)
        self.s3_endpoint = aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=self.vpc.id, vpc_endpoint_type="Gateway",
                                               service_name=f"com.amazonaws.{args.region}.s3",
                                               route_table_ids=private_route_tables, opts=vpc_child)
        self.register_outputs({"vpcId": self.vpc.id, "privateSubnetIds": self.private_subnet_ids,
                               "publicSubnetIds": self.public_subnet_ids, "s3EndpointId": self.s3_endpoint.id})
