"""Every mistake in a stack file is refused before anything is created, one line per problem, naming the key as
the stack file spells it, the value, and what is allowed in words.

Each case mutates a copy of a committed stack file and goes through `components.config.load()` the way the
program does (the Pulumi runtime's config, with Pulumi.yaml's defaults merged as the CLI merges them).
"""

from __future__ import annotations

import re

import pytest

from components import config
from tests import harness
from tests.conftest import STACKS


def problems(stack: str, overrides: dict | None = None, drop: tuple[str, ...] = (), text: str | None = None) -> list[str]:
    result = harness.load(stack, harness.stack_config(stack, overrides, drop=drop, text=text))
    assert isinstance(result, config.ConfigError), f"accepted: {overrides} {drop}"
    return result.problems


def refused(stack: str, overrides: dict, expected: str, drop: tuple[str, ...] = ()) -> list[str]:
    found = problems(stack, overrides, drop)
    assert any(p.startswith(expected) for p in found), found
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_loads(stack):
    settings = harness.load(stack)
    assert isinstance(settings, config.Settings), settings
    assert settings.stack == stack


def test_a_bad_stack_registers_nothing():
    run = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"gpuPool.instanceType": "m5.large"}))
    assert isinstance(run.error, config.ConfigError) and run.registrations == []


class TestMisspeltKeys:
    @pytest.mark.parametrize("key,expected", [
        ("gpupool", "kserve-fluid:gpupool: unknown key; did you mean gpuPool?"),
        ("endpont", "kserve-fluid:endpont: unknown key; did you mean endpoint?"),
        ("hftoken", "kserve-fluid:hftoken: unknown key; did you mean hfToken?"),
    ])
    def test_top_level(self, key, expected):
        refused("aws-prod", {key: {"instanceType": "g5.12xlarge"}}, expected)

    @pytest.mark.parametrize("path,expected", [
        ("gpuPool.instanceTyp", "kserve-fluid:gpuPool.instanceTyp: unknown key; did you mean instanceType?"),
        ("cache.levels[0].quota", "kserve-fluid:cache.levels[0].quota: unknown key; did you mean quotaGi?"),
        ("release.model.sizeGB", "kserve-fluid:release.model.sizeGB: unknown key; did you mean sizeGi?"),
    ])
    def test_nested(self, path, expected):
        refused("aws-dev", {path: 1}, expected)

    @pytest.mark.parametrize("key,expected", [
        ("aws:regoin", "aws:regoin: not a config key of the aws provider; did you mean aws:region?"),
        ("aws:profle", "aws:profle: not a config key of the aws provider; did you mean aws:profile?"),
        ("kserve-fluld:gpuPool", "kserve-fluld:gpuPool: unknown config namespace 'kserve-fluld'; did you mean kserve-fluid:gpuPool?"),
        ("alicloud:region", "alicloud:region: set, but kserve-fluid:cloud is 'aws'"),
    ])
    def test_provider_and_namespace(self, key, expected):
        refused("aws-dev", {key: "us-east-1"}, expected)

    def test_a_rule_that_reads_a_default_says_the_key_is_not_set(self):
        found = refused("aws-dev", {"cache.replicas": 5}, "kserve-fluid:cache.replicas: got 5", drop=("cachePool.maxSize",))
        assert any("(the default: cachePool.maxSize is not set in the stack)" in p for p in found), found

    def test_a_missing_required_key_says_missing(self):
        refused("aws-dev", {}, "kserve-fluid:release.model.sizeGi: missing", drop=("release.model.sizeGi",))
        refused("aws-dev", {"cloud": ""}, "kserve-fluid:cloud: missing; set it to one of aws, alicloud, existing")


