"""AWS: what `pulumi up -s aws-*` creates, checked against what EKS, Cluster Autoscaler, Fluid and S3 need
(see docs/upstream-facts.md for each fact)."""

from __future__ import annotations

import json

import pytest

from components.aws import autoscaler, defaults
from tests import harness


def values(run: harness.Run, chart: str) -> dict:
    return run.helm(chart).plain["values"]


class TestCluster:
    def test_standard_support_version_and_the_autoscaler_of_the_same_minor(self, stack):
        run = stack("aws-dev")
        cluster = run.one("eks:index:Cluster").plain
        assert cluster["version"] == defaults.DEFAULT_KUBERNETES == "1.35"
        image = values(run, "cluster-autoscaler")["image"]
        assert image == {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": "v1.35.2"}
        assert autoscaler.image_tag(cluster["version"]).startswith(f"v{cluster['version']}.")

    def test_access_entries_from_config(self):
        run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {
            "cluster.admins": ["arn:aws:iam::123456789012:role/platform-admins"],
            "cluster.viewers": ["arn:aws:iam::123456789012:role/ml-engineers"]}))
        entries = run.one("eks:index:Cluster").plain["accessEntries"]
        assert entries["admin-0"]["principalArn"].endswith("role/platform-admins")
        assert entries["admin-0"]["accessPolicies"]["admin"]["policyArn"].endswith("AmazonEKSClusterAdminPolicy")
        assert entries["viewer-0"]["accessPolicies"]["viewer"]["policyArn"].endswith("AmazonEKSViewPolicy")
        assert entries["viewer-0"]["accessPolicies"]["viewer"]["accessScope"] == {"type": "cluster"}

    def test_secrets_are_encrypted_logs_retained_prod_protected(self, stack):
        prod = stack("aws-prod")
        cluster = prod.one("eks:index:Cluster")
        assert cluster.plain["encryptionConfigKeyArn"] and cluster.plain["deletionProtection"] is True
        logs = prod.one("aws:cloudwatch/logGroup:LogGroup").plain
        assert logs == {"name": "/aws/eks/kf-prod/cluster", "retentionInDays": 365, **{k: v for k, v in logs.items() if k not in ("name", "retentionInDays")}}
        assert prod.depends_on(cluster, prod.one("aws:cloudwatch/logGroup:LogGroup"))  # exists before EKS creates it
        key = prod.one("aws:kms/key:Key", "kf-prod-secrets")
        assert key.plain["enableKeyRotation"] and key.protect and key.retain_on_delete
        assert stack("aws-dev").one("eks:index:Cluster").plain["deletionProtection"] is False

    def test_prod_can_be_torn_down_by_turning_protection_off(self):
        run = harness.run("aws-prod", config=harness.stack_config("aws-prod", {"cluster.deletionProtection": False}))
        assert run.one("eks:index:Cluster").plain["deletionProtection"] is False
        key = run.one("aws:kms/key:Key", "kf-prod-secrets")
        assert not key.protect and not key.retain_on_delete
        assert run.one("aws:s3/bucket:Bucket").protect  # the models stay protected: bucket.protect is its own key

    def test_prod_api_is_private_and_deployed_from_the_vpc(self, stack):
        prod = stack("aws-prod")
        assert prod.one("eks:index:Cluster").plain["endpointPublicAccess"] is False
        instance = prod.one("aws:ec2/instance:Instance").plain
        assert instance["associatePublicIpAddress"] is False and instance["metadataOptions"]["httpTokens"] == "required"
        assert instance["rootBlockDevice"]["encrypted"] is True
        rule = prod.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").plain
        assert (rule["fromPort"], rule["toPort"], rule["securityGroupId"]) == (443, 443, "sg-cluster")
        group = prod.one("aws:ec2/securityGroup:SecurityGroup").plain
        assert not group.get("ingress")  # reached through SSM only
        assert prod.outputs["deployer"] == "aws ssm start-session --target kf-prod-deployer-id"
        assert not stack("aws-dev").of_type("aws:ec2/instance:Instance")


