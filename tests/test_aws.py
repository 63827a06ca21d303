"""AWS: node groups, launch templates, EKS security, the S3 bucket and least-privilege IRSA roles."""
from __future__ import annotations

import json

from tests import harness


def node_group(run, suffix):
    return next(r for r in run.of_type("aws:eks/nodeGroup:NodeGroup") if r.name.endswith(suffix))


def test_gpu_node_group(stack):
    run = stack("aws-prod")
    gpu = node_group(run, "-gpu").plain
    assert gpu["instanceTypes"] == ["g5.8xlarge"]
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["labels"] == {"nvidia.com/gpu.present": "true", "kserve-fluid/role": "gpu"}
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    assert node_group(stack("aws-dev"), "-gpu").plain["instanceTypes"] == ["g5.xlarge"]


def test_cache_and_system_node_groups(stack):
    run = stack("aws-prod")
    cache = node_group(run, "-cache").plain
    assert cache["instanceTypes"] == ["m5n.xlarge"] and cache["scalingConfig"]["desiredSize"] == 3
    assert cache["labels"] == {"kserve-fluid/role": "cache"}
    assert cache["taints"] == [{"key": "kserve-fluid/cache", "value": "true", "effect": "NO_SCHEDULE"}]
    system = node_group(run, "-system").plain
    assert "taints" not in system or system["taints"] == []


def test_launch_templates_require_imdsv2_and_fast_encrypted_gp3(stack):
    run = stack("aws-prod")
    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 3
    for t in templates:
        meta = t.plain["metadataOptions"]
        assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1
        ebs = t.plain["blockDeviceMappings"][0]["ebs"]
        assert ebs["volumeType"] == "gp3" and ebs["encrypted"] == "true"
    cache = next(t for t in templates if t.name.endswith("-cache")).plain["blockDeviceMappings"][0]["ebs"]
    assert cache["throughput"] == 500 and cache["iops"] == 8000 and cache["volumeSize"] == 200


def test_gpu_group_is_tagged_for_scale_from_zero(stack):
    run = stack("aws-dev")
    tags = {r.plain["tag"]["key"]: r.plain["tag"]["value"] for r in run.of_type("aws:autoscaling/tag:Tag")
            if r.name.startswith("kf-dev-gpu")}
    prefix = "k8s.io/cluster-autoscaler/node-template"
    assert tags[f"{prefix}/label/nvidia.com/gpu.present"] == "true"
    assert tags[f"{prefix}/taint/nvidia.com/gpu"] == "present:NoSchedule"
    assert tags[f"{prefix}/resources/nvidia.com/gpu"] == "1"


def test_cluster_autoscaler_release_and_scoped_role(stack):
    run = stack("aws-dev")
    release = run.helm("cluster-autoscaler").plain
    assert release["values"]["autoDiscovery"]["clusterName"] == "kf-dev"
    assert release["values"]["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    policy = json.loads(next(r for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
                             if r.name.startswith("kf-dev-autoscaler")).plain["policy"])
    resize = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert resize["Condition"]["StringEquals"] == {"aws:ResourceTag/k8s.io/cluster-autoscaler/kf-dev": ["owned"]}


