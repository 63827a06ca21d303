"""The guardrails on what the real program registers, under mocks, for every committed stack:

* every committed stack meets every guardrail, except the findings recorded in KNOWN_VIOLATIONS (each
  with its reason; the list must shrink, never silently grow);
* a first preview, where every input computed from another resource is unknown, raises nothing new;
* realistic bad configs (the review's cases: a relabelled prod, SSE-S3, no audit logs, a moving image, an
  open endpoint, ...) run through the real program and fail the guardrail that covers them;
* each guardrail fires on a minimal regression of a resource the program really registers (its real type
  token and property shapes), so a renamed type or a changed shape cannot dodge it.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from policy import rules
from policy.rules import cloud, credentials, kubernetes, stack
from policy.rules.credentials import SECRET_CONFIG_KEYS
from tests import harness
from tests.conftest import STACKS

ACK_POOLS = ("system", "gpu", "cache")
KNOWN_VIOLATIONS: dict[str, set[tuple[str, str]]] = {
    # none: staging got a private API server with its deployer; ACK node pools require token metadata access
}


# -------------------------------------------------------------------------------- registrations -> rules

def _unknowns(value: Any) -> Any:
    """The harness's unknown sentinel as rules.UNKNOWN."""
    if value == harness.UNKNOWN:
        return rules.UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns(v) for v in value]
    return value


def to_resource(r: harness.Registration, *, unknown_derived: bool = False) -> rules.Resource:
    """A registration as the pack sees it. `unknown_derived`: as a first preview sees it, every property
    computed from another resource unknown (mocks know every output; a real first preview does not)."""
    props = _unknowns(r.plain)
    if unknown_derived:
        props = {k: rules.UNKNOWN if r.property_dependencies.get(k) else v for k, v in props.items()}
    return rules.Resource(r.type, r.name, props, protect=bool(r.protect), urn=r.urn,
                          property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()})


def resources_of(run: harness.Run, **kwargs: Any) -> list[rules.Resource]:
    assert run.error is None, repr(run.error)
    return [to_resource(r, **kwargs) for r in run.registrations]


def context_of(config: dict[str, str], durable: bool = False) -> rules.Context:
    """What the pack reads from the engine: the values of the project's secret config keys."""
    return rules.Context(frozenset(v for key in SECRET_CONFIG_KEYS if (v := config.get(key))), durable=durable)


def violations(resources: list[rules.Resource], context: rules.Context) -> dict[tuple[str, str], list[str]]:
    """(guardrail, resource name) -> messages, over every resource and stack guardrail."""
    found: dict[tuple[str, str], list[str]] = {}
    for resource in resources:
        for message in rules.check_resource(resource, context):
            found.setdefault((message.split(":", 1)[0], resource.name), []).append(message)
    for resource, message in rules.check_stack(resources, context):
        found.setdefault((message.split(":", 1)[0], resource.name if resource else ""), []).append(message)
    return found


def _messages(found: dict[tuple[str, str], list[str]]) -> set[tuple[str, str]]:
    """(guardrail, message) pairs: a regression may add a message to a resource that already had one."""
    return {(guardrail, m) for (guardrail, _), ms in found.items() for m in ms}


def report(found: dict[tuple[str, str], list[str]], keys: set[tuple[str, str]]) -> str:
    return "\n  ".join(m for key in sorted(keys) for m in found.get(key, [str(key)]))


# ---------------------------------------------------------------------------------- committed stacks

@pytest.mark.parametrize("name", STACKS)
def test_every_committed_stack_meets_every_guardrail(stack: Callable[[str], harness.Run], name: str) -> None:
    found = violations(resources_of(stack(name)), context_of(harness.stack_config(name)))
    known = KNOWN_VIOLATIONS.get(name, set())
    new, fixed = set(found) - known, known - set(found)
    assert not new, f"{name} violates the policy pack:\n  {report(found, new)}"
    assert not fixed, f"{name} no longer violates {sorted(fixed)}: remove it from KNOWN_VIOLATIONS"