class TestNodePools:
    def test_gpu_group_scales_from_zero_with_the_real_gpu_count(self, stack):
        run = stack("aws-prod")
        gpu = run.one("aws:eks/nodeGroup:NodeGroup", "kf-prod-gpu")
        assert gpu.plain["scalingConfig"]["minSize"] == 0 and gpu.plain["amiType"] == "AL2023_x86_64_NVIDIA"
        assert gpu.plain["labels"]["k8s.amazonaws.com/accelerator"] == "nvidia-a10g"
        tags = {t.plain["tag"]["key"]: t.plain["tag"]["value"] for t in run.of_type("aws:autoscaling/tag:Tag")
                if t.name.startswith("kf-prod-gpu")}
        prefix = "k8s.io/cluster-autoscaler/node-template"
        assert tags[f"{prefix}/taint/nvidia.com/gpu"] == "present:NoSchedule"
        assert tags[f"{prefix}/label/k8s.amazonaws.com/accelerator"] == "nvidia-a10g"
        assert not any("/resources/" in key for key in tags)  # would override the count CA reads from the type

    def test_node_groups_wait_for_the_cluster(self, stack):
        run = stack("aws-dev")
        cluster = run.one("eks:index:Cluster")
        for group in run.of_type("aws:eks/nodeGroup:NodeGroup"):
            assert run.depends_on(group, cluster), group.name

    def test_the_autoscaler_owns_the_size(self, stack):
        for group in stack("aws-dev").of_type("aws:eks/nodeGroup:NodeGroup"):
            assert group.ignore_changes == ["scalingConfig.desiredSize"], group.name

    def test_launch_templates_imdsv2_encrypted_gp3_and_nvme_where_there_is_some(self, stack):
        run = stack("aws-dev")
        for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
            meta = template.plain["metadataOptions"]
            assert (meta["httpTokens"], meta["httpPutResponseHopLimit"]) == ("required", 1)
            disk = template.plain["blockDeviceMappings"][0]["ebs"]
            assert disk["encrypted"] == "true" and disk["volumeType"] == "gp3" and disk["throughput"] <= disk["iops"] / 4
        import base64

        nvme = {t.name: base64.b64decode(t.plain.get("userData") or "").decode() for t in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
        assert "strategy: RAID0" in nvme["kf-dev-gpu"] and "FastImagePull: true" in nvme["kf-dev-gpu"]  # g5.2xlarge: 450 GB NVMe
        assert "strategy: RAID0" in nvme["kf-dev-cache"]  # m5dn.xlarge: 150 GB NVMe
        assert nvme["kf-dev-system"] == ""  # m6i.large has none

    def test_the_autoscaler_runs_on_the_system_pool_after_it_exists(self, stack):
        run = stack("aws-dev")
        release = run.helm("cluster-autoscaler")
        assert release.plain["values"]["nodeSelector"] == {"kserve-fluid/role": "system"}
        assert release.plain["timeout"] == 900
        assert run.depends_on(release, run.one("aws:eks/nodeGroup:NodeGroup", "kf-dev-system"))
        assert "--scale-down-unneeded-time=10m" in release.plain["values"]["customArgs"]
        # the Deployment and ServiceAccount README's troubleshooting and the IRSA trust name
        assert release.plain["values"]["fullnameOverride"] == "cluster-autoscaler"
        assert release.plain["values"]["rbac"]["serviceAccount"]["name"] == autoscaler.SERVICE_ACCOUNT


class TestPlatformOnEks:
    def test_fluid_csi_does_not_need_a_kubelet_kubeconfig(self, stack):
        csi = values(stack("aws-dev"), "fluid")["csi"]
        assert csi["useNodeAuthorization"] is False and csi["kubelet"]["rootDir"] == "/var/lib/kubelet"

    def test_the_load_balancer_does_not_cut_a_cold_start(self, stack):
        service = values(stack("aws-dev"), "gateway")["service"]
        assert service["annotations"]["service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout"] == "3600"

    def test_istio_pulls_from_gcr_not_docker_hub(self, stack):
        assert values(stack("aws-dev"), "istiod")["global"]["hub"] == "gcr.io/istio-release"


class TestPullThroughCache:
    ECR = "123456789012.dkr.ecr.us-west-2.amazonaws.com"

    def run(self, **images):
        return harness.run("aws-dev", config=harness.stack_config("aws-dev", {f"images.{k}": v for k, v in images.items()}))

    def test_off_by_default(self, stack):
        assert not stack("aws-dev").of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")

    def test_every_image_of_a_cached_registry_pulls_from_ecr_and_nodes_may_fill_it(self):
        secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
        run = self.run(pullThroughCache=True, pullThroughCredentials={"docker.io": secret})
        rules = {r.plain["ecrRepositoryPrefix"]: r.plain for r in run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")}
        assert set(rules) == {"ecr-public", "k8s", "quay", "docker-hub"}  # ghcr.io needs credentials it was not given
        assert rules["docker-hub"]["upstreamRegistryUrl"] == "registry-1.docker.io" and rules["docker-hub"]["credentialArn"] == secret
        assert values(run, "cert-manager")["imageRegistry"] == f"{self.ECR}/quay"
        autoscaler = values(run, "cluster-autoscaler")["image"]["repository"]
        assert autoscaler == f"{self.ECR}/k8s/autoscaling/cluster-autoscaler"
        for pool in ("kf-dev-gpu", "kf-dev-cache", "kf-dev-system"):
            policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", f"{pool}-node").plain["policy"])
            (grant,) = policy["Statement"]
            assert grant["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
            assert "arn:aws:ecr:us-west-2:123456789012:repository/docker-hub/*" in grant["Resource"]

    def test_a_stack_mirror_wins_over_the_cache(self):
        run = self.run(pullThroughCache=True, registries={"quay.io": "mirror.example.org/quay"})
        assert values(run, "cert-manager")["imageRegistry"] == "mirror.example.org/quay"

    @pytest.mark.parametrize("images,expected", [
        ({"pullThroughCredentials": {"docker.io": "arn:aws:secretsmanager:us-west-2:123456789012:secret:ecr-pullthroughcache/x"}},
         "kserve-fluid:images.pullThroughCredentials: set, but images.pullThroughCache is false"),
        ({"pullThroughCache": True, "pullThroughCredentials": {"quay.io": "arn:aws:secretsmanager:us-west-2:123456789012:secret:ecr-pullthroughcache/x"}},
         "kserve-fluid:images.pullThroughCredentials: got 'quay.io'; only docker.io and ghcr.io need credentials"),
        ({"pullThroughCache": True, "pullThroughCredentials": {"docker.io": "arn:aws:secretsmanager:us-west-2:123456789012:secret:dockerhub"}},
         "kserve-fluid:images.pullThroughCredentials.docker.io: got"),
    ])
    def test_bad_credentials_are_refused(self, images, expected):
        found = harness.load("aws-dev", harness.stack_config("aws-dev", {f"images.{k}": v for k, v in images.items()}))
        assert any(p.startswith(expected) for p in found.problems), found.problems

    def test_only_aws_has_it(self):
        found = harness.load("alicloud-dev", harness.stack_config("alicloud-dev", {"images.pullThroughCache": True}))
        assert any(p.startswith("kserve-fluid:images.pullThroughCache: got True; ECR pull-through caches are only for cloud 'aws'")
                   for p in found.problems), found.problems


class TestNetwork:
    def test_standard_zones_only_and_an_s3_gateway_endpoint_on_every_private_route(self, stack):
        run = stack("aws-prod")
        endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint").plain
        assert endpoint["vpcEndpointType"] == "Gateway" and endpoint["serviceName"] == "com.amazonaws.us-west-2.s3"
        private = [r for r in run.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in r.name]
        assert len(endpoint["routeTableIds"]) == len(private) == 3
        assert len([n for n in run.of_type("aws:ec2/natGateway:NatGateway")]) == 3  # prod: one per zone
        assert len(stack("aws-dev").of_type("aws:ec2/natGateway:NatGateway")) == 1


class TestBucket:
    def test_private_encrypted_versioned_tls_only(self, stack):
        run = stack("aws-dev")
        block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").plain
        assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        rule = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").plain["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
        assert run.one("aws:s3/bucketVersioning:BucketVersioning").plain["versioningConfiguration"]["status"] == "Enabled"
        policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").plain["policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}
        lifecycle = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").plain["rules"]
        assert any(r.get("abortIncompleteMultipartUpload") for r in lifecycle)

    def test_prod_keeps_the_bucket_with_every_setting_and_its_key(self, stack):
        run = stack("aws-prod")
        kept = [r for r in run.registrations if r.type.startswith("aws:s3/") or r.name == "kf-prod-models-key"]
        assert len(kept) == 7
        assert all(r.protect and r.retain_on_delete for r in kept), [(r.name, r.protect, r.retain_on_delete) for r in kept]
        assert run.one("aws:s3/bucket:Bucket").plain["forceDestroy"] is False

    def test_dev_teardown_removes_what_dev_created_because_the_stack_says_so(self, stack):
        run = stack("aws-dev")
        bucket = run.one("aws:s3/bucket:Bucket")
        assert bucket.plain["forceDestroy"] is True and not bucket.protect
        default = harness.run("aws-dev", config=harness.stack_config("aws-dev", drop=("bucket",)))
        assert default.one("aws:s3/bucket:Bucket").plain["forceDestroy"] is False


class TestIdentity:
    def policy(self, run: harness.Run, name: str) -> dict:
        return json.loads(run.one("aws:iam/rolePolicy:RolePolicy", name).plain["policy"])

    def test_read_role_can_tell_missing_from_forbidden(self, stack):
        statements = {s["Sid"]: s for s in self.policy(stack("aws-dev"), "kf-dev-model-read")["Statement"]}
        assert statements["List"]["Action"] == ["s3:ListBucket"] and "Condition" not in statements["List"]
        assert statements["Objects"]["Resource"] == ["arn:aws:s3:us-west-2:123456789012:kf-dev-models/models/*"]
        assert statements["Key"]["Action"] == ["kms:Decrypt"]

    def test_irsa_trust_names_the_service_accounts(self, stack):
        run = stack("aws-dev")
        trust = json.loads(run.one("aws:iam/role:Role", "kf-dev-model-read").plain["assumeRolePolicy"])
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        assert condition[f"{harness_oidc()}:sub"] == ["system:serviceaccount:models:default", "system:serviceaccount:models:model-reader"]


def _plaintext(value):
    """The inputs with every secret removed: what would be stored unencrypted."""
    if isinstance(value, harness.Secret):
        return None
    if isinstance(value, dict):
        return {k: _plaintext(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plaintext(v) for v in value]
    return value


def harness_oidc() -> str:
    from tests import fakes

    return fakes.OIDC


class TestCacheOnS3:
    def test_alluxio_reads_keyless_over_https(self, stack):
        run = stack("aws-dev")
        assert not run.of_type("JindoRuntime")
        runtime = run.one("AlluxioRuntime").plain["spec"]
        dataset = run.one("Dataset").plain["spec"]
        options = dataset["mounts"][0]["options"]
        assert options["alluxio.underfs.s3.secure.http.enabled"] == "true"  # Alluxio's default is plain HTTP
        assert "encryptOptions" not in dataset["mounts"][0]
        assert runtime["master"]["networkMode"] == runtime["worker"]["networkMode"] == "ContainerNetwork"
        patch = run.one("kubernetes:core/v1:ServiceAccountPatch").plain
        assert patch["metadata"]["name"] == "default"
        assert patch["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("kf-dev-model-read")

    def test_static_keys_stay_secret_end_to_end(self):
        run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"cache.credentials": "static"},
                          secrets={"storageAccessKeyId": "AKIAEXAMPLE", "storageSecretAccessKey": "s3cr3t"}),
                          secret_keys=("storageAccessKeyId", "storageSecretAccessKey"))
        assert run.error is None, run.error
        secret = run.one("kubernetes:core/v1:Secret", "llama-31-8b-instruct-credentials")
        assert isinstance(secret.inputs["stringData"], harness.Secret)
        assert not any("s3cr3t" in json.dumps(_plaintext(r.inputs)) for r in run.registrations)  # nowhere in clear
        options = run.one("Dataset").plain["spec"]["mounts"][0]["encryptOptions"]
        assert {o["name"] for o in options} == {"aws.accessKeyId", "aws.secretKey"}
        assert not run.of_type("kubernetes:core/v1:ServiceAccountPatch")  # no IRSA on `default` without need


@pytest.mark.parametrize("name", ["aws-dev", "aws-staging", "aws-prod"])
def test_outputs_have_the_same_keys_as_every_cloud(stack, name):
    from components.outputs import KEYS

    assert set(KEYS) <= set(stack(name).outputs)
    assert stack(name).outputs["kubectlAccess"].startswith("aws eks update-kubeconfig --region us-west-2 --name ")