class TestValuesThatLookRight:
    @pytest.mark.parametrize("cidr,expected", [
        ("10.0.0.0/33", "four numbers 0-255 and a /prefix 0-32"),
        ("10.300.0.0/16", "four numbers 0-255"),
        ("10.40.0.1/16", "a network address with its host bits zero, i.e. 10.40.0.0/16"),
        ("10.40.0.0/24", "2 zones need 4 /20 subnets, so a /18 or larger network"),
    ])
    def test_cidrs(self, cidr, expected):
        found = refused("aws-dev", {"cluster.vpcCidr": cidr}, f"kserve-fluid:cluster.vpcCidr: got {cidr!r}")
        assert any(expected in p for p in found), found

    @pytest.mark.parametrize("value", ["g5.xlarge ", "g5 .xlarge", "G5.XLARGE"])
    def test_instance_type_shape(self, value):
        refused("aws-dev", {"gpuPool.instanceType": value}, f"kserve-fluid:gpuPool.instanceType: got {value!r}; an instance type such as")

    def test_instance_type_of_the_wrong_family(self):
        refused("aws-dev", {"gpuPool.instanceType": "m5.large"},
                "kserve-fluid:gpuPool.instanceType: got 'm5.large'; not a GPU instance type for aws: use one of g5.*")
        refused("aws-dev", {"cachePool.instanceType": "ecs.g7.xlarge"}, "kserve-fluid:cachePool.instanceType: got 'ecs.g7.xlarge'; an Alibaba Cloud type")

    @pytest.mark.parametrize("name,why", [
        ("My_Models", "3-63 lowercase letters, digits, '.' and '-'"),
        ("models..bucket", "no '..'"),
        ("192.168.1.1", "not formatted as an IP address"),
        ("xn--models", "no prefix xn--"),
    ])
    def test_s3_bucket_names(self, name, why):
        found = refused("aws-dev", {"bucket.name": name}, f"kserve-fluid:bucket.name: got {name!r}; an S3 bucket name is")
        assert any(why in p for p in found), found

    def test_oss_bucket_names_allow_no_dots(self):
        refused("alicloud-dev", {"bucket.name": "models.team"}, "kserve-fluid:bucket.name: got 'models.team'; an OSS bucket name is")

    @pytest.mark.parametrize("source", ["hf:/NousResearch/x", "s3://bucket/model", "https://huggingface.co/org/repo"])
    def test_sources_that_are_neither_hf_nor_a_directory(self, source):
        refused("aws-dev", {"release.model.source": source}, f"kserve-fluid:release.model.source: got {source!r}; use hf://<org>/<repo>")

    def test_a_local_directory_that_does_not_exist(self):
        refused("aws-dev", {"release.model.source": "./models/nope"},
                "kserve-fluid:release.model.revision: got 'main'; only a Hugging Face source has a revision")
        refused("aws-dev", {"release.model.source": "./models/nope"},
                "kserve-fluid:release.model.source: got './models/nope'; no such directory here", drop=("release.model.revision",))

    @pytest.mark.parametrize("stack,key,value,expected", [
        ("aws-dev", "aws:region", "us-west-9", "aws:region: got 'us-west-9'; not an AWS region EKS runs in"),
        ("alicloud-dev", "alicloud:region", "cn-atlantis", "alicloud:region: got 'cn-atlantis'; not a region with ACK and OSS"),
        ("aws-dev", "cluster.kubernetesVersion", "1.40", "kserve-fluid:cluster.kubernetesVersion: got '1.40'; EKS supports"),
        ("alicloud-dev", "cluster.kubernetesVersion", "1.29", "kserve-fluid:cluster.kubernetesVersion: got '1.29'; ACK offers"),
    ])
    def test_regions_and_kubernetes_versions_that_do_not_exist(self, stack, key, value, expected):
        refused(stack, {key: value}, expected)

    @pytest.mark.parametrize("key,value,expected", [
        ("release.versions", {"fluid": "1"}, "kserve-fluid:release.versions: got fluid: '1'; an exact version with three numbers"),
        ("release.versions", {"kserve": "0.15"}, "kserve-fluid:release.versions: got kserve: '0.15'; an exact version"),
        ("release.versions", {"kservee": "v0.20.0"}, "kserve-fluid:release.versions: got 'kservee'; not a component"),
        ("release.servingImage", "kserve/huggingfaceserver:latest", "kserve-fluid:release.servingImage: got 'kserve/huggingfaceserver:latest'; an image with a pinned tag"),
        ("release.servingImage", "kserve/huggingfaceserver", "kserve-fluid:release.servingImage: got 'kserve/huggingfaceserver'; an image with a pinned tag"),
    ])
    def test_versions_and_images_are_exact(self, key, value, expected):
        refused("aws-dev", {key: value}, expected)