@pytest.mark.parametrize("name", STACKS)
def test_a_first_preview_raises_nothing_new(name: str) -> None:
    """Unknown values defer a check to `pulumi up`; they never fail one (the joins go by dependency)."""
    run = harness.run(name, preview=True)
    found = violations(resources_of(run, unknown_derived=True), context_of(harness.stack_config(name)))
    assert set(found) <= KNOWN_VIOLATIONS.get(name, set()), report(found, set(found))


# --------------------------------------------------------------------------------------- bad configs

@dataclass(frozen=True)
class BadConfig:
    why: str
    stack: str
    overrides: dict[str, Any]
    guardrails: frozenset[str]
    durable: bool = False  # the policy config declares the stack durable


BAD_CONFIGS = [
    BadConfig("aws-prod relabelled staging: public API (0.0.0.0/0 split in two), no auth, no TLS",
              "aws-prod", {"environment": "staging", "cluster.endpointPublicAccess": True,
                           "cluster.publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"], "endpoint.auth": "none",
                           "endpoint.allowedCidrs": ["0.0.0.0/0"], "endpoint.tls": False},
              frozenset({"control-plane-private-for-durable-data", "endpoint-authenticated", "endpoint-tls-only"})),
    BadConfig("aws-prod relabelled dev with a force-destroyable bucket, in a stack the security team declared durable",
              "aws-prod", {"environment": "dev", "bucket.forceDestroy": True, "bucket.protect": False},
              frozenset({"durable-data-is-protected"}), durable=True),
    BadConfig("aws-prod with SSE-S3 instead of its KMS key", "aws-prod", {"bucket.kms": False},
              frozenset({"model-buckets-fully-guarded"})),
    BadConfig("aws-prod without control-plane logs", "aws-prod", {"cluster.logTypes": []},
              frozenset({"control-plane-encrypted-and-audited"})),
    BadConfig("aws-staging with an unauthenticated endpoint open to the internet", "aws-staging",
              {"endpoint.auth": "none", "endpoint.allowedCidrs": ["0.0.0.0/0"]}, frozenset({"endpoint-authenticated"})),
    BadConfig("aws-dev without TLS", "aws-dev", {"endpoint.tls": False}, frozenset({"endpoint-tls-only"})),
    BadConfig("aws-dev serving a moving image tag", "aws-dev", {"release.servingImage": "docker.io/randomuser/vllm:dev"},
              frozenset({"workloads-pinned-images"})),
    BadConfig("aws-dev letting the model repository run code", "aws-dev", {"inference.extraArgs": ["--trust-remote-code"]},
              frozenset({"inference-no-remote-code"})),
    BadConfig("aws-dev keeping its bucket (no forceDestroy) behind a public API", "aws-dev",
              {"bucket.forceDestroy": False}, frozenset({"control-plane-private-for-durable-data"})),
    BadConfig("alicloud-prod relabelled staging with an internet SLB on the API server", "alicloud-prod",
              {"environment": "staging", "cluster.endpointPublicAccess": True},
              frozenset({"control-plane-private-for-durable-data"})),
    BadConfig("alicloud-prod with AES256 instead of KMS", "alicloud-prod", {"bucket.kms": False},
              frozenset({"model-buckets-fully-guarded"})),
    BadConfig("byo-dev without a token, open to the internet", "byo-dev", {"endpoint.allowedCidrs": ["0.0.0.0/0"]},
              frozenset({"endpoint-authenticated"})),
]


@pytest.mark.parametrize("bad", BAD_CONFIGS, ids=lambda b: b.why)
def test_bad_configs_fail_the_guardrail_that_covers_them(bad: BadConfig) -> None:
    config = harness.stack_config(bad.stack, overrides=bad.overrides)
    run = harness.run(bad.stack, config=config)
    assert run.error is None, f"the program refuses this config itself (move the case to tests/test_config.py): {run.error}"
    found = violations(resources_of(run), context_of(config, durable=bad.durable))
    fired = {guardrail for guardrail, _ in set(found) - KNOWN_VIOLATIONS.get(bad.stack, set())}
    assert bad.guardrails <= fired, f"{bad.why}: expected {sorted(bad.guardrails)}, got {sorted(fired)}"


