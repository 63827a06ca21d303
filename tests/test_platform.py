"""The serving platform: which releases, pinned where, configured how, and in what order."""
from __future__ import annotations

from components import versions
from components.k8s.platform import KNATIVE_FEATURES
from tests import harness

ISTIO = {"base", "istiod", "gateway"}
CORE = {"cert-manager", "knative-operator", "kserve-crd", "kserve-resources", "fluid", "nvidia-device-plugin"}


def test_releases_per_cloud(stack):
    assert stack("aws-dev").charts() == CORE | ISTIO | {"cluster-autoscaler"}
    assert stack("alicloud-dev").charts() == CORE  # ASM is the mesh; ACK scales its own pools
    assert stack("byo-dev").charts() == CORE | ISTIO


def test_switches_skip_parts():
    cfg = harness.stack_config("aws-dev", {"platform": {"install": {"certManager": False, "istio": False}}})
    run = harness.run("aws-dev", config=cfg)
    assert run.error is None
    assert run.charts() == CORE - {"cert-manager"} | {"cluster-autoscaler"}


def test_every_release_is_pinned_to_the_versions_module(stack):
    run = stack("aws-dev")
    by_chart = {c.chart.split("/")[-1]: c for c in versions.CHARTS.values()}
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        chart = release.plain["chart"].split("/")[-1]
        assert release.plain["version"] == by_chart[chart].version
        repo = (release.plain.get("repositoryOpts") or {}).get("repo")
        assert repo == by_chart[chart].repo or release.plain["chart"].startswith("oci://")


def test_stack_can_override_a_version():
    cfg = harness.stack_config("aws-dev")
    import json
    release = json.loads(cfg["kserve-fluid:release"])
    release["versions"] = {"fluid": "1.0.7", "knativeServing": "1.22.0"}
    cfg["kserve-fluid:release"] = json.dumps(release)
    run = harness.run("aws-dev", config=cfg)
    assert run.helm("fluid").plain["version"] == "1.0.7"
    assert run.one("KnativeServing").plain["spec"]["version"] == "1.22.0"


def test_knative_serving_config(stack):
    spec = stack("aws-dev").one("KnativeServing").plain["spec"]
    assert spec["config"]["features"] == KNATIVE_FEATURES
    assert spec["config"]["deployment"]["progress-deadline"] == "1800s"
    assert spec["config"]["autoscaler"]["enable-scale-to-zero"] == "true"
    assert spec["config"]["domain"] == {"example.com": ""}
    assert spec["ingress"]["istio"]["knative-ingress-gateway"]["selector"] == {"istio": "ingressgateway"}
    assert spec["version"] == versions.KNATIVE_SERVING
    annotations = stack("aws-dev").one("KnativeServing").metadata["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"


def test_kserve_runs_in_knative_mode_behind_istio(stack):
    controller = stack("aws-dev").helm("kserve-resources").plain["values"]["kserve"]["controller"]
    assert controller["deploymentMode"] == "Knative"
    assert controller["gateway"]["ingressGateway"] == {"gateway": "knative-serving/knative-ingress-gateway",
                                                       "className": "istio"}


def test_gateway_release_name_matches_the_selector(stack):
    gateway = stack("aws-dev").helm("gateway")
    assert gateway.plain["name"] == "istio-ingressgateway" and gateway.plain["namespace"] == "istio-system"


def test_cert_manager_installs_its_crds_and_fluid_kubelet_root(stack):
    run = stack("aws-dev")
    assert run.helm("cert-manager").plain["values"]["crds"]["enabled"] is True
    assert run.helm("fluid").plain["values"]["csi"]["kubelet"]["rootDir"] == "/var/lib/kubelet"
    assert run.helm("fluid").plain["namespace"] == "fluid-system"


def test_device_plugin_schedules_on_gpu_nodes(stack):
    values = stack("alicloud-dev").helm("nvidia-device-plugin").plain["values"]
    assert values["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]


def test_dependency_chain_crds_webhooks_custom_resources(stack):
    run = stack("aws-dev")
    crd, kserve, fluid = run.helm("kserve-crd"), run.helm("kserve-resources"), run.helm("fluid")
    knative, operator = run.one("KnativeServing"), run.helm("knative-operator")
    assert run.depends_on(kserve, crd) and run.depends_on(kserve, run.helm("cert-manager"))
    assert run.depends_on(kserve, knative) and run.depends_on(knative, operator)
    assert run.depends_on(knative, run.helm("gateway")) and run.depends_on(run.helm("gateway"), run.helm("istiod"))
    assert run.depends_on(run.helm("istiod"), run.helm("base"))
    for kind in ("Dataset", "JindoRuntime", "DataLoad"):
        assert run.depends_on(run.one(kind), fluid)
    for kind in ("ServingRuntime", "InferenceService"):
        assert run.depends_on(run.one(kind), kserve) and run.depends_on(run.one(kind), knative)
    assert all(r.plain["atomic"] is True for r in run.of_type("kubernetes:helm.sh/v3:Release"))


def test_platform_waits_for_node_pools(stack):
    run = stack("aws-dev")
    gpu = next(r for r in run.of_type("aws:eks/nodeGroup:NodeGroup") if r.name.endswith("-gpu"))
    assert run.depends_on(run.helm("fluid"), gpu)


def test_asm_mesh_skips_istio_and_waits_for_the_asm_gateway(stack):
    run = stack("alicloud-dev")
    assert not ISTIO & run.charts()
    gateway = run.one("IstioGateway")
    assert run.depends_on(run.one("KnativeServing"), gateway)