class TestValuesThatDoNotFitTheMachine:
    def test_more_gpus_than_the_instance_has(self):
        refused("aws-dev", {"inference.gpus": 4}, "kserve-fluid:inference.gpus: got 4; g5.2xlarge has 1 GPU")

    def test_more_memory_or_cpu_than_the_node_gives(self):
        refused("aws-dev", {"inference.memory": "64Gi"}, "kserve-fluid:inference.memory: got '64Gi'; a g5.2xlarge node (32 GiB) can give a pod at most")
        refused("aws-dev", {"inference.cpu": "16"}, "kserve-fluid:inference.cpu: got '16'; a g5.2xlarge node (8 vCPU)")

    def test_weights_that_do_not_fit_the_gpu(self):
        found = refused("alicloud-dev", {"inference.gpus": 1}, "kserve-fluid:inference.gpus: the 15 GiB of weights")
        assert any("1 x T4 (15 GiB) x gpuMemoryUtilization 0.9 gives 13.5 GiB" in p for p in found), found
        refused("aws-dev", {"inference.dtype": "float32"}, "kserve-fluid:inference.gpus: the 30 GiB of weights (release.model.sizeGi x dtype float32)")

    @pytest.mark.parametrize("namespace", ["kube-system", "knative-serving", "kube-whatever", "default"])
    def test_a_namespace_that_belongs_to_the_system(self, namespace):
        refused("aws-dev", {"inference.namespace": namespace}, f"kserve-fluid:inference.namespace: got {namespace!r}; a namespace of its own")

    def test_a_cache_that_cannot_hold_the_model(self):
        refused("aws-dev", {"cache.levels": [{"medium": "SSD", "quotaGi": 5}]}, "kserve-fluid:cache.levels: quota x replicas = 10 GiB cannot hold")
        refused("aws-dev", {"cache.levels": [{"medium": "MEM", "quotaGi": 20}]}, "kserve-fluid:cache.levels: MEM tiers of 20 GiB per worker do not fit m5dn.xlarge")

    def test_an_unknown_instance_type_is_allowed_with_a_warning(self, capsys):
        settings = harness.load("aws-dev", harness.stack_config("aws-dev", {"gpuPool.instanceType": "g5.96xlarge"}))
        assert isinstance(settings, config.Settings)


class TestValuesThatWouldHangALaterStep:
    def test_tls_from_a_public_issuer_on_a_reserved_domain(self):
        refused("aws-dev", {"endpoint.tlsIssuer": "letsencrypt-prod"},
                "kserve-fluid:platform.domain: got 'example.com'; ClusterIssuer 'letsencrypt-prod' (endpoint.tlsIssuer) cannot get a public certificate")

    @pytest.mark.parametrize("issuer", ["auth.example.org", "http://auth.example.org/", "cluster-issuer"])
    def test_a_jwt_issuer_that_is_not_an_https_url(self, issuer):
        refused("aws-dev", {"endpoint.jwtIssuer": issuer}, f"kserve-fluid:endpoint.jwtIssuer: got {issuer!r}; an https:// URL")

    def test_a_timeout_knative_or_the_revision_deadline_would_cut(self):
        refused("aws-dev", {"inference.timeoutSeconds": 7200}, "kserve-fluid:inference.timeoutSeconds: got 7200; Input should be less than or equal to 3600")
        refused("aws-dev", {"inference.timeoutSeconds": 3000}, "kserve-fluid:inference.timeoutSeconds: got 3000; at most platform.progressDeadlineSeconds (1800)")

    def test_gp3_throughput_above_what_its_iops_allow(self):
        refused("aws-dev", {"cachePool.diskThroughputMiBps": 1000, "cachePool.diskIops": 3000},
                "kserve-fluid:cachePool.diskThroughputMiBps: got 1000; at most diskIops / 4 = 750")

    def test_prod_placeholders(self):
        refused("aws-prod", {"platform.domain": "models.example.com"}, "kserve-fluid:platform.domain: got 'models.example.com'; a placeholder")
        refused("aws-prod", {"endpoint.jwtIssuer": "https://auth.example.com/"}, "kserve-fluid:endpoint.jwtIssuer: got 'https://auth.example.com/'; a placeholder")

    def test_an_open_endpoint_needs_an_explicit_allow_list(self):
        refused("aws-dev", {"endpoint.auth": "none"}, "kserve-fluid:endpoint.allowedCidrs: missing; with endpoint.auth 'none' anyone")
        assert isinstance(harness.load("aws-dev", harness.stack_config(
            "aws-dev", {"endpoint.auth": "none", "endpoint.allowedCidrs": ["203.0.113.7/32"]})), config.Settings)


