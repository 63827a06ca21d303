"""Alibaba Cloud foundation under mocks: ACK with Terway and RRSA, node pools and the autoscaler, the OSS bucket,
RAM principals, the cache's read key, ASM and the in-VPC deployer (components/alicloud)."""
from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import config
from components.alicloud import foundation
from components.foundation import Foundation
from tests import fakes, harness

ISSUER = "https://oidc-ack-ap-southeast-1.oss-ap-southeast-1.aliyuncs.com/c1"
PROVIDER_ARN = f"acs:ram::{fakes.ACCOUNT}:oidc-provider/ack-rrsa-c1"


def stack_config(stack: str, **sections) -> dict[str, str]:
    """The committed stack's config with some keys of its sections changed (not whole sections replaced)."""
    own = yaml.safe_load((harness.ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    merged = {key: config.merge(own.get(f"kserve-fluid:{key}") or {}, values) if isinstance(values, dict) else values
              for key, values in sections.items()}
    return harness.stack_config(stack, merged)


def build(stack: str = "alicloud-dev", probe=None, secrets: dict[str, str] | None = None, **sections):
    """Run the Alibaba foundation alone; `probe(foundation)` may register or export more."""
    built: list[Foundation] = []

    def program():
        built.append(foundation.build(config.load()))
        if probe:
            probe(built[0])

    cfg = stack_config(stack, **sections)
    if secrets:
        cfg |= {f"kserve-fluid:{k}": v for k, v in secrets.items()}
    run = harness.run(stack, program=program, config=cfg, secret_keys=tuple(secrets or ()))
    return run, (built[0] if built else None)


@pytest.fixture(scope="module")
def dev():
    run, _ = build("alicloud-dev")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def prod():
    run, _ = build("alicloud-prod")
    assert run.error is None, run.error
    return run


def pool(run, role):
    return run.one("alicloud:cs/nodePool:NodePool", f"{run.one('ManagedKubernetes').name}-{role}")


def test_committed_stacks_pass_validation():
    for name in ("alicloud-dev", "alicloud-prod"):
        own, others = config._namespaced(yaml.safe_load((harness.ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"])
        s = config.build_settings(own, name, region=others["alicloud:region"], provider_config=others)
        assert s.region == "ap-southeast-1" and s.platform.mesh == "istio" and s.inference.gpus == 2
        assert s.endpoint.auth == "jwt" and s.endpoint.jwt_issuer == "cluster"
    assert s.cluster.deployer and not s.cluster.endpoint_public_access and s.platform.domain.endswith(".internal")


# ---- cluster -------------------------------------------------------------------------------------------------


def test_terway_enforces_network_policy_and_storage_plugins_are_kept(dev):
    cluster = dev.one("ManagedKubernetes").plain
    addons = {a["name"]: a for a in cluster["addons"]}
    assert json.loads(addons["terway-eniip"]["config"]) == {"NetworkPolicy": "true"}
    assert {"csi-plugin", "managed-csiprovisioner"} <= set(addons)
    assert "podCidr" not in cluster
    pod_switches = [s for s in dev.of_type("alicloud:vpc/switch:Switch") if "-pods-" in s.name]
    assert len(cluster["podVswitchIds"]) == len(pod_switches) == 2


def test_secrets_are_encrypted_with_a_key_protected_in_prod(dev, prod):
    cluster = prod.one("ManagedKubernetes").plain
    assert cluster["disableEncryption"] is False and cluster["encryptionProviderKey"] == "kf-prod-secrets-id"
    assert cluster["deletionProtection"] is True and cluster["slbInternetEnabled"] is False
    key = prod.one("alicloud:kms/key:Key")
    assert key.protect is True and key.retain_on_delete is True
    assert dev.one("alicloud:kms/key:Key").protect in (None, False)


def test_kubernetes_version_is_the_newest_patch_of_the_configured_minor(dev):
    assert dev.one("ManagedKubernetes").plain["version"] == "1.34.10-aliyun.1"  # numerically newest, not 1.34.1


def test_another_minor_gets_its_newest_patch():
    run, _ = build(cluster={"kubernetesVersion": "1.33"})
    assert run.error is None
    assert run.one("ManagedKubernetes").plain["version"] == "1.33.3-aliyun.1"


def test_kubeconfig_is_long_lived_and_private_clusters_use_the_intranet_endpoint(monkeypatch):
    calls = []
    real = fakes._alicloud_invoke
    monkeypatch.setattr(fakes, "_alicloud_invoke", lambda token, args: calls.append((token, args)) or real(token, args))

    def kubeconfig(stack):
        run, _ = build(stack, probe=lambda f: pulumi.export("kubeconfig", f.outputs.kubeconfig))
        assert run.error is None, run.error
        assert isinstance(run.outputs["kubeconfig"], harness.Secret)
        return yaml.safe_load(run.outputs["kubeconfig"].value)["clusters"][0]["cluster"]["server"]

    assert kubeconfig("alicloud-dev") == "https://cluster.example.com"  # the credential's own (public) server
    assert kubeconfig("alicloud-prod") == "https://192.168.0.10:6443"  # connections[0].api_server_intranet
    credentials = [args for token, args in calls if token.endswith("getClusterCredential")]
    assert credentials and all("temporaryDurationMinutes" not in args for args in credentials)


def test_empty_rrsa_metadata_is_a_clear_error(monkeypatch):
    real = fakes._alicloud_outputs
    monkeypatch.setattr(fakes, "_alicloud_outputs",
                        lambda typ, name, inputs: {k: v for k, v in real(typ, name, inputs).items() if k != "rrsaMetadata"})
    run, _ = build()
    assert run.error is not None and "rrsa_metadata is empty" in str(run.error)


def test_cluster_facts():
    run, found = build(probe=lambda f: pulumi.export("issuer", f.cluster.service_account_issuer))
    facts = found.cluster
    assert facts.ships_device_plugin is True and facts.metadata_cidr == "100.100.100.200/32"
    assert facts.mesh_gateway == [] and run.outputs["issuer"] == ISSUER


# ---- network -------------------------------------------------------------------------------------------------


def zones_of(run):
    return {s.name: s.plain["zoneId"] for s in run.of_type("alicloud:vpc/switch:Switch")}


def test_zones_are_those_selling_the_gpu_type_and_vswitches_are_named_by_index(dev):
    # the fake sells ecs.gn* in zones a and b only; zone c would also offer a vSwitch and enhanced NAT
    assert zones_of(dev) == {"kf-dev-nodes-0": "ap-southeast-1a", "kf-dev-nodes-1": "ap-southeast-1b",
                             "kf-dev-pods-0": "ap-southeast-1a", "kf-dev-pods-1": "ap-southeast-1b"}
    blocks = {s.name: s.plain["cidrBlock"] for s in dev.of_type("alicloud:vpc/switch:Switch")}
    assert blocks["kf-dev-nodes-1"] == "192.168.16.0/20" and blocks["kf-dev-pods-1"] == "192.168.160.0/19"


def test_pinned_zones_are_kept_and_checked():
    run, _ = build(cluster={"zoneIds": ["ap-southeast-1b"]})
    assert run.error is None and zones_of(run) == {"kf-dev-nodes-0": "ap-southeast-1b", "kf-dev-pods-0": "ap-southeast-1b"}
    run, _ = build(cluster={"zoneIds": ["ap-southeast-1c"]})
    assert "kserve-fluid:cluster.zoneIds" in str(run.error) and "ecs.gn6i-c24g1.12xlarge" in str(run.error)
    run, _ = build(cluster={"zones": 3})
    assert "kserve-fluid:cluster.zones: got 3; only 2 zones" in str(run.error)


# ---- node pools ----------------------------------------------------------------------------------------------


def test_system_pool_is_fixed_and_gpu_and_cache_pools_autoscale(dev):
    system = pool(dev, "system").plain
    assert system["desiredSize"] == "2" and "scalingConfig" not in system and system["taints"] == []
    gpu = pool(dev, "gpu").plain
    assert gpu["instanceTypes"] == ["ecs.gn6i-c24g1.12xlarge"]
    assert gpu["scalingConfig"] == {"enable": True, "minSize": 0, "maxSize": 1} and "desiredSize" not in gpu
    assert {label["key"]: label["value"] for label in gpu["labels"]} == {"kserve-fluid/role": "gpu", "nvidia.com/gpu.present": "true"}
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert gpu["instanceMetadataOptions"] == {"httpTokens": "required"} and gpu["systemDiskEncrypted"] is True
    assert pool(dev, "cache").plain["scalingConfig"] == {"enable": True, "minSize": 2, "maxSize": 3}
    for role in ("system", "gpu", "cache"):
        p = pool(dev, role).plain
        assert p["keyName"] == "kf-dev-nodes" and p["systemDiskEncrypted"] is True and "ramRoleName" not in p


def test_cluster_autoscaler_is_on_before_the_pools_and_removes_idle_gpu_nodes():
    run, found = build(platform={"gpuNodeIdleMinutes": 25})
    scaler = run.one("alicloud:cs/autoscalingConfig:AutoscalingConfig")
    assert scaler.plain == {"clusterId": "kf-dev-id", "scalerType": "cluster-autoscaler", "expander": "least-waste",
                            "scaleDownEnabled": True, "unneededDuration": "25m", "coolDownDuration": "25m"}
    assert all(run.depends_on(p, scaler) for p in run.of_type("alicloud:cs/nodePool:NodePool"))
    assert "AutoscalingConfig" in {type(r).__name__ for r in found.capacity}


# ---- RRSA ----------------------------------------------------------------------------------------------------


def test_pod_identity_webhook_is_installed_and_service_accounts_wait_for_it():
    def service_account(f: Foundation):  # what components/k8s does with foundation.capacity
        k8s.core.v1.ServiceAccount("model-ingest", metadata={"annotations": f.store.writer.service_account_annotations},
                                   opts=pulumi.ResourceOptions(provider=f.provider, depends_on=f.capacity))

    run, found = build(probe=service_account)
    webhook = run.one("alicloud:cs/kubernetesAddon:KubernetesAddon", "kf-dev-pod-identity")
    assert webhook.plain == {"clusterId": "kf-dev-id", "name": "ack-pod-identity-webhook"}
    assert run.depends_on(webhook, pool(run, "system"))  # it needs a node to run on
    assert run.depends_on(run.one("ServiceAccount", "model-ingest"), webhook)
    assert found.store.writer.namespace_labels == {"pod-identity.alibabacloud.com/injection": "on"}
    assert run.one("ServiceAccount", "model-ingest").metadata["annotations"] == {
        "pod-identity.alibabacloud.com/role-name": "kf-dev-model-write"}


def test_write_role_trusts_only_the_ingest_account_of_this_clusters_rrsa_issuer(dev):
    trust = json.loads(dev.one("alicloud:ram/role:Role", "kf-dev-model-write").plain["assumeRolePolicyDocument"])
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Federated": [PROVIDER_ARN]} and statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"oidc:aud": "sts.aliyuncs.com", "oidc:iss": ISSUER,
                                                      "oidc:sub": ["system:serviceaccount:models:model-ingest"]}
    assert len(dev.of_type("alicloud:ram/role:Role")) == 1  # no node role: the cache reads with a key


def policy(run, name):
    return json.loads(run.one("alicloud:ram/policy:Policy", name).plain["policyDocument"])["Statement"]


def test_ram_policies_are_scoped_to_the_prefix_and_listing_is_unconditioned(dev):
    bucket = dev.one("alicloud:oss/bucket:Bucket").plain["bucket"]
    write = policy(dev, "kf-dev-model-write")
    assert write[0]["Resource"] == [f"acs:oss:*:*:{bucket}/models/*"]
    assert write[0]["Action"] == ["oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload",
                                  "oss:ListParts"]  # multipart upload itself is oss:PutObject
    assert write[1] == {"Effect": "Allow", "Action": ["oss:ListObjects", "oss:ListMultipartUploads"],
                        "Resource": [f"acs:oss:*:*:{bucket}"]}
    for name in ("kf-dev-model-write", "kf-dev-cache-reader"):
        for statement in policy(dev, name):
            assert "oss:*" not in statement["Action"] and all(r.startswith(f"acs:oss:*:*:{bucket}") for r in statement["Resource"])


# ---- the cache's key -----------------------------------------------------------------------------------------


def test_managed_cache_key_is_read_only_prefix_scoped_and_secret_end_to_end():
    run, found = build(probe=lambda f: pulumi.export("access", f.store.cache_access("keyless", "jindo").secret))
    bucket = run.one("alicloud:oss/bucket:Bucket").plain["bucket"]
    assert policy(run, "kf-dev-cache-reader") == [
        {"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": [f"acs:oss:*:*:{bucket}/models/*"]},
        {"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": [f"acs:oss:*:*:{bucket}"]},
        {"Effect": "Allow", "Action": ["oss:GetBucketInfo"], "Resource": [f"acs:oss:*:*:{bucket}"]}]
    attachment = run.one("alicloud:ram/userPolicyAttachment:UserPolicyAttachment").plain
    assert attachment == {"userName": "kf-dev-cache-reader", "policyName": "kf-dev-cache-reader", "policyType": "Custom"}
    assert run.one("alicloud:ram/accessKey:AccessKey").plain["userName"] == "kf-dev-cache-reader"
    access = run.outputs["access"]
    assert isinstance(access, harness.Secret)
    assert access.value == {"fs.oss.accessKeyId": "kf-dev-cache-reader-id", "fs.oss.accessKeySecret": "fake-access-key-secret"}


def test_static_keys_replace_the_managed_key():
    keys = {"storageAccessKeyId": "LTAI5tEXAMPLE", "storageSecretAccessKey": "s3cr3t"}
    run, found = build(probe=lambda f: pulumi.export("access", f.store.cache_access("static", "jindo").secret),
                       secrets=keys, cache={"credentials": "static"})
    assert run.error is None, run.error
    assert not run.of_type("alicloud:ram/user:User") and not run.of_type("alicloud:ram/accessKey:AccessKey")
    assert isinstance(run.outputs["access"], harness.Secret)
    assert run.outputs["access"].value == {"fs.oss.accessKeyId": "LTAI5tEXAMPLE", "fs.oss.accessKeySecret": "s3cr3t"}


def test_every_oss_client_speaks_https():
    run, found = build()
    store = found.store
    assert store.upload_endpoint() == "https://oss-ap-southeast-1.aliyuncs.com"
    assert store.ingest_env() == [{"name": "REGION", "value": "ap-southeast-1"},
                                  {"name": "ENDPOINT", "value": "https://oss-ap-southeast-1-internal.aliyuncs.com"},
                                  {"name": "ALIBABA_CLOUD_STS_REGION", "value": "ap-southeast-1"},  # RRSA via sts-vpc
                                  {"name": "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "value": "true"}]
    access = store.cache_access("keyless", "")
    assert access.runtime == "jindo" and access.identity is None
    assert access.options == {"fs.oss.endpoint": "oss-ap-southeast-1-internal.aliyuncs.com"}  # Jindo wants the bare host
    assert access.properties == {"fs.oss.https.enable": "true"}  # JindoSDK speaks plain HTTP without it


# ---- bucket --------------------------------------------------------------------------------------------------

BUCKET_SETTINGS = ("alicloud:oss/bucket:Bucket", "alicloud:oss/bucketAcl:BucketAcl",
                   "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption",
                   "alicloud:oss/bucketVersioning:BucketVersioning", "alicloud:oss/bucketPolicy:BucketPolicy")


def test_bucket_is_private_encrypted_versioned_and_tls_only(prod):
    bucket = prod.one("alicloud:oss/bucket:Bucket").plain
    assert not {"policy", "acl", "serverSideEncryptionRule", "versioning"} & set(bucket)  # each is its own resource
    assert prod.one("alicloud:oss/bucketAcl:BucketAcl").plain["acl"] == "private"
    assert prod.one("BucketServerSideEncryption").plain["sseAlgorithm"] == "KMS"
    assert prod.one("alicloud:oss/bucketVersioning:BucketVersioning").plain["status"] == "Enabled"
    deny = json.loads(prod.one("alicloud:oss/bucketPolicy:BucketPolicy").plain["policy"])["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"acs:SecureTransport": ["false"]}}
    assert {r["id"] for r in bucket["lifecycleRules"]} == {"expire-noncurrent-versions", "abort-incomplete-multipart"}


def test_prod_protects_and_retains_the_bucket_and_every_setting(dev, prod):
    for typ in BUCKET_SETTINGS:
        kept = prod.one(typ)
        assert kept.protect is True and kept.retain_on_delete is True, typ
        assert dev.one(typ).protect in (None, False) and dev.one(typ).retain_on_delete in (None, False), typ
    assert prod.one("alicloud:oss/bucket:Bucket").plain["forceDestroy"] is False
    assert dev.one("alicloud:oss/bucket:Bucket").plain["forceDestroy"] is True  # the dev stack sets bucket.forceDestroy


# ---- ASM, deployer, outputs ----------------------------------------------------------------------------------


def test_asm_gateway_is_waited_for_before_the_platform_reads_it():
    run, found = build(platform={"mesh": "asm"}, cluster={"deployer": True})
    assert run.error is None, run.error
    mesh = run.one("alicloud:servicemesh/serviceMesh:ServiceMesh")
    assert mesh.plain["version"] == "v1.24.6.31-g6a5e08e-aliyun" and mesh.ignore_changes == ["version"]
    assert mesh.plain["extraConfiguration"] == {"crAggregationEnabled": True}
    gateway, wait = run.one("IstioGateway"), run.one("kubernetes:batch/v1:Job")
    assert wait.provider.startswith(run.one("pulumi:providers:kubernetes", "kf-dev-k8s").urn)  # in the ACK cluster
    assert run.depends_on(wait, gateway) and wait.metadata["annotations"] == {"pulumi.com/waitFor": "condition=Complete"}
    pod = wait.plain["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"][:2] == ["wait", "--for=create"]
    assert "service/istio-ingressgateway" in pod["containers"][0]["args"]
    assert [type(r).__name__ for r in found.cluster.mesh_gateway] == ["Job"]


def test_prod_has_an_in_vpc_deployer_without_inbound_access(prod):
    instance = prod.one("alicloud:ecs/instance:Instance").plain
    assert instance["internetMaxBandwidthOut"] == 0 and instance["httpTokens"] == "required"
    assert instance["vswitchId"] == "kf-prod-nodes-0-id" and instance["systemDiskEncrypted"] is True
    assert "roleName" not in instance and "keyName" not in instance
    assert prod.depends_on(prod.one("alicloud:ecs/instance:Instance"), prod.one("ManagedKubernetes"))  # NAT first
    rules = [r.plain for r in prod.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule")]
    assert [r["type"] for r in rules] == ["egress"]
    run, found = build("alicloud-prod", probe=lambda f: pulumi.export("deployer", f.outputs.deployer))
    assert run.outputs["deployer"] == "ali-instance-cli session --instance kf-prod-deployer-id"


def test_outputs_tell_how_to_get_a_kubeconfig():
    def export(f: Foundation):
        pulumi.export("kubectl", f.outputs.kubectl_access)
        pulumi.export("zones", f.outputs.extra["zoneIds"])

    run, _ = build("alicloud-prod", probe=export)
    assert run.outputs["kubectl"] == "aliyun cs DescribeClusterUserKubeconfig --ClusterId kf-prod-id --PrivateIpAddress true | jq -r .config > kubeconfig"
    assert run.outputs["zones"] == ["ap-southeast-1a", "ap-southeast-1b"]


def test_ack_fluid_addon_is_capacity_when_chosen():
    run, found = build(platform={"fluidSource": "ack-addon"})
    addon = run.one("alicloud:cs/kubernetesAddon:KubernetesAddon", "kf-dev-ack-fluid")
    assert addon.plain["name"] == "ack-fluid" and run.depends_on(addon, pool(run, "system"))
    assert sum(type(r).__name__ == "KubernetesAddon" for r in found.capacity) == 2


def test_foundation_runs_in_preview():
    run = harness.run("alicloud-prod", program=lambda: foundation.build(config.load()), preview=True)
    assert run.error is None, run.error


# ---- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sections, expected", [
    ({"systemPool": {"maxSize": 4}}, "kserve-fluid:systemPool: minSize 2, desiredSize 2, maxSize 4; the ACK system pool is fixed"),
    ({"cluster": {"vpcCidr": "10.0.0.0/20"}}, "kserve-fluid:cluster.vpcCidr: got '10.0.0.0/20'"),
    ({"cluster": {"zoneIds": ["cn-hangzhou-h"]}}, "kserve-fluid:cluster.zoneIds: got ['cn-hangzhou-h']"),
    ({"cluster": {"kubernetesVersion": "1.29"}}, "kserve-fluid:cluster.kubernetesVersion: got '1.29'"),
    ({"gpuPool": {"diskIops": 8000}}, "kserve-fluid:gpuPool.diskIops: set, but it is an AWS gp3 setting"),
])
def test_alibaba_rules(sections, expected):
    own, others = config._namespaced(yaml.safe_load((harness.ROOT / "stacks" / "Pulumi.alicloud-dev.yaml").read_text())["config"])
    for key, values in sections.items():
        own[key] = config.merge(own.get(key) or {}, values)
    with pytest.raises(config.ConfigError) as error:
        config.build_settings(own, "alicloud-dev", region=others["alicloud:region"], provider_config=others)
    assert any(line.startswith(expected) for line in error.value.problems), error.value.problems


def test_kubernetes_parts_are_cloud_agnostic():
    for path in (harness.ROOT / "components" / "k8s").glob("*.py"):
        source = path.read_text()
        assert "pulumi_aws" not in source and "pulumi_alicloud" not in source, path


def test_a_larger_fixed_system_pool():
    run, _ = build(systemPool={"minSize": 3, "desiredSize": 3, "maxSize": 3})
    assert run.error is None and pool(run, "system").plain["desiredSize"] == "3"
