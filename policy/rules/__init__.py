"""The kserve-fluid guardrails as pure functions, and the catalogue the policy pack serves.

Two kinds of rule:

* a resource rule, `rule(resource, context) -> [message, ...]`, judges one resource as the engine would
  create it (cloud.py, kubernetes.py, credentials.py);
* a stack rule, `rule(resources, context) -> [Finding, ...]`, judges the joins one resource cannot see:
  each bucket has its controls, the endpoint has its auth pair, durable data is protected (stack.py,
  credentials.py).

No rule reads `kserve-fluid:environment` or any other label a stack gives itself: what a stack must
satisfy follows from what it creates. docs/guardrails.md lists every rule, what it protects and how to
run the pack; tests/test_policy_*.py show each one failing on a realistic bad program and passing on
every committed stack.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Generic, TypeVar

from . import cloud, credentials, kubernetes, stack
from .values import UNKNOWN, Context, Finding, Resource

NO_CONTEXT = Context()  # no secret config, nothing declared durable
ResourceRule = Callable[[Resource, Context], list[str]]
StackRule = Callable[[Sequence[Resource], Context], list[Finding]]
RuleT = TypeVar("RuleT", ResourceRule, StackRule)


@dataclass(frozen=True)
class Guardrail(Generic[RuleT]):
    """A rule with the name and description the pack reports it under."""

    name: str
    description: str
    check: RuleT


# The policy config that declares stacks durable (`--policy-pack-config`, or a Pulumi Cloud policy group):
# {"durable-data-is-protected": {"durableStacks": ["*-prod", "aws-staging"]}}, shell-style patterns.
DURABLE_STACKS_POLICY = "durable-data-is-protected"
DURABLE_STACKS_KEY = "durableStacks"


def stack_of(urn: str) -> str:
    """'urn:pulumi:aws-prod::kserve-fluid::...' -> 'aws-prod'."""
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:") if urn.startswith("urn:pulumi:") else ""


def declared_durable(stack_name: str, patterns: Sequence[str]) -> bool:
    return bool(stack_name) and any(fnmatchcase(stack_name, str(p)) for p in patterns)


GUARDRAILS: tuple[Guardrail[ResourceRule], ...] = (
    Guardrail("s3-bucket-not-public", "No S3 bucket is public: all four public-access blocks on, no public ACL, "
              "grant or bucket policy.", cloud.s3_bucket_not_public),
    Guardrail("s3-bucket-encrypted-and-versioned", "S3 default encryption is KMS (with a bucket key) or AES256; "
              "versioning is Enabled.", cloud.s3_bucket_encrypted_and_versioned),
    Guardrail("oss-bucket-not-public", "No OSS bucket is public: private ACL, no public bucket policy.",
              cloud.oss_bucket_not_public),
    Guardrail("oss-bucket-encrypted-and-versioned", "OSS server-side encryption is KMS, AES256 or SM4; versioning "
              "is Enabled.", cloud.oss_bucket_encrypted_and_versioned),
    Guardrail("control-plane-encrypted-and-audited", "EKS and ACK encrypt Kubernetes Secrets with a KMS key and "
              "ship API-server and audit logs.", cloud.control_plane_encrypted_and_audited),
    Guardrail("compute-imdsv2-encrypted-disks-private", "Machines require IMDSv2 (hop limit 1), encrypt every disk "
              "and get no public address.", cloud.compute_imdsv2_encrypted_disks_private),
    Guardrail("kms-keys-rotate", "Symmetric KMS keys rotate at least yearly.", cloud.kms_keys_rotate),
    Guardrail("no-internet-ingress", "No security group admits the internet.", cloud.no_internet_ingress),
    Guardrail("iam-policies-least-privilege", "IAM/RAM policies name their actions and scope data actions; no "
              "one-may-assume trust policies.", cloud.iam_policies_least_privilege),
    Guardrail("no-plaintext-credentials", "No credential outside a Kubernetes Secret: none in env, ConfigMaps, "
              "chart values, options or user data.", credentials.no_plaintext_credentials),
    Guardrail("workloads-pinned-images", "Every image is pinned by a version tag or a digest.",
              kubernetes.workloads_pinned_images),
    Guardrail("workloads-restricted-security-context", "The program's pods are unprivileged, non-root, drop all "
              "capabilities and use no host namespaces or paths.", kubernetes.workloads_restricted_security_context),
    Guardrail("workloads-resource-bounds", "Containers request CPU and memory and have a memory limit.",
              kubernetes.workloads_resource_bounds),
    Guardrail("gpu-inference-tolerates-taint-and-requests-gpus", "GPU predictors tolerate the GPU nodes' taint; "
              "predictors on GPU nodes request a GPU.", kubernetes.gpu_inference_tolerates_taint_and_requests_gpus),
    Guardrail("inference-replicas-bounded", f"InferenceService predictors set maxReplicas between 1 and "
              f"{kubernetes.MAX_REPLICAS}, not below minReplicas.", kubernetes.inference_replicas_bounded),
    Guardrail("inference-no-remote-code", "No model server runs the model repository's code (--trust-remote-code).",
              kubernetes.inference_runs_no_remote_code),
    Guardrail("helm-chart-version-pinned", "Every Helm chart and operator-installed platform is one exact "
              "major.minor.patch version.", kubernetes.helm_chart_version_pinned),
)

STACK_GUARDRAILS: tuple[Guardrail[StackRule], ...] = (
    Guardrail("model-buckets-fully-guarded", "Every bucket has a public-access block or private ACL, default "
                   "encryption (a customer KMS key when durable), versioning and a TLS-only policy.",
                   stack.model_buckets_fully_guarded),
    Guardrail("durable-data-is-protected", "A bucket without forceDestroy, its controls and its KMS key are "
                   "protected; forceDestroy never on a protected bucket or in a stack declared durable.",
                   stack.durable_data_is_protected),
    Guardrail("control-plane-private-for-durable-data", "No internet-reachable Kubernetes API server in a stack "
                   "holding durable data.", stack.control_plane_private_for_durable_data),
    Guardrail("endpoint-authenticated", "The inference gateway is private, or requires a valid JWT.",
                   stack.endpoint_authenticated),
    Guardrail("endpoint-tls-only", "The inference gateway serves HTTPS with this stack's certificate; HTTP "
                   "only redirects.", stack.endpoint_tls_only),
    Guardrail("privileged-only-for-fluid", "Only namespaces running a Fluid runtime enforce the privileged Pod "
                   "Security level, and they still warn and audit.", stack.privileged_only_for_fluid),
    Guardrail("inference-runtime-guarded", "Every InferenceService runs a ServingRuntime this stack declares.",
                   stack.inference_runtime_guarded),
    Guardrail("credentials-from-secret-config-or-resources", "Credentials in Secrets and providers come from "
                   "secret config or another resource, never the program.",
                   credentials.credentials_from_secret_config_or_resources),
    Guardrail("static-keys-read-only", "No IAM access keys; an Alibaba AccessKey's user may only read.",
                   credentials.static_keys_read_only),
)


def check_resource(resource: Resource, context: Context = NO_CONTEXT) -> list[str]:
    """Every resource guardrail on one resource, each message prefixed with the guardrail's name."""
    return [f"{g.name}: {message}" for g in GUARDRAILS for message in g.check(resource, context)]


def check_stack(resources: Sequence[Resource], context: Context = NO_CONTEXT) -> list[tuple[Resource | None, str]]:
    """Every stack guardrail on a stack: (resource, 'guardrail: message') per finding."""
    return [(f.resource, f"{g.name}: {f.message}") for g in STACK_GUARDRAILS for f in g.check(resources, context)]


__all__ = ["DURABLE_STACKS_KEY", "DURABLE_STACKS_POLICY", "GUARDRAILS", "STACK_GUARDRAILS", "UNKNOWN", "Context",
           "Finding", "Guardrail", "Resource", "ResourceRule", "StackRule", "check_resource", "check_stack",
           "declared_durable", "stack_of"]