def test_without_the_durable_declaration_a_fully_disposable_stack_is_judged_disposable() -> None:
    """What resources alone cannot tell: a prod stack turned throwaway (forceDestroy on, protection off) looks
    like dev. Only the policy config (durableStacks) can say otherwise; docs/guardrails.md says so."""
    config = harness.stack_config("aws-prod", overrides={"environment": "dev", "bucket.forceDestroy": True,
                                                         "bucket.protect": False})
    found = violations(resources_of(harness.run("aws-prod", config=config)), context_of(config))
    assert not {g for g, _ in found} & {"durable-data-is-protected", "control-plane-private-for-durable-data"}


# ----------------------------------------------------------------------- regressions of real resources

DROP = object()


@dataclass(frozen=True)
class Regression:
    """One property of one registered resource changed (`path` () with a function: the whole properties
    rewritten; DROP: the resource removed) and the guardrail that must fire."""

    stack: str
    kind: str
    path: tuple[str | int, ...]
    value: Any
    guardrail: str
    name_has: str = ""

    def __str__(self) -> str:
        where = ".".join(map(str, self.path)) or "(removed)"
        return f"{self.stack}:{self.kind.rsplit(':', 1)[1]}{'/' + self.name_has if self.name_has else ''}:{where}"


def _with(props: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    props = copy.deepcopy(props)
    if not path:
        return value(props)
    node: Any = props
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value(node.get(path[-1]) if isinstance(node, dict) else node[path[-1]]) if callable(value) else value
    return props


PUBLIC_READ = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                         "Resource": "arn:aws:s3:::b/*"}]})
WRITE_EVERYTHING = json.dumps({"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b/*"]}]})
OSS_WRITER = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:GetObject", "oss:PutObject"],
                                                        "Resource": ["acs:oss:*:*:b/*"]}]})
CONTAINER = ("spec", "template", "spec", "containers", 0)
POD = ("spec", "template", "spec")
PREDICTOR = ("spec", "predictor")
SERVERS = ("spec", "ingress", "istio", stack.KNATIVE_GATEWAY, "servers")
RELEASE = "kubernetes:helm.sh/v3:Release"
DAEMON_SET, JOB = "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"
ALLUXIO = "kubernetes:data.fluid.io/v1alpha1:AlluxioRuntime"
LITERAL_TOKEN = "hf_" + "Zz9" * 12

