"""The kserve-fluid guardrails as pure functions: (resource type, inputs) -> violation messages.

Every rule has the same signature::

    rule(resource_type, props, *, protect=False, stack_env="dev", secret_keys=frozenset()) -> list[str]

and returns one message per problem (an empty list passes). Pure functions are tested with plain
dicts (tests/test_policy_rules.py), applied to every resource the program registers for every
committed stack under mocks (tests/test_policy_stacks.py), and wrapped unchanged as the policies of
the pack (policy/__main__.py) that `pulumi preview/up --policy-pack policy` runs. This module uses
the standard library only, so it runs in the pack's own virtualenv and in the project's.

Conventions:

* ``props`` are the inputs the engine receives, with its camelCase property names.
* A value not known yet (during preview: an output of a resource not created) is ``UNKNOWN``. A check
  that needs it passes for now; the engine runs the pack again on the real value before the
  resource is created or updated (`pulumi up` registers resources with resolved inputs).
* ``secret_keys`` are the paths (keys and list indexes joined with ``/``, e.g.
  ``stringData/AWS_SECRET_ACCESS_KEY``) of the values that reached the engine as Pulumi secrets;
  a path covers everything beneath it. ``secret_paths`` builds the set.
* ``protect`` is the resource option; ``stack_env`` is ``kserve-fluid:environment`` (dev/staging/prod).
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol


class _Unknown:
    """Marker for a value the engine does not know yet (preview)."""

    def __repr__(self) -> str:
        return "<unknown until apply>"


UNKNOWN: Any = _Unknown()
SEP = "/"
SecretKeys = AbstractSet[str]
"""Paths of the inputs that are Pulumi secrets (see the module docstring)."""


class Rule(Protocol):
    def __call__(self, resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                 stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]: ...


@dataclass(frozen=True)
class Guardrail:
    """A rule with the name and description the policy pack reports it under."""

    name: str
    description: str
    check: Rule


# ---------------------------------------------------------------------------------------------- helpers

def _get(obj: Any, *path: str) -> Any:
    """The value at `path` of nested maps, None when absent, UNKNOWN when any step is unknown."""
    for key in path:
        if obj is UNKNOWN:
            return UNKNOWN
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _items(obj: Any) -> list[Any]:
    """Elements of a list input; none for an absent or unknown one."""
    return list(obj) if isinstance(obj, Sequence) and not isinstance(obj, str) else []


def _number(value: Any) -> float | None:
    """A numeric input (the engine sends numbers as floats, Kubernetes quantities may be strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    return None


def _under_secret(path: Sequence[str | int], secret_keys: SecretKeys) -> bool:
    parts = [str(p) for p in path]
    return any(SEP.join(parts[:i]) in secret_keys for i in range(1, len(parts) + 1))


def secret_paths(value: Any, is_secret: Callable[[Any], bool], prefix: tuple[str | int, ...] = ()) -> frozenset[str]:
    """Paths of the values `is_secret` recognises (not descending into them): the `secret_keys` of a rule."""
    if prefix and is_secret(value):
        return frozenset({SEP.join(str(p) for p in prefix)})
    if isinstance(value, Mapping):
        return frozenset().union(*(secret_paths(v, is_secret, (*prefix, k)) for k, v in value.items()))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return frozenset().union(*(secret_paths(v, is_secret, (*prefix, i)) for i, v in enumerate(value)))
    return frozenset()


def _strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


# ------------------------------------------------------------------------------------ S3 model bucket

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_SSE_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def s3_bucket_private_encrypted_versioned(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                                          stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """S3 buckets hold the model bytes: never public, encrypted at rest, versioned (an overwritten or
    deleted model can be restored), never force-destroyed, and protected from `pulumi destroy` in prod."""
    problems: list[str] = []
    if resource_type == S3_PUBLIC_ACCESS_BLOCK:
        for flag in PUBLIC_ACCESS_FLAGS:
            value = props.get(flag)
            if value is not True and value is not UNKNOWN:
                problems.append(f"{flag} must be true (got {value!r}): all four public-access blocks stay on")
    elif resource_type == S3_ENCRYPTION:
        rules = props.get("rules")
        if rules is UNKNOWN:
            return []
        if not _items(rules):
            problems.append("rules: missing; set a default encryption rule (aws:kms with a bucket key, or AES256)")
        for i, rule in enumerate(_items(rules)):
            algorithm = _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if algorithm is not UNKNOWN and algorithm not in S3_SSE_ALGORITHMS:
                problems.append(f"rules[{i}].applyServerSideEncryptionByDefault.sseAlgorithm: got {algorithm!r}; "
                                f"use one of {', '.join(S3_SSE_ALGORITHMS)}")
            key_enabled = _get(rule, "bucketKeyEnabled")
            if key_enabled is not True and key_enabled is not UNKNOWN:
                problems.append(f"rules[{i}].bucketKeyEnabled: got {key_enabled!r}; enable the bucket key "
                                "(fewer KMS calls, lower cost)")
    elif resource_type == S3_VERSIONING:
        status = _get(props, "versioningConfiguration", "status")
        if status != "Enabled" and status is not UNKNOWN:
            problems.append(f"versioningConfiguration.status: got {status!r}; must be 'Enabled'")
    elif resource_type == S3_BUCKET:
        problems += _bucket_lifecycle(props, protect=protect, stack_env=stack_env)
    return problems


def _bucket_lifecycle(props: Mapping[str, Any], *, protect: bool, stack_env: str) -> list[str]:
    problems = []
    if props.get("forceDestroy") is True:
        problems.append("forceDestroy: true would let `pulumi destroy` delete every model object; leave it off")
    if stack_env == "prod" and not protect:
        problems.append("prod model bucket is not protected; set the `protect` resource option "
                        "(kserve-fluid:bucket.protect)")
    return problems


# ----------------------------------------------------------------------------------- OSS model bucket

OSS_BUCKET = "alicloud:oss/bucket:Bucket"
OSS_BUCKET_ACL = "alicloud:oss/bucketAcl:BucketAcl"
OSS_SSE_ALGORITHMS = ("KMS", "AES256")


def oss_bucket_private_encrypted_versioned(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                                           stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """The OSS twin of the S3 rule. The ACL may be left off the bucket when a separate BucketAcl sets
    it (the provider deprecated the inline `acl`); either way it must be private."""
    problems: list[str] = []
    if resource_type == OSS_BUCKET:
        acl = props.get("acl")
        if acl not in (None, "private", UNKNOWN):
            problems.append(f"acl: got {acl!r}; must be 'private' (or unset, with an oss.BucketAcl 'private')")
        algorithm = _get(props, "serverSideEncryptionRule", "sseAlgorithm")
        if algorithm not in (*OSS_SSE_ALGORITHMS, UNKNOWN):
            problems.append(f"serverSideEncryptionRule.sseAlgorithm: got {algorithm!r}; use one of "
                            f"{', '.join(OSS_SSE_ALGORITHMS)}")
        status = _get(props, "versioning", "status")
        if status not in ("Enabled", UNKNOWN):
            problems.append(f"versioning.status: got {status!r}; must be 'Enabled'")
        problems += _bucket_lifecycle(props, protect=protect, stack_env=stack_env)
    elif resource_type == OSS_BUCKET_ACL:
        acl = props.get("acl")
        if acl not in ("private", UNKNOWN):
            problems.append(f"acl: got {acl!r}; model buckets are 'private'")
    return problems


# ---------------------------------------------------------------------------------------- credentials

K8S_SECRET = "kubernetes:core/v1:Secret"
# Substrings of a Secret key (lower-cased, punctuation removed) that name a credential: AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, fs.oss.accessKeyId, fs.oss.accessKeySecret, fs.s3.accessKeySecret, HF_TOKEN, ...
CREDENTIAL_WORDS = ("accesskey", "secret", "token", "password")
ACCESS_KEY_PATTERNS = {
    "an AWS access key id": re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "an Alibaba Cloud AccessKey id": re.compile(r"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{12,}"),
}


def looks_like_credential(key: str) -> bool:
    squashed = re.sub(r"[^a-z0-9]", "", key.lower())
    return any(word in squashed for word in CREDENTIAL_WORDS)


def kubernetes_secret_credentials_are_secret(resource_type: str, props: Mapping[str, Any], *,
                                             protect: bool = False, stack_env: str = "dev",
                                             secret_keys: SecretKeys = frozenset()) -> list[str]:
    """A credential written into a Kubernetes Secret must come from a Pulumi secret (`pulumi config set
    --secret`, `pulumi.Output.secret`), so it is encrypted in the state and masked in every output."""
    if resource_type != K8S_SECRET:
        return []
    problems = []
    for field in ("stringData", "data"):
        entries = props.get(field)
        if not isinstance(entries, Mapping):
            continue
        for key, value in entries.items():
            if value is UNKNOWN or value in (None, "") or not looks_like_credential(str(key)):
                continue
            if not _under_secret((field, key), secret_keys):
                problems.append(f"{field}.{key}: a credential in plaintext; pass it as a Pulumi secret "
                                "(`pulumi config set --secret ...`, pulumi.Output.secret)")
    return problems


def no_literal_access_keys(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                           stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """No input anywhere may carry a cloud access key id in plaintext: one in the program or a stack
    file ends up in git and in the state. Keys from secret config are secrets and are not reported;
    base64 `data` of Kubernetes Secrets is decoded before the search. The key itself is never echoed."""
    problems = []
    for path, text in _strings(props):
        if _under_secret(path, secret_keys):
            continue
        candidates = [text]
        if resource_type == K8S_SECRET and len(path) == 2 and path[0] == "data":
            try:
                candidates.append(base64.b64decode(text, validate=True).decode("utf-8", errors="ignore"))
            except (binascii.Error, ValueError):
                pass
        for what, pattern in ACCESS_KEY_PATTERNS.items():
            if any(pattern.search(candidate) for candidate in candidates):
                problems.append(f"{_dotted(path)}: contains {what} in plaintext; use workload identity (IRSA/RRSA) "
                                "or a secret config value")
    return problems


# ------------------------------------------------------------------------------------------- clusters

EKS_CLUSTER = "eks:index:Cluster"
ACK_CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def eks_cluster_encrypted_private_in_prod(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                                          stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """EKS envelope-encrypts Kubernetes Secrets with a customer KMS key everywhere; a prod API server is
    private, or reachable only from an explicit CIDR list (the EKS default list is 0.0.0.0/0)."""
    if resource_type != EKS_CLUSTER:
        return []
    problems = []
    if props.get("encryptionConfigKeyArn") in (None, ""):
        problems.append("encryptionConfigKeyArn: missing; Kubernetes Secrets must be envelope-encrypted with a KMS key")
    if stack_env == "prod":
        public = props.get("endpointPublicAccess", True)  # the EKS default is a public endpoint
        cidrs = props.get("publicAccessCidrs")
        if public is not False and public is not UNKNOWN and cidrs is not UNKNOWN:
            listed = [c for c in _items(cidrs) if c is not UNKNOWN]
            if not listed or any(c in OPEN_CIDRS for c in listed):
                problems.append("prod API server is open to the internet; set endpointPublicAccess false "
                                "(kserve-fluid:cluster.endpointPublicAccess) or an explicit publicAccessCidrs list "
                                "without 0.0.0.0/0")
    return problems


def ack_cluster_encrypted_in_prod(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                                  stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """A prod ACK cluster encrypts Kubernetes Secrets with a KMS key (`encryptionProviderKey`)."""
    if resource_type != ACK_CLUSTER or stack_env != "prod":
        return []
    if props.get("encryptionProviderKey") in (None, ""):
        return ["encryptionProviderKey: missing; a prod ACK cluster encrypts Kubernetes Secrets with a KMS key"]
    return []


# ----------------------------------------------------------------------------------- InferenceService

INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_LABEL = "nvidia.com/gpu.present"
MAX_REPLICAS = 32


def _predictor(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``spec.predictor`` of an InferenceService; None for other resource types, or when absent or unknown."""
    if resource_type != INFERENCE_SERVICE:
        return None
    predictor = _get(props, "spec", "predictor")
    return predictor if isinstance(predictor, Mapping) else None


def _predictor_gpu_limits(predictor: Any) -> list[Any]:
    limits = [_get(predictor, "model", "resources", "limits", GPU_RESOURCE)]
    limits += [_get(c, "resources", "limits", GPU_RESOURCE) for c in _items(_get(predictor, "containers"))]
    return [v for v in limits if v is not None]


def gpu_inference_tolerates_taint_and_requests_gpus(resource_type: str, props: Mapping[str, Any], *,
                                                    protect: bool = False, stack_env: str = "dev",
                                                    secret_keys: SecretKeys = frozenset()) -> list[str]:
    """GPU nodes carry the nvidia.com/gpu taint (components/scheduling.py). A predictor that asks for a
    GPU must tolerate it or it never schedules (a cold start that never ends); a predictor pinned to GPU
    nodes must ask for a GPU or it holds an expensive node without using it."""
    predictor = _predictor(resource_type, props)
    if predictor is None:
        return []
    limits = _predictor_gpu_limits(predictor)
    if any(v is UNKNOWN for v in limits):
        return []
    requests_gpu = any((_number(v) or 0) > 0 for v in limits)
    problems = []
    tolerations = [t for t in _items(predictor.get("tolerations")) if isinstance(t, Mapping)]
    tolerates = any(t.get("key") == GPU_RESOURCE or (not t.get("key") and t.get("operator") == "Exists")
                    for t in tolerations)
    if requests_gpu and not tolerates:
        problems.append(f"spec.predictor requests {GPU_RESOURCE} but has no toleration for the {GPU_RESOURCE} "
                        "taint of the GPU nodes; add one (components/scheduling.toleration(GPU_TAINT))")
    if _get(predictor, "nodeSelector", GPU_NODE_LABEL) == "true" and not requests_gpu:
        problems.append(f"spec.predictor is pinned to GPU nodes ({GPU_NODE_LABEL}=true) but requests no "
                        f"{GPU_RESOURCE}; set resources.limits['{GPU_RESOURCE}']")
    return problems


def inference_replicas_bounded(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                               stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """Autoscaling needs a ceiling: each replica is a GPU node. KServe/Knative read a missing or 0
    maxReplicas as *unbounded*, so it must be set, between 1 and 32, and not below minReplicas."""
    predictor = _predictor(resource_type, props)
    if predictor is None:
        return []
    max_raw, min_raw = predictor.get("maxReplicas"), predictor.get("minReplicas")
    if max_raw is UNKNOWN:
        return []
    maximum = _number(max_raw)
    if maximum is None or not maximum.is_integer() or not 1 <= maximum <= MAX_REPLICAS:
        return [(f"spec.predictor.maxReplicas: got {max_raw!r}; set an integer from 1 to {MAX_REPLICAS} "
                "(missing or 0 means unbounded; kserve-fluid:inference.maxReplicas)")]
    minimum = _number(min_raw)
    if minimum is not None and minimum > maximum:
        return [f"spec.predictor.minReplicas {min_raw!r} exceeds maxReplicas {max_raw!r}"]
    return []


# ---------------------------------------------------------------------------------------------- Helm

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"
_RANGE = re.compile(r"[*^~<>=|\s]|latest", re.IGNORECASE)
_WILDCARD_PART = re.compile(r"(^|[.\-+])[xX](?=$|[.\-+])")


def helm_chart_version_pinned(resource_type: str, props: Mapping[str, Any], *, protect: bool = False,
                              stack_env: str = "dev", secret_keys: SecretKeys = frozenset()) -> list[str]:
    """Every chart installs one exact version, so a preview today deploys the same thing tomorrow and a
    version bump is a promoted release change (components/versions.py, release.versions)."""
    if resource_type not in (HELM_RELEASE, HELM_CHART_V4):
        return []
    version = props.get("version")
    if version is UNKNOWN:
        return []
    chart = props.get("chart") or "chart"
    if not isinstance(version, str) or not version.strip():
        return [f"{chart}: no version; pin an exact chart version"]
    if _RANGE.search(version) or _WILDCARD_PART.search(version):
        return [f"{chart}: version {version!r} is a range or tag, not one exact version"]
    return []


GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("s3-bucket-private-encrypted-versioned",
              "S3 model buckets block public access, encrypt (KMS/AES256 with a bucket key), keep versions, are "
              "never force-destroyed and are protected in prod.", s3_bucket_private_encrypted_versioned),
    Guardrail("oss-bucket-private-encrypted-versioned",
              "OSS model buckets are private, encrypted (KMS/AES256), versioned, never force-destroyed and "
              "protected in prod.", oss_bucket_private_encrypted_versioned),
    Guardrail("kubernetes-secret-credentials-are-secret",
              "Credentials in Kubernetes Secrets come from Pulumi secrets, never plaintext.",
              kubernetes_secret_credentials_are_secret),
    Guardrail("no-literal-access-keys",
              "No resource input carries an AWS or Alibaba Cloud access key id in plaintext.", no_literal_access_keys),
    Guardrail("eks-cluster-encrypted-private-in-prod",
              "EKS encrypts Secrets with KMS; a prod API server is private or CIDR-restricted.",
              eks_cluster_encrypted_private_in_prod),
    Guardrail("ack-cluster-encrypted-in-prod",
              "A prod ACK cluster encrypts Secrets with a KMS key.", ack_cluster_encrypted_in_prod),
    Guardrail("gpu-inference-tolerates-taint-and-requests-gpus",
              "GPU predictors tolerate the nvidia.com/gpu taint; predictors on GPU nodes request a GPU.",
              gpu_inference_tolerates_taint_and_requests_gpus),
    Guardrail("inference-replicas-bounded",
              f"InferenceService predictors set maxReplicas between 1 and {MAX_REPLICAS}, not below minReplicas.",
              inference_replicas_bounded),
    Guardrail("helm-chart-version-pinned",
              "Every Helm chart is installed at one exact, pinned version.", helm_chart_version_pinned),
)


def check_all(resource_type: str, props: Mapping[str, Any], *, protect: bool = False, stack_env: str = "dev",
              secret_keys: SecretKeys = frozenset()) -> list[str]:
    """Every guardrail on one resource, messages prefixed with the guardrail name."""
    return [f"{g.name}: {message}" for g in GUARDRAILS
            for message in g.check(resource_type, props, protect=protect, stack_env=stack_env,
                                   secret_keys=secret_keys)]
