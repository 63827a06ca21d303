"""Alibaba Cloud: ACK, node pools, OSS, RAM roles through RRSA, ASM, and the shared components on OSS."""
from __future__ import annotations

import json

from tests import harness


def pool(run, suffix):
    return next(r for r in run.of_type("alicloud:cs/nodePool:NodePool") if r.name.endswith(suffix)).plain


def test_ack_pro_cluster_with_rrsa_and_encrypted_secrets(stack):
    cluster = stack("alicloud-prod").one("alicloud:cs/managedKubernetes:ManagedKubernetes").plain
    assert cluster["clusterSpec"] == "ack.pro.small" and cluster["enableRrsa"] is True
    assert cluster["encryptionProviderKey"] and cluster["deletionProtection"] is True
    assert cluster["slbInternetEnabled"] is False
    assert len(cluster["vswitchIds"]) >= 2


def test_gpu_pool_matches_the_aws_placement_contract(stack):
    gpu = pool(stack("alicloud-dev"), "-gpu")
    assert gpu["instanceTypes"] == ["ecs.gn6i-c16g1.4xlarge"]
    assert {l["key"]: l["value"] for l in gpu["labels"]} == {"kserve-fluid/role": "gpu",
                                                             "nvidia.com/gpu.present": "true"}
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert gpu["scalingConfig"] == {"enable": True, "minSize": 0, "maxSize": 1}
    assert gpu["systemDiskSize"] == 200 and gpu["systemDiskCategory"] == "cloud_essd"


def test_cache_pool_has_its_own_read_only_node_role(stack):
    run = stack("alicloud-dev")
    cache = pool(run, "-cache")
    assert cache["instanceTypes"] == ["ecs.g7.xlarge"]
    assert {l["key"]: l["value"] for l in cache["labels"]} == {"kserve-fluid/role": "cache"}
    assert cache["ramRoleName"] == "kf-dev-cache-node"
    role = run.one("alicloud:ram/role:Role", "kf-dev-cache-node").plain
    assert json.loads(role["assumeRolePolicyDocument"])["Statement"][0]["Principal"] == {
        "Service": ["ecs.aliyuncs.com"]}
    runtime = run.one("JindoRuntime").plain["spec"]
    assert runtime["properties"] == {"fs.oss.provider.endpoint": "ECS_ROLE", "fs.oss.provider.format": "JSON"}


def test_oss_bucket_private_encrypted_versioned_tls_only(stack):
    run = stack("alicloud-prod")
    bucket = run.one("alicloud:oss/bucket:Bucket")
    b = bucket.plain
    assert b["serverSideEncryptionRule"]["sseAlgorithm"] == "KMS"
    assert b["versioning"] == {"status": "Enabled"} and b["forceDestroy"] is False
    policy = json.loads(b["policy"])["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {"Bool": {"acs:SecureTransport": ["false"]}}
    assert run.one("alicloud:oss/bucketAcl:BucketAcl").plain["acl"] == "private"
    assert bucket.protect is True and bucket.retain_on_delete is True
    assert stack("alicloud-dev").one("alicloud:oss/bucket:Bucket").protect in (None, False)


def test_ram_policies_are_scoped_to_bucket_prefix(stack):
    run = stack("alicloud-dev")
    bucket = run.one("alicloud:oss/bucket:Bucket").plain["bucket"]
    for policy in run.of_type("alicloud:ram/policy:Policy"):
        doc = json.loads(policy.plain["policyDocument"])
        for st in doc["Statement"]:
            assert "oss:*" not in st["Action"] and "*" not in st["Resource"]
            assert all(r.startswith(f"acs:oss:*:*:{bucket}") for r in st["Resource"])
        objects = doc["Statement"][0]
        assert objects["Resource"] == [f"acs:oss:*:*:{bucket}/models/*"]
        assert ("oss:PutObject" in objects["Action"]) == policy.name.endswith("model-write")


def test_rrsa_roles_trust_only_their_service_accounts(stack):
    run = stack("alicloud-dev")
    write = json.loads(run.one("alicloud:ram/role:Role", "kf-dev-model-write").plain["assumeRolePolicyDocument"])
    condition = write["Statement"][0]["Condition"]["StringEquals"]
    assert condition["oidc:sub"] == ["system:serviceaccount:models:model-ingest"]
    assert condition["oidc:aud"] == "sts.aliyuncs.com"
    namespace = run.one("kubernetes:core/v1:Namespace", "models").metadata
    assert namespace["labels"]["pod-identity.alibabacloud.com/injection"] == "on"
    ingest = run.one("ServiceAccount", "models-model-ingest").metadata["annotations"]
    assert ingest == {"pod-identity.alibabacloud.com/role-name": "kf-dev-model-write"}


def test_asm_instance_and_gateway(stack):
    run = stack("alicloud-dev")
    mesh = run.one("alicloud:servicemesh/serviceMesh:ServiceMesh").plain
    assert mesh["extraConfiguration"] == {"crAggregationEnabled": True}
    assert mesh["clusterSpec"] == "enterprise" and len(mesh["clusterIds"]) == 1
    gateway = run.one("IstioGateway").plain
    assert gateway["metadata"]["name"] == "ingressgateway"
    assert {p["port"] for p in gateway["spec"]["ports"]} == {80, 443}


def test_self_installed_istio_instead_of_asm():
    run = harness.run("alicloud-dev", config=harness.stack_config("alicloud-dev", {"platform": {"mesh": "istio"}}))
    assert run.error is None
    assert {"base", "istiod", "gateway"} <= run.charts() and not run.of_type("IstioGateway")


def test_ack_fluid_addon_replaces_the_chart():
    cfg = harness.stack_config("alicloud-dev", {"platform": {"mesh": "asm", "fluidSource": "ack-addon"}})
    run = harness.run("alicloud-dev", config=cfg)
    assert "fluid" not in run.charts()
    addon = run.one("alicloud:cs/kubernetesAddon:KubernetesAddon")
    assert addon.plain["name"] == "ack-fluid" and run.depends_on(run.one("Dataset"), addon)


def test_shared_components_receive_oss_urls(stack):
    run = stack("alicloud-dev")
    assert run.outputs["modelUrl"].startswith("oss://")
    assert run.one("ServiceAccountPatch").metadata["annotations"] == {}  # JindoSDK reads through the node role


def test_kubernetes_parts_are_cloud_agnostic():
    for path in (harness.ROOT / "components" / "k8s").glob("*.py"):
        source = path.read_text()
        assert "pulumi_aws" not in source and "pulumi_alicloud" not in source, path