class TestSafety:
    @pytest.mark.parametrize("overrides,expected", [
        ({"cluster.endpointPublicAccess": True}, "kserve-fluid:cluster.publicAccessCidrs: got []"),
        ({"cluster.endpointPublicAccess": True, "cluster.publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
         "kserve-fluid:cluster.publicAccessCidrs: got ['0.0.0.0/1', '128.0.0.0/1']"),
        ({"bucket.protect": False}, "kserve-fluid:bucket.protect: got False"),
        ({"endpoint.auth": "none", "endpoint.allowedCidrs": ["0.0.0.0/0"]}, "kserve-fluid:endpoint.auth: got 'none'"),
        ({"endpoint.tls": False}, "kserve-fluid:endpoint.tls: got False"),
        ({"release.model.revision": "main"}, "kserve-fluid:release.model.revision: got 'main'; prod serves a pinned 40-hex commit sha"),
        ({"bucket.forceDestroy": True}, "kserve-fluid:bucket.forceDestroy: got True; only a dev stack"),
    ])
    def test_prod_refuses_what_it_must_not_expose(self, overrides, expected):
        refused("aws-prod", overrides, expected)

    def test_prod_defaults_are_safe_without_being_written(self):
        s = harness.load("aws-prod", harness.stack_config("aws-prod", drop=("bucket", "cluster.endpointPublicAccess", "endpoint")))
        assert s.bucket.protect and not s.cluster.endpoint_public_access and s.cluster.deployer
        assert s.endpoint.auth == "jwt" and s.endpoint.tls

    def test_a_bucket_is_protected_unless_the_stack_asks_for_a_disposable_one(self):
        kept = harness.load("aws-dev", harness.stack_config("aws-dev", drop=("bucket.forceDestroy",)))
        assert kept.bucket.protect and not kept.bucket.force_destroy
        assert not harness.load("aws-dev").bucket.protect  # aws-dev sets forceDestroy: true
        refused("aws-dev", {"bucket.protect": False, "bucket.forceDestroy": False}, "kserve-fluid:bucket.protect: got False; `pulumi destroy` would strip")
        refused("aws-dev", {"bucket.protect": True}, "kserve-fluid:bucket.forceDestroy: got True; only a dev stack with bucket.protect false")

    def test_static_credentials_need_both_secrets(self):
        refused("aws-dev", {"cache.credentials": "static"}, "kserve-fluid:storageAccessKeyId: missing")

    def test_jindo_on_s3_cannot_read_keyless(self):
        refused("aws-dev", {"cache.runtime": "jindo"}, "kserve-fluid:cache.runtime: got 'jindo'; Jindo's S3 client cannot use IRSA")

    def test_a_foreign_oss_bucket_is_read_with_a_key_not_keyless(self):
        oss = {"bucket.url": "oss://team-models", "bucket.endpoint": "oss-cn-hangzhou-internal.aliyuncs.com"}
        refused("byo-dev", oss, "kserve-fluid:cache.credentials: got 'keyless'; JindoSDK cannot assume an RRSA role")
        refused("byo-dev", {**oss, "cache.credentials": "static"}, "kserve-fluid:storageAccessKeyId: missing")


class TestMessages:
    def test_every_problem_is_one_line_with_key_value_and_words(self):
        found = problems("aws-prod", {"gpuPool.instanceType": "t3 large", "endpoint.auth": "maybe", "cluster.vpcCidr": "1.2.3.4/40",
                                      "cache.levels[0].medium": "NVME", "inference.minReplicas": 9})
        found += problems("aws-prod", {"gpuPool.instanceType": "t3.large", "endpoint.auth": "none", "bucket.protect": False})
        assert len(found) >= 8
        for line in found:
            assert "\n" not in line
            assert re.match(r"^[\w-]+:[\w.\[\]]+: ", line), line
            assert not re.search(r"\^|\\[dwsS]|\[a-z|\(\?", line), f"a regex in the message: {line}"

    def test_list_items_are_spelled_as_pulumi_config_set_path_does(self):
        refused("aws-dev", {"cache.levels[0].medium": "NVME"}, "kserve-fluid:cache.levels[0].medium: got 'NVME'; Input should be 'MEM', 'SSD' or 'HDD'")
