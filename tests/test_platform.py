"""The serving platform: which releases, pinned where, configured how, in what order, and where images come from."""

from __future__ import annotations

from components import versions
from components.k8s.platform import KNATIVE_FEATURES, ServingPlatform
from tests import harness

ISTIO = {"base", "istiod", "gateway"}
CORE = {"cert-manager", "knative-operator", "kserve-crd", "kserve-resources", "fluid"}


def test_releases_per_cloud(stack):
    assert stack("aws-dev").charts() == CORE | ISTIO | {"nvidia-device-plugin", "cluster-autoscaler"}
    assert stack("byo-dev").charts() == CORE | ISTIO | {"nvidia-device-plugin"}


def test_switches_skip_parts():
    run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"platform.install.nvidiaDevicePlugin": False,
                                                                         "platform.install.clusterAutoscaler": False}))
    assert run.error is None and run.charts() == CORE | ISTIO


def test_every_release_is_pinned_exactly_to_the_versions_module(stack):
    by_chart = {c.chart.split("/")[-1]: (key, c) for key, c in versions.CHARTS.items()}
    for release in stack("aws-dev").of_type("kubernetes:helm.sh/v3:Release"):
        key, chart = by_chart[release.plain["chart"].split("/")[-1]]
        assert release.plain["version"] == chart.version and versions.is_exact(key, chart.version)


def test_a_stack_overrides_a_version_in_its_release():
    run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"release.versions": {"fluid": "1.0.7", "knativeServing": "1.22.0"}}))
    assert run.helm("fluid").plain["version"] == "1.0.7"
    assert run.one("KnativeServing").plain["spec"]["version"] == "1.22.0"


def test_knative_takes_a_cold_start_to_its_end(stack):
    run = stack("aws-dev")
    config = run.one("KnativeServing").plain["spec"]["config"]
    assert config["features"] == KNATIVE_FEATURES
    timeout = run.one("InferenceService").plain["spec"]["predictor"]["timeout"]
    # Knative's webhook refuses a revision timeout above max-revision-timeout-seconds (600 by default)
    assert config["defaults"]["max-revision-timeout-seconds"] == str(timeout) == "1800"
    assert config["deployment"]["progress-deadline"] == "1800s"
    assert config["autoscaler"] == {"enable-scale-to-zero": "true", "scale-to-zero-grace-period": "30s", "stable-window": "60s"}
    assert run.outputs["scaleToZeroSeconds"] == 90
    assert config["domain"] == {"example.com": ""}


def test_kserve_runs_in_knative_mode_with_the_stacks_scheme(stack):
    controller = stack("aws-dev").helm("kserve-resources").plain["values"]["kserve"]["controller"]
    assert controller["deploymentMode"] == "Knative" and controller["gateway"]["urlScheme"] == "https"


def test_dependency_chain_crds_webhooks_custom_resources(stack):
    run = stack("aws-dev")
    assert run.depends_on(run.helm("kserve-resources"), run.helm("kserve-crd"))
    assert run.depends_on(run.helm("kserve-crd"), run.helm("cert-manager"))
    assert run.depends_on(run.helm("gateway"), run.helm("istiod"))
    assert run.depends_on(run.helm("istiod"), run.helm("base"))
    assert run.depends_on(run.one("KnativeServing"), run.helm("knative-operator"))
    for kind in ("Dataset", "AlluxioRuntime", "DataLoad"):
        assert run.depends_on(run.one(kind), run.helm("fluid")), kind
    for kind in ("ServingRuntime", "InferenceService"):
        assert run.depends_on(run.one(kind), run.helm("kserve-resources")), kind
        assert run.depends_on(run.one(kind), run.one("KnativeServing")), kind


def test_the_platform_waits_for_capacity(stack):
    run = stack("aws-dev")
    gpu_pool = run.one("aws:eks/nodeGroup:NodeGroup", "kf-dev-gpu")
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        if release.name != "kf-dev-autoscaler":
            assert run.depends_on(release, gpu_pool), release.name


