"""What README says a stack costs is what the code computes, from the stack files as committed."""

from __future__ import annotations

import contextlib
import io

import pytest

from components import costs
from components.aws import autoscaler, defaults
from tests import harness

README = (harness.ROOT / "README.md").read_text()


def test_the_readme_table_is_the_one_the_code_prints():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        costs.main()
    assert out.getvalue().strip() in README, "run: python -m components.costs, and paste it into README"


@pytest.mark.parametrize("name", ["aws-dev", "aws-staging", "aws-prod", "alicloud-dev", "alicloud-prod"])
def test_every_stack_is_priced_and_its_output_carries_the_idle_figure(stack, name):
    estimate = costs.estimate(harness.load(name))
    assert estimate.unpriced == [] and estimate.idle_total > 0
    assert stack(name).outputs["idleCostPerHour"] == estimate.idle_total


def test_idle_means_the_gpu_pool_at_its_minimum():
    at_zero = costs.estimate(harness.load("aws-dev"))
    warm = costs.estimate(harness.load("aws-dev", harness.stack_config("aws-dev", {"gpuPool.minSize": 1, "gpuPool.desiredSize": 1})))
    assert not any(k.startswith("GPU pool") for k in at_zero.idle)
    assert warm.idle["GPU pool minimum (1 x g5.2xlarge)"] == at_zero.per_replica
    assert warm.idle_total == pytest.approx(at_zero.idle_total + at_zero.per_replica, abs=0.01)


def test_the_idle_gpu_tail_follows_gpu_node_idle_minutes():
    quick = costs.estimate(harness.load("aws-dev", harness.stack_config("aws-dev", {"platform.gpuNodeIdleMinutes": 5})))
    assert quick.gpu_idle_tail == pytest.approx(costs.estimate(harness.load("aws-dev")).gpu_idle_tail / 2, abs=0.01)


def test_extended_support_shows_in_the_control_plane_price(monkeypatch):
    from datetime import date

    monkeypatch.setitem(defaults.EKS_VERSIONS, "1.35", (date(2026, 1, 1), date(2027, 1, 1)))
    idle = costs.estimate(harness.load("aws-dev")).idle
    assert idle["control plane (extended support)"] == 0.60 and "control plane" not in idle


def test_prod_pays_for_a_nat_per_zone_and_its_deployer():
    idle = costs.estimate(harness.load("aws-prod")).idle
    assert idle["NAT gateways (3)"] == pytest.approx(3 * (0.045 + 0.005))
    assert idle["in-VPC deployer"] == pytest.approx(costs.PRICES["aws"]["t3.medium"], abs=0.001)


def test_every_eks_version_the_config_allows_has_an_autoscaler_of_its_minor():
    assert set(defaults.EKS_VERSIONS) == set(autoscaler.IMAGE_TAGS)
    assert all(tag.startswith(f"v{minor}.") for minor, tag in autoscaler.IMAGE_TAGS.items())