def test_eks_cluster_security(stack):
    prod = stack("aws-prod").one("eks:index:Cluster").plain
    assert prod["encryptionConfigKeyArn"]
    assert prod["endpointPrivateAccess"] is True and prod["endpointPublicAccess"] is False
    assert prod["authenticationMode"] == "API" and prod["createOidcProvider"] is True
    assert prod["skipDefaultNodeGroup"] is True and prod["deletionProtection"] is True
    assert set(prod["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    dev = stack("aws-dev").one("eks:index:Cluster").plain
    assert dev["endpointPublicAccess"] is True and dev["publicAccessCidrs"] == ["0.0.0.0/0"]


def test_secrets_key_rotates(stack):
    keys = stack("aws-dev").of_type("aws:kms/key:Key")
    assert keys and all(k.plain["enableKeyRotation"] is True for k in keys)


def test_network_spans_zones_with_private_nodes(stack):
    run = stack("aws-prod")
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "-private-" in s.name]
    assert len({s.plain["availabilityZone"] for s in private}) >= 2
    assert not any(s.plain.get("mapPublicIpOnLaunch") for s in subnets)
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == len(private)  # one per zone in prod
    assert len(stack("aws-dev").of_type("aws:ec2/natGateway:NatGateway")) == 1


def test_bucket_is_private_encrypted_versioned_tls_only(stack):
    run = stack("aws-dev")
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").plain
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    sse = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").plain
    rule = sse["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"]
    assert run.one("aws:s3/bucketVersioning:BucketVersioning").plain["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").plain["policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}
    rules = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").plain["rules"]
    assert {r["id"] for r in rules} == {"expire-noncurrent-versions", "abort-incomplete-multipart"}
    assert run.one("aws:s3/bucket:Bucket").plain["forceDestroy"] is False


def test_bucket_protected_in_prod_not_in_dev(stack):
    prod = stack("aws-prod").one("aws:s3/bucket:Bucket")
    assert prod.protect is True and prod.retain_on_delete is True
    assert stack("aws-dev").one("aws:s3/bucket:Bucket").protect in (None, False)


def _role_policy(run, role_suffix):
    return json.loads(next(r for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
                           if r.name.endswith(role_suffix)).plain["policy"])


def test_irsa_roles_are_scoped_to_bucket_prefix(stack):
    run = stack("aws-dev")
    for suffix, writes in (("model-read", False), ("model-write", True)):
        policy = _role_policy(run, suffix)
        for st in policy["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert "s3:*" not in actions and "*" not in st["Resource"]
        objects = next(s for s in policy["Statement"] if "s3:GetObject" in s["Action"])
        assert objects["Resource"] == ["arn:aws:s3:us-west-2:123456789012:kf-dev-models/models/*"]
        assert ("s3:PutObject" in objects["Action"]) is writes
        listing = next(s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"])
        assert listing["Condition"]["StringLike"]["s3:prefix"] == ["models/*", "models"]


def test_irsa_trust_names_the_service_accounts(stack):
    run = stack("aws-dev")
    trusts = {r.name: json.loads(r.plain["assumeRolePolicy"]) for r in run.of_type("aws:iam/role:Role")}
    read = trusts["kf-dev-model-read"]["Statement"][0]["Condition"]["StringEquals"]
    sub = next(v for k, v in read.items() if k.endswith(":sub"))
    assert sub == ["system:serviceaccount:models:default", "system:serviceaccount:models:model-reader"]
    write = trusts["kf-dev-model-write"]["Statement"][0]["Condition"]["StringEquals"]
    assert next(v for k, v in write.items() if k.endswith(":sub")) == ["system:serviceaccount:models:model-ingest"]


def test_no_static_keys_by_default(stack):
    for name in ("aws-dev", "aws-prod"):
        run = stack(name)
        assert not [r for r in run.of_type("kubernetes:core/v1:Secret") if "credentials" in r.name]
        mount = run.one("Dataset").plain["spec"]["mounts"][0]
        assert "encryptOptions" not in mount
        assert run.one("ServiceAccountPatch").plain["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]


def test_static_keys_stay_secret_end_to_end():
    cfg = harness.stack_config("aws-dev", {"cache": {"replicas": 2, "credentials": "static",
                                                     "levels": [{"quotaGi": 20}]}},
                               secrets={"storageAccessKeyId": "AKIAEXAMPLE", "storageSecretAccessKey": "s3cr3t"})
    run = harness.run("aws-dev", config=cfg, secret_keys=("storageAccessKeyId", "storageSecretAccessKey"))
    assert run.error is None, run.error
    secret = run.one("kubernetes:core/v1:Secret", "bloom-560m-credentials")
    data = secret.inputs["stringData"]
    assert isinstance(data, harness.Secret) or all(isinstance(v, harness.Secret) for v in data.values())
    mount = run.one("Dataset").plain["spec"]["mounts"][0]
    assert [e["name"] for e in mount["encryptOptions"]] == ["fs.s3.accessKeyId", "fs.s3.accessKeySecret"]
    assert "AKIAEXAMPLE" not in json.dumps(run.one("Dataset").inputs, default=str)