def test_a_private_ca_issues_tls_on_the_first_up(stack):
    run = stack("aws-dev")
    bootstrap, issuer = run.one("ClusterIssuer", "ca-bootstrap"), run.one("ClusterIssuer", "ca-issuer")
    ca = run.one("Certificate", "ca")
    assert ca.plain["spec"]["isCA"] is True and ca.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert issuer.plain["spec"] == {"ca": {"secretName": "kserve-fluid-ca"}}
    assert run.depends_on(ca, bootstrap) and run.depends_on(issuer, ca)
    assert run.depends_on(run.one("Certificate", "models-tls"), issuer)


def test_the_platform_creates_nothing_per_model(stack):
    run = stack("aws-dev")
    platform = run.one("kserve-fluid:k8s:ServingPlatform")
    children = [r for r in run.registrations if r.parent == platform.urn]
    assert not [r for r in children if "llama" in str(r.plain)], "the platform knows a model"


def test_one_place_points_every_image_at_a_mirror():
    mirror = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    registries = {"docker.io": f"{mirror}/docker-hub", "quay.io": f"{mirror}/quay", "gcr.io": f"{mirror}/gcr",
                  "nvcr.io": f"{mirror}/nvcr", "registry.k8s.io": f"{mirror}/k8s"}
    run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"images.registries": registries}))
    assert run.error is None, run.error
    fluid = run.helm("fluid").plain["values"]
    assert fluid["csi"]["plugins"]["imagePrefix"] == f"{mirror}/docker-hub/fluidcloudnative"
    assert fluid["runtime"]["alluxio"]["runtime"]["imagePrefix"] == f"{mirror}/docker-hub/alluxio"
    assert run.helm("cert-manager").plain["values"]["imageRegistry"] == f"{mirror}/quay"
    assert run.helm("istiod").plain["values"]["global"]["hub"] == f"{mirror}/gcr/istio-release"
    assert run.helm("knative-operator").plain["values"]["knative_operator"]["knative_operator"]["image"].startswith(f"{mirror}/gcr/")
    assert run.helm("kserve-resources").plain["values"]["kserve"]["controller"]["image"] == f"{mirror}/docker-hub/kserve/kserve-controller"
    assert run.helm("nvidia-device-plugin").plain["values"]["image"]["repository"] == f"{mirror}/nvcr/nvidia/k8s-device-plugin"
    assert run.helm("cluster-autoscaler").plain["values"]["image"]["repository"] == f"{mirror}/k8s/autoscaling/cluster-autoscaler"
    assert run.one("KnativeServing").plain["spec"]["registry"]["default"].startswith(f"{mirror}/gcr/knative-releases/")
    assert run.one("ServingRuntime").plain["spec"]["containers"][0]["image"] == f"{mirror}/docker-hub/kserve/huggingfaceserver:v0.20.0-gpu"
    assert run.one("AlluxioRuntime").plain["spec"]["alluxioVersion"]["image"] == f"{mirror}/docker-hub/alluxio/alluxio-dev"
    skip = run.one("KnativeServing").plain["spec"]["config"]["deployment"]["registries-skipping-tag-resolving"]
    assert mirror in skip.split(",")


def test_a_platform_alone_is_a_component_with_its_own_contract():
    """The component, outside the program: given facts of a cluster, it installs what they ask for."""
    from components.foundation import ClusterFacts
    from components.k8s.platform import InstallSwitches, ServingPlatformArgs

    def program():
        ServingPlatform("platform", ServingPlatformArgs(
            charts=versions.chart_versions(), knative_serving_version=versions.KNATIVE_SERVING,
            install=InstallSwitches(), domain="models.example.org", mesh="istio",
            cluster=ClusterFacts(fluid_node_authorization=True, ships_device_plugin=True),
            progress_deadline_seconds=1200, scale_to_zero_grace_seconds=0, stable_window_seconds=60,
            max_revision_timeout_seconds=900, tls=False, allowed_cidrs=["203.0.113.0/24"]))

    run = harness.run("aws-dev", program=program)
    assert run.error is None, run.error
    assert "nvidia-device-plugin" not in run.charts()  # the cluster ships one
    assert run.helm("fluid").plain["values"]["csi"]["useNodeAuthorization"] is True
    assert run.helm("gateway").plain["values"]["service"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert not run.of_type("ClusterIssuer") and "servers" not in run.one("KnativeServing").plain["spec"]["ingress"]["istio"]["knative-ingress-gateway"]