REGRESSIONS = [
    # machines
    Regression("aws-prod", cloud.LAUNCH_TEMPLATE, ("metadataOptions", "httpTokens"), "optional",
               "compute-imdsv2-encrypted-disks-private", "gpu"),
    Regression("aws-prod", cloud.LAUNCH_TEMPLATE, ("metadataOptions", "httpPutResponseHopLimit"), 2,
               "compute-imdsv2-encrypted-disks-private", "cache"),
    Regression("aws-prod", cloud.LAUNCH_TEMPLATE, ("blockDeviceMappings", 0, "ebs", "encrypted"), "false",
               "compute-imdsv2-encrypted-disks-private", "system"),
    Regression("aws-prod", cloud.EC2_INSTANCE, ("associatePublicIpAddress",), True, "compute-imdsv2-encrypted-disks-private"),
    Regression("aws-prod", cloud.EC2_INSTANCE, ("rootBlockDevice", "encrypted"), False, "compute-imdsv2-encrypted-disks-private"),
    Regression("aws-prod", cloud.EKS_NODE_GROUP, ("launchTemplate",), None, "compute-imdsv2-encrypted-disks-private", "gpu"),
    Regression("alicloud-prod", cloud.ECS_INSTANCE, ("httpTokens",), "optional", "compute-imdsv2-encrypted-disks-private"),
    Regression("alicloud-prod", cloud.ACK_NODE_POOL, ("systemDiskEncrypted",), False, "compute-imdsv2-encrypted-disks-private",
               "gpu"),
    # keys, networks, IAM
    Regression("aws-prod", cloud.AWS_KMS_KEY, ("enableKeyRotation",), False, "kms-keys-rotate", "models"),
    Regression("alicloud-prod", cloud.ALICLOUD_KMS_KEY, ("automaticRotation",), "Disabled", "kms-keys-rotate"),
    Regression("aws-prod", cloud.SECURITY_GROUP, ("ingress",), [{"protocol": "tcp", "fromPort": 22, "toPort": 22,
                                                                "cidrBlocks": ["0.0.0.0/0"]}], "no-internet-ingress"),
    Regression("alicloud-prod", cloud.ECS_SECURITY_GROUP_RULE, ("type",), "ingress", "no-internet-ingress"),
    Regression("aws-dev", "aws:iam/rolePolicy:RolePolicy", ("policy",), WRITE_EVERYTHING, "iam-policies-least-privilege",
               "write"),
    Regression("alicloud-prod", credentials.RAM_POLICY, ("policyDocument",), OSS_WRITER, "static-keys-read-only", "reader"),
    # S3
    Regression("aws-prod", cloud.S3_PUBLIC_ACCESS_BLOCK, ("blockPublicPolicy",), False, "s3-bucket-not-public"),
    Regression("aws-prod", cloud.S3_BUCKETS[0], ("acl",), "public-read", "s3-bucket-not-public"),
    Regression("aws-prod", cloud.S3_POLICY, ("policy",), PUBLIC_READ, "s3-bucket-not-public"),
    Regression("aws-prod", cloud.S3_POLICY, ("policy",), PUBLIC_READ, "model-buckets-fully-guarded"),
    Regression("aws-prod", cloud.S3_VERSIONING[0], ("versioningConfiguration", "status"), "Suspended",
               "s3-bucket-encrypted-and-versioned"),
    Regression("aws-prod", cloud.S3_ENCRYPTION[0], ("rules", 0, "applyServerSideEncryptionByDefault"),
               {"sseAlgorithm": "aws:kms"}, "model-buckets-fully-guarded"),  # the AWS-managed key
    *(Regression("aws-prod", kind, (), DROP, "model-buckets-fully-guarded")
      for kind in (cloud.S3_PUBLIC_ACCESS_BLOCK, cloud.S3_ENCRYPTION[0], cloud.S3_VERSIONING[0], cloud.S3_POLICY)),
    Regression("aws-prod", cloud.S3_BUCKETS[0], ("forceDestroy",), True, "durable-data-is-protected"),
    Regression("aws-staging", cloud.S3_PUBLIC_ACCESS_BLOCK, ("__protect__",), False, "durable-data-is-protected"),
    # OSS
    Regression("alicloud-prod", cloud.OSS_ACL, ("acl",), "public-read", "oss-bucket-not-public"),
    Regression("alicloud-prod", cloud.OSS_VERSIONING, ("status",), "Suspended", "oss-bucket-encrypted-and-versioned"),
    *(Regression("alicloud-prod", kind, (), DROP, "model-buckets-fully-guarded")
      for kind in (cloud.OSS_ACL, cloud.OSS_ENCRYPTION, cloud.OSS_VERSIONING, cloud.OSS_POLICY)),
    Regression("alicloud-prod", cloud.OSS_BUCKET, ("forceDestroy",), True, "durable-data-is-protected"),
    # control planes
    Regression("aws-prod", cloud.EKS_COMPONENT, ("encryptionConfigKeyArn",), None, "control-plane-encrypted-and-audited"),
    Regression("aws-prod", cloud.EKS_COMPONENT, ("enabledClusterLogTypes",), ["api"], "control-plane-encrypted-and-audited"),
    Regression("aws-prod", cloud.EKS_COMPONENT, ("endpointPublicAccess",), True, "control-plane-private-for-durable-data"),
    Regression("aws-prod", cloud.EKS_COMPONENT, (), lambda props: {**props, "endpointPublicAccess": True,
                                                                    "publicAccessCidrs": ["1.2.3.4/0"]},
               "control-plane-private-for-durable-data"),  # the whole internet, spelt with host bits
    Regression("alicloud-prod", cloud.ACK_CLUSTER, ("encryptionProviderKey",), None, "control-plane-encrypted-and-audited"),
    Regression("alicloud-prod", cloud.ACK_CLUSTER, ("slbInternetEnabled",), True, "control-plane-private-for-durable-data"),
    # workloads
    Regression("aws-dev", DAEMON_SET, (*CONTAINER, "securityContext", "privileged"), True,
               "workloads-restricted-security-context", "prepull"),
    Regression("aws-dev", JOB, (*POD, "hostNetwork"), True, "workloads-restricted-security-context"),
    Regression("aws-dev", kubernetes.SERVING_RUNTIMES[0], ("spec", "containers", 0, "securityContext",
                                                           "allowPrivilegeEscalation"), True,
               "workloads-restricted-security-context"),
    Regression("aws-dev", JOB, (*CONTAINER, "image"), "ghcr.io/kserve-fluid/model-ingest:latest", "workloads-pinned-images"),
    Regression("aws-dev", ALLUXIO, ("spec", "fuse", "imageTag"), "latest", "workloads-pinned-images"),
    Regression("aws-dev", RELEASE, ("values", "image", "tag"), "master", "workloads-pinned-images", "autoscaler"),
    Regression("aws-dev", JOB, (*CONTAINER, "resources", "limits"), {}, "workloads-resource-bounds"),
    Regression("aws-dev", ALLUXIO, ("spec", "fuse", "resources"), None, "workloads-resource-bounds"),
    Regression("aws-dev", JOB, (*CONTAINER, "env"), lambda env: [*env, {"name": "HF_TOKEN", "value": LITERAL_TOKEN}],
               "no-plaintext-credentials"),
    Regression("alicloud-dev", "kubernetes:data.fluid.io/v1alpha1:Dataset", ("spec", "mounts", 0, "options",
                                                                           "fs.oss.accessKeySecret"), "s3cr3t",
               "no-plaintext-credentials"),
    Regression("alicloud-dev", credentials.K8S_SECRET, ("__derived__",), False, "credentials-from-secret-config-or-resources"),
    # serving
    Regression("aws-dev", kubernetes.INFERENCE_SERVICE, (*PREDICTOR, "tolerations", 0, "value"), "true",
               "gpu-inference-tolerates-taint-and-requests-gpus"),
    Regression("aws-dev", kubernetes.INFERENCE_SERVICE, (*PREDICTOR, "maxReplicas"), 0, "inference-replicas-bounded"),
    Regression("aws-dev", kubernetes.INFERENCE_SERVICE, (*PREDICTOR, "model", "runtime"), "kserve-huggingfaceserver",
               "inference-runtime-guarded"),
    Regression("aws-dev", RELEASE, ("version",), "1", "helm-chart-version-pinned", "fluid"),
    Regression("aws-dev", stack.KNATIVE_SERVING, ("spec", "version"), "1.23", "helm-chart-version-pinned"),
    # endpoint
    Regression("aws-dev", stack.REQUEST_AUTHENTICATION, (), DROP, "endpoint-authenticated"),
    Regression("aws-dev", stack.AUTHORIZATION_POLICY, ("spec", "action"), "ALLOW", "endpoint-authenticated"),
    Regression("byo-dev", RELEASE, ("values", "service", "loadBalancerSourceRanges"), ["0.0.0.0/0"], "endpoint-authenticated",
               "gateway"),
    Regression("aws-dev", stack.KNATIVE_SERVING, (*SERVERS, 1, "tls"), {}, "endpoint-tls-only"),
    Regression("aws-dev", stack.CERTIFICATE, (), DROP, "endpoint-tls-only", "tls"),
    # pod security levels
    Regression("aws-dev", stack.NAMESPACE, ("metadata", "labels"), {stack.PSA + "enforce": "privileged"},
               "privileged-only-for-fluid", "knative"),
    Regression("aws-dev", stack.NAMESPACE, ("metadata", "labels", stack.PSA + "audit"), "privileged",
               "privileged-only-for-fluid", "models"),
]


