"""The serving path: who may call it, how it fails fast, how a new model version rolls out, and the defaults
that take seconds off a cold start."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from components.k8s.inference import WARM_AND_SERVE
from tests import fakes, harness


def spec(run: harness.Run, kind: str, name: str | None = None) -> dict:
    return run.one(kind, name).plain["spec"]


class TestWhoMayCall:
    def test_every_public_listener_needs_a_token_except_knatives_probes(self, stack):
        run = stack("aws-dev")
        rule = spec(run, "AuthorizationPolicy")["rules"][0]
        assert spec(run, "AuthorizationPolicy")["action"] == "DENY"
        assert rule["from"] == [{"source": {"notRequestPrincipals": ["*"]}}]
        # ports, not hosts: Knative also publishes <isvc>-predictor.<ns>.<domain>, and a Host with a port
        # appended matches no host entry
        assert rule["to"] == [{"operation": {"ports": ["80", "443"]}}]
        assert rule["when"] == [{"key": "request.headers[K-Network-Probe]", "notValues": ["probe"]}]

    def test_tokens_are_this_clusters_with_an_audience(self, stack):
        run = stack("aws-dev")
        rules = spec(run, "RequestAuthentication")["jwtRules"]
        assert rules == [{"issuer": f"https://{fakes.OIDC}", "audiences": ["kserve-fluid"]}]
        assert run.outputs["endpointOpen"] is False
        assert run.outputs["tokenCommand"] == "kubectl -n models create token model-client --audience kserve-fluid --duration 1h"
        client = run.one("kubernetes:core/v1:ServiceAccount", "models-model-client").plain
        assert client["automountServiceAccountToken"] is False

    def test_an_explicit_issuer(self):
        run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {
            "endpoint.jwtIssuer": "https://login.example.org/", "endpoint.jwksUri": "https://login.example.org/keys",
            "endpoint.audiences": ["llm"]}))
        assert spec(run, "RequestAuthentication")["jwtRules"] == [
            {"issuer": "https://login.example.org/", "audiences": ["llm"], "jwksUri": "https://login.example.org/keys"}]
        assert run.outputs["tokenCommand"] is None

    def test_inside_the_cluster_only_the_gateway_and_the_activator_reach_the_model(self, stack):
        run = stack("aws-dev")
        policy = spec(run, "NetworkPolicy", "models-isolate")
        peers = [(p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], p.get("podSelector", {}).get("matchLabels"))
                 for p in policy["ingress"][0]["from"]]
        assert peers == [("models", None), ("fluid-system", None), ("knative-serving", {"app": "activator"}),
                         ("knative-serving", {"app": "autoscaler"}), ("istio-system", {"istio": "ingressgateway"})]
        assert policy["egress"] == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}]
        activator = spec(run, "NetworkPolicy", "activator-ingress")
        assert activator["podSelector"] == {"matchLabels": {"app": "activator"}}
        local = spec(run, "NetworkPolicy", "local-gateway-ingress")["ingress"]
        assert {"port": 8081, "protocol": "TCP"} not in local[0]["ports"]  # the cluster-local gateway: gateway pods only
        assert local[1] == {"from": [{"podSelector": {"matchLabels": {"istio": "ingressgateway"}}}],
                            "ports": [{"port": 8081, "protocol": "TCP"}]}

    def test_an_open_endpoint_is_a_deliberate_allow_list(self):
        run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {
            "endpoint.auth": "none", "endpoint.allowedCidrs": ["203.0.113.7/32"]}))
        assert not run.of_type("AuthorizationPolicy") and run.outputs["endpointOpen"] is True
        assert run.helm("gateway").plain["values"]["service"]["loadBalancerSourceRanges"] == ["203.0.113.7/32"]

    def test_the_runtime_runs_as_kserves_own_runtime_does(self, stack):
        container = spec(stack("aws-dev"), "ServingRuntime")["containers"][0]
        assert container["securityContext"] == {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                                "privileged": False, "capabilities": {"drop": ["ALL"]}}

    def test_cache_pods_have_requests_and_limits(self, stack):
        for name in ("aws-dev", "alicloud-dev"):
            runtime = stack(name).one("AlluxioRuntime" if name == "aws-dev" else "JindoRuntime").plain["spec"]
            for part in ("master", "worker", "fuse"):
                assert set(runtime[part]["resources"]) == {"requests", "limits"}, (name, part)


class TestNoSilentHang:
    def test_the_certificate_is_awaited_before_the_service(self, stack):
        run = stack("aws-dev")
        cert = run.one("Certificate", "models-tls")
        assert cert.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
        assert cert.plain["spec"]["dnsNames"] == ["*.models.example.com"]  # both hosts of every service
        assert cert.custom_timeouts["create"] == "10m"
        assert run.depends_on(run.one("InferenceService"), cert)

    def test_a_dataload_wait_ends_on_complete_or_failed_and_is_sized_from_the_model(self, stack):
        run = stack("aws-prod")
        dataload = run.one("DataLoad")
        assert dataload.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status[?@ == 'Complete' || @ == 'Failed']}"
        assert dataload.custom_timeouts["create"] == "26m"  # 3 copies of 15 GiB at 50 MiB/s, plus 10 minutes
        assert stack("aws-dev").one("DataLoad").custom_timeouts["create"] == "16m"

    def test_a_failed_dataload_fails_the_up_with_its_reason_and_no_service_is_created(self):
        error, registered = harness.run_isolated("aws-dev", "tests.test_serving:fail_the_dataload")
        assert "ended Failed: 403 AccessDenied (kubectl -n models describe dataload" in error
        assert not [r for r in registered if r.endswith(":InferenceService llama-31-8b-instruct")]
        assert [r for r in registered if ":DaemonSet " in r] == ["kubernetes:apps/v1:DaemonSet llama-31-8b-instruct-prepull"]


def fail_the_dataload() -> None:
    """Make the fake cluster report the DataLoad Failed (used in a separate interpreter)."""
    original = fakes.outputs

    def outputs(typ, name, inputs):
        out = original(typ, name, inputs)
        if typ.endswith(":DataLoad"):
            out["status"] = {"phase": "Failed", "conditions": [{"type": "Failed", "message": "403 AccessDenied"}]}
        return out

    fakes.outputs = outputs


class TestModelVersions:
    def test_a_version_is_a_directory_the_service_points_at(self, stack):
        run = stack("aws-prod")
        version = run.outputs["modelVersion"]
        assert version == run.outputs["modelRevision"] == "d10aef7999a2b5ba950ab3974312feeedbfe0b77"
        mount = spec(run, "Dataset")["mounts"][0]
        assert mount["mountPoint"] == "s3://kf-prod-models-bucket/models/llama-31-8b-instruct/"  # never changes
        assert spec(run, "DataLoad")["target"] == [{"path": f"/llama-31-8b-instruct/{version}", "replicas": 3}]
        model = spec(run, "InferenceService")["predictor"]["model"]
        assert model["storageUri"] == f"pvc://llama-31-8b-instruct-cache/llama-31-8b-instruct/{version}"

    def test_a_new_revision_rolls_a_new_knative_revision_and_keeps_the_cache(self, stack):
        old = stack("aws-staging")
        new = harness.run("aws-staging", config=harness.stack_config("aws-staging", {"release.model.revision": "a" * 40}))
        before, after = spec(old, "InferenceService")["predictor"], spec(new, "InferenceService")["predictor"]
        assert before["model"]["storageUri"] != after["model"]["storageUri"]
        assert before["annotations"]["kserve-fluid/model-version"] != after["annotations"]["kserve-fluid/model-version"]
        assert before["annotations"]["kserve-fluid/release"] != after["annotations"]["kserve-fluid/release"]
        assert spec(old, "Dataset") == spec(new, "Dataset")
        assert old.one("DataLoad").plain["metadata"]["name"] != new.one("DataLoad").plain["metadata"]["name"]
        assert new.one("DataLoad").delete_before_replace

    def test_a_new_serving_image_rolls_a_new_revision(self, stack):
        old = stack("aws-staging")
        new = harness.run("aws-staging", config=harness.stack_config("aws-staging", {"release.servingImage": "kserve/huggingfaceserver:v0.20.1-gpu"}))
        assert spec(old, "InferenceService")["predictor"]["annotations"]["kserve-fluid/release"] != \
            spec(new, "InferenceService")["predictor"]["annotations"]["kserve-fluid/release"]
        assert new.outputs["servedRelease"] == new.outputs["releaseDigest"]


class TestColdStartDefaults:
    def test_fuse_stays_and_runtime_images_are_not_pulled_again(self, stack):
        alluxio = spec(stack("aws-dev"), "AlluxioRuntime")
        assert alluxio["fuse"]["cleanPolicy"] == "OnRuntimeDeleted"
        assert alluxio["fuse"]["imagePullPolicy"] == alluxio["alluxioVersion"]["imagePullPolicy"] == "IfNotPresent"
        jindo = spec(stack("alicloud-dev"), "JindoRuntime")
        assert jindo["fuse"]["cleanPolicy"] == "OnRuntimeDeleted" and jindo["jindoVersion"]["imagePullPolicy"] == "IfNotPresent"
        assert "-onegative_timeout=7200" not in jindo["fuse"]["args"]  # a new version directory is found at once

    def test_the_cache_tier_lives_on_the_cache_nodes_nvme(self, stack):
        levels = spec(stack("aws-dev"), "AlluxioRuntime")["tieredstore"]["levels"]
        assert levels[0]["path"] == "/mnt/k8s-disks/0/fluid-cache"

    def test_the_engine_starts_without_compiling(self, stack):
        container = spec(stack("aws-dev"), "InferenceService")["predictor"]["model"]
        assert "--enforce-eager" in container["args"]
        env = {e["name"]: e["value"] for e in spec(stack("aws-dev"), "ServingRuntime")["containers"][0]["env"]}
        assert env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
        eager_off = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"inference.eager": False}))
        assert "--enforce-eager" not in spec(eager_off, "InferenceService")["predictor"]["model"]["args"]

    def test_gpu_nodes_pull_the_image_and_warm_the_model_before_a_request(self, stack):
        run = stack("aws-dev")
        prepull = run.one("kubernetes:apps/v1:DaemonSet", "llama-31-8b-instruct-prepull").plain["spec"]["template"]["spec"]
        assert prepull["containers"][0]["image"] == spec(run, "ServingRuntime")["containers"][0]["image"]
        assert prepull["volumes"] == []  # the pull does not wait for the cache's mount
        assert prepull["nodeSelector"]["nvidia.com/gpu.present"] == "true"
        warmer = run.one("kubernetes:apps/v1:DaemonSet", "llama-31-8b-instruct-warmer").plain["spec"]["template"]["spec"]
        assert warmer["volumes"][0]["persistentVolumeClaim"]["claimName"] == "llama-31-8b-instruct-cache"
        assert warmer["containers"][0]["resources"]["limits"]["memory"] == "17Gi"  # page cache is charged to the reader
        assert not any("nvidia.com/gpu" in str(c.get("resources")) for c in warmer["containers"] + prepull["containers"])


def _fake_tools(tmp_path):
    """`dd` that records its ranges (and fails on one file), `python3` that prints its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dd").write_text('#!/bin/sh\necho "$@" >> "$DD_LOG"\ncase "$*" in *broken*) exit 1;; esac\n')
    (bin_dir / "python3").write_text('#!/bin/sh\necho "server: $*"\nsleep 0.5\n')
    for tool in ("dd", "python3"):
        (bin_dir / tool).chmod(stat.S_IRWXU)
    return bin_dir


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs bash")
def test_the_warm_up_reads_in_parallel_ranges_in_the_background_and_never_stops_the_server(tmp_path):
    bin_dir = _fake_tools(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    for name, size in (("model-00001.safetensors", 2 * 1024**3 + 1), ("broken.safetensors", 10)):  # 3 ranges, 1
        with open(models / name, "wb") as f:
            f.truncate(size)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MODEL_DIR": str(models), "WARMUP_JOBS": "4",
           "DD_LOG": str(tmp_path / "dd.log")}
    done = subprocess.run(["/bin/bash", "-c", WARM_AND_SERVE, "serve", "--model_name=llama"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "server: -m huggingfaceserver --model_name=llama" in done.stdout
    assert "cannot read" in done.stdout  # reported, not fatal
    ranges = sorted(next(w for w in line.split() if w.startswith("skip="))
                    for line in (tmp_path / "dd.log").read_text().splitlines() if "model-00001" in line)
    assert ranges == ["skip=0", "skip=128", "skip=64"]
