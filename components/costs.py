"""What a stack costs per hour, idle (GPU pool at its minimum, model scaled to zero) and per serving replica.

An estimate from list prices, not a bill: on-demand Linux prices, no free tier, no data transfer or request
charges (listed in README, "What it costs"). `python -m components.costs` prints the table README shows.

Sources, read 2026-12-01 (prices change; check the calculators before you budget):
- AWS us-west-2 on-demand: https://aws.amazon.com/ec2/pricing/on-demand/, https://aws.amazon.com/eks/pricing/
  (standard $0.10, extended support $0.60 per cluster-hour), https://aws.amazon.com/vpc/pricing/ (NAT gateway,
  public IPv4 $0.005/h), https://aws.amazon.com/elasticloadbalancing/pricing/ (Classic LB),
  https://aws.amazon.com/ebs/pricing/ (gp3), https://aws.amazon.com/kms/pricing/.
- Alibaba Cloud ap-southeast-1 pay-as-you-go: https://www.alibabacloud.com/product/ecs#pricing, ACK Pro cluster
  fee https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/product-overview/billing-of-ack-pro-clusters,
  NAT gateway and SLB price pages. Alibaba's international list prices were not re-read on the date above:
  the Alibaba figures are approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS_PER_MONTH = 730
PRICES: dict[str, dict[str, float]] = {
    "aws": {
        "control-plane": 0.10, "control-plane-extended": 0.60, "nat-gateway": 0.045, "load-balancer": 0.025,
        "public-ipv4": 0.005, "kms-key": 1 / HOURS_PER_MONTH,
        "gp3-gb": 0.08 / HOURS_PER_MONTH, "gp3-mibps": 0.04 / HOURS_PER_MONTH, "gp3-iops": 0.005 / HOURS_PER_MONTH,
        "m6i.large": 0.096, "m6i.xlarge": 0.192, "m5n.xlarge": 0.238, "m5dn.xlarge": 0.272, "m6id.xlarge": 0.2373,
        "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.12xlarge": 5.672,
        "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6e.xlarge": 1.861, "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752,
        "t3.medium": 0.0416,
    },
    "alicloud": {
        "control-plane": 0.09, "nat-gateway": 0.05, "load-balancer": 0.02, "public-ipv4": 0.005, "kms-key": 1 / HOURS_PER_MONTH,
        "essd-gb": 0.15 / HOURS_PER_MONTH,
        "ecs.g7.large": 0.11, "ecs.g7.xlarge": 0.22, "ecs.g7.2xlarge": 0.44,
        "ecs.gn6i-c4g1.xlarge": 1.05, "ecs.gn6i-c16g1.4xlarge": 1.62, "ecs.gn6i-c24g1.12xlarge": 4.10,
        "ecs.gn7i-c16g1.4xlarge": 2.20,
    },
}


@dataclass(frozen=True)
class Estimate:
    idle: dict[str, float]  # $/h by component while the model is scaled to zero
    per_replica: float  # $/h added by each serving replica's GPU node (with its disk)
    gpu_idle_tail: float  # $ of one GPU node kept idle for gpuNodeIdleMinutes after the last request
    unpriced: list[str]  # instance types missing from the table

    @property
    def idle_total(self) -> float:
        return round(sum(self.idle.values()), 2)


def estimate(s) -> Estimate | None:
    """The estimate for validated Settings; None for `existing` (the cluster is not ours to price)."""
    prices = PRICES.get(s.cloud)
    if prices is None:
        return None
    unpriced = []

    def node(pool) -> float:
        price = prices.get(pool.instance_type)
        if price is None:
            unpriced.append(pool.instance_type)
            price = 0.0
        if s.cloud == "aws":
            disk = pool.disk_size_gi * prices["gp3-gb"] + max(pool.disk_throughput_mi_bps - 125, 0) * prices["gp3-mibps"] \
                + max(pool.disk_iops - 3000, 0) * prices["gp3-iops"]
        else:
            disk = pool.disk_size_gi * prices["essd-gb"]
        return price + disk

    from datetime import date

    from components.aws.defaults import EKS_VERSIONS  # SDK-free

    extended = s.cloud == "aws" and s.cluster.kubernetes_version in EKS_VERSIONS \
        and EKS_VERSIONS[s.cluster.kubernetes_version][0] < date.today()
    nats = s.cluster.zones if (s.cloud == "aws" and s.is_prod) else 1
    idle = {
        "control plane" + (" (extended support)" if extended else ""): prices["control-plane-extended" if extended else "control-plane"],
        f"system pool ({s.system_pool.desired_size} x {s.system_pool.instance_type})": s.system_pool.desired_size * node(s.system_pool),
        f"cache pool ({s.cache_pool.desired_size} x {s.cache_pool.instance_type})": s.cache_pool.desired_size * node(s.cache_pool),
        f"NAT gateway{'s' if nats > 1 else ''} ({nats})": nats * (prices["nat-gateway"] + prices["public-ipv4"]),
        "gateway load balancer": prices["load-balancer"] + s.cluster.zones * prices["public-ipv4"],
        "KMS keys (2)": 2 * prices["kms-key"],
    }
    if s.gpu_pool.min_size:
        idle[f"GPU pool minimum ({s.gpu_pool.min_size} x {s.gpu_pool.instance_type})"] = s.gpu_pool.min_size * node(s.gpu_pool)
    if s.cluster.deployer:
        from components.clouds import CLOUDS

        idle["in-VPC deployer"] = prices[CLOUDS[s.cloud].deployer_instance_type]
    gpu_node = node(s.gpu_pool)
    idle = {k: round(v, 3) for k, v in idle.items()}
    return Estimate(idle=idle, per_replica=round(gpu_node, 3),
                    gpu_idle_tail=round(gpu_node * s.platform.gpu_node_idle_minutes / 60, 2), unpriced=sorted(set(unpriced)))


def main() -> None:
    """Print README's cost table for every committed stack."""
    from pathlib import Path

    import yaml

    from components import config

    rows = ["| stack | idle $/h (model at zero) | biggest idle items | + per serving replica | idle GPU node after the last request |",
            "|---|---|---|---|---|"]
    for path in sorted((Path(__file__).resolve().parent.parent / "stacks").glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        cfg = yaml.safe_load(path.read_text())["config"]
        own = {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith(f"{config.PROJECT}:")}
        region = next((v for k, v in cfg.items() if k.endswith(":region")), None)
        try:
            s = config.build_settings(own, stack, region=region)
        except config.ConfigError:
            continue
        e = estimate(s)
        if e is None:
            rows.append(f"| {stack} | your cluster | - | - | - |")
            continue
        top = ", ".join(f"{k} ${v:.2f}" for k, v in sorted(e.idle.items(), key=lambda kv: -kv[1])[:3])
        rows.append(f"| {stack} | **${e.idle_total:.2f}** (~${math.ceil(e.idle_total * HOURS_PER_MONTH)}/month) | {top} | "
                    f"${e.per_replica:.2f} | ${e.gpu_idle_tail:.2f} ({s.platform.gpu_node_idle_minutes} min) |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