def _regressed(resource: rules.Resource, change: Regression) -> rules.Resource | None:
    if change.value is DROP:
        return None
    if change.path == ("__protect__",):
        return rules.Resource(resource.type, resource.name, resource.props, protect=change.value, urn=resource.urn,
                              property_dependencies=resource.property_dependencies)
    if change.path == ("__derived__",):  # the same values, written into the program instead of computed
        return rules.Resource(resource.type, resource.name, resource.props, protect=resource.protect, urn=resource.urn)
    return rules.Resource(resource.type, resource.name, _with(dict(resource.props), change.path, change.value),
                          protect=resource.protect, urn=resource.urn, property_dependencies=resource.property_dependencies)


@pytest.mark.parametrize("change", REGRESSIONS, ids=str)
def test_each_guardrail_fires_on_a_regression_of_a_real_resource(stack: Callable[[str], harness.Run],
                                                                  change: Regression) -> None:
    resources = resources_of(stack(change.stack))
    targets = [i for i, r in enumerate(resources) if r.type == change.kind and change.name_has in r.name]
    assert targets, f"{change.stack} registers no {change.kind} named *{change.name_has}*: a renamed type would dodge the pack"
    context = context_of(harness.stack_config(change.stack))
    regressed = _regressed(resources[targets[0]], change)
    before = _messages(violations(resources, context))
    after = _messages(violations([*resources[:targets[0]], *([regressed] if regressed else []),
                                  *resources[targets[0] + 1:]], context))
    fired = {guardrail for guardrail, _ in after - before}
    assert change.guardrail in fired, f"{change}: expected {change.guardrail}, got {sorted(fired)}"


def test_every_guardrail_has_a_regression_or_a_bad_config() -> None:
    covered = {c.guardrail for c in REGRESSIONS} | {g for b in BAD_CONFIGS for g in b.guardrails}
    assert covered == {g.name for g in (*rules.GUARDRAILS, *rules.STACK_GUARDRAILS)}


# ------------------------------------------------------------------------------ secrets from config

@pytest.mark.parametrize("name", ["aws-dev", "alicloud-dev", "byo-dev"])
def test_static_credentials_and_hf_token_from_secret_config_pass(name: str) -> None:
    """With static object-store keys and an HF token set as secret config, the Secrets that carry them pass
    both credential guardrails (the key id has the shape the scan looks for); the same Secrets with values
    the config does not hold -- written into the program -- fail."""
    cache = {**json.loads(harness.stack_config(name)["kserve-fluid:cache"]), "credentials": "static"}
    secrets = {"storageAccessKeyId": "AKIAIOSFODNN7EXAMPLE", "storageSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
               "hfToken": LITERAL_TOKEN}
    config = harness.stack_config(name, overrides={"cache": cache}, secrets=secrets)
    resources = resources_of(harness.run(name, config=config, secret_keys=tuple(secrets)))
    carriers = [r for r in resources if r.type == credentials.K8S_SECRET
                and any(credentials.looks_like_credential(k) for k in r.get("stringData") or {})]
    assert carriers, f"{name}: no Kubernetes Secret carries the credentials"
    rule = credentials.credentials_from_secret_config_or_resources
    assert rule(carriers, context_of(config)) == []
    assert all(credentials.no_plaintext_credentials(r, context_of(config)) == [] for r in resources)
    assert rule(carriers, rules.Context()), "credentials the config does not hold must fail"
