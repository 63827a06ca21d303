"""Stack configuration -> one validated, typed `Settings` object.

This module is the one source of the configuration schema: every field carries its description and,
where a value has a shape, the words that say what is allowed. README's configuration reference and
Pulumi.yaml's declarations are generated from it (`python -m components.configdocs`).

Defaults come from three layers, later ones winning: the field defaults here, the cloud's defaults
(`components/<cloud>/defaults.py`) and the environment's (`ENVIRONMENT_DEFAULTS`); then the stack's own
values. Validation runs before any resource is created. Every problem is reported on its own line
naming the key as the stack file spells it, the value, and what is allowed, e.g.

    kserve-fluid:gpuPool.instanceType: got 'm5.large'; not a GPU instance type for aws: use one of g5.*, g6.*, g6e.*, g4dn.*, p4d.*, p5.*
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from components import names, versions

PROJECT = "kserve-fluid"
Environment = Literal["dev", "staging", "prod"]


class ConfigError(Exception):
    """Stack configuration is invalid. One line per problem, each naming the config key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n  " + "\n  ".join(problems))


# ---- value shapes, each with the words that say what is allowed -------------------------------------------


def _shape(check: Callable[[str], bool], allowed: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not check(value):
            raise ValueError(allowed)
        return value

    return AfterValidator(validate)


def _dns_label(max_length: int) -> AfterValidator:
    return _shape(
        lambda v: bool(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", v)) and len(v) <= max_length,
        f"a DNS label: at most {max_length} lowercase letters, digits and '-', starting and ending with a letter or digit",
    )


def _domain(value: str) -> bool:
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(
        re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", label) and len(label) <= 63 for label in labels
    )


def _https_url(value: str) -> bool:
    return bool(re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?", value))


def _cidr(value: str) -> str:
    """A network in CIDR notation with its host bits zero; the message says which part is wrong."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError("an IPv4 network in CIDR notation, e.g. 10.40.0.0/16 (four numbers 0-255 and a /prefix 0-32)") from None
    if network.version != 4:
        raise ValueError("an IPv4 network in CIDR notation, e.g. 10.40.0.0/16")
    if str(network) != value:
        raise ValueError(f"a network address with its host bits zero, i.e. {network}")
    return value


# A model name becomes the InferenceService and, with Fluid's suffixes, the cache's and the DataLoad's
# names: components/names.py derives the limit from Fluid's naming.
def _fits_fluid(value: str) -> str:
    for problem in names.name_problems(value):
        raise ValueError(problem)
    return value


ModelName = Annotated[str, _dns_label(63), AfterValidator(_fits_fluid)]
Namespace = Annotated[str, _dns_label(63)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Domain = Annotated[str, _shape(_domain, "a DNS domain of two or more labels, lowercase, e.g. models.example.org")]
HttpsUrl = Annotated[str, _shape(_https_url, "an https:// URL, e.g. https://auth.example.org/")]
Sha256 = Annotated[str, _shape(lambda v: bool(re.fullmatch(r"[0-9a-f]{64}", v)), "64 lowercase hex digits (a sha256)")]
CommitSha = Annotated[str, _shape(lambda v: bool(re.fullmatch(r"[0-9a-f]{40}", v)), "a git commit: 40 lowercase hex digits")]
Quantity = Annotated[str, _shape(lambda v: bool(re.fullmatch(r"\d+(\.\d+)?(m)?", v)), "a CPU quantity: a number of cores (e.g. 4, 0.5) or millicores (e.g. 500m)")]
Memory = Annotated[str, _shape(lambda v: bool(re.fullmatch(r"\d+(Mi|Gi)", v)), "a memory quantity in Mi or Gi, e.g. 24Gi")]
InstanceType = Annotated[str, _shape(lambda v: bool(re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)+", v)), "an instance type such as g5.xlarge or ecs.gn6i-c16g1.4xlarge (no spaces)")]


def image_reference(value: str) -> str:
    """`registry/repo:tag`, `repo@sha256:…` or both; `latest` and missing tags are refused."""
    name, _, digest = value.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise ValueError("an image reference whose digest is sha256: followed by 64 hex digits")
    if not digest and (not tag or tag == "latest"):
        raise ValueError("an image with a pinned tag or digest, e.g. kserve/huggingfaceserver:v0.20.0-gpu (not latest)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", name) or " " in value:
        raise ValueError("an image reference: lowercase registry/repository:tag, no spaces")
    return value


ImageRef = Annotated[str, AfterValidator(image_reference)]


def _doc(description: str, default: Any = ..., **kwargs: Any) -> Any:
    return Field(default, description=description, **kwargs)


class Section(BaseModel):
    """Base for config sections: camelCase keys as in the stack files, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


# ---- the release: promoted unchanged dev -> staging -> prod ------------------------------------------------


class ModelSource(Section):
    """What model to serve and where its files come from."""

    name: ModelName = _doc("Served model name; also names the InferenceService, the cache and the bucket path.")
    source: str = _doc("`hf://<org>/<repo>` (ingested in the cluster) or a local directory (uploaded from where `pulumi up` runs).", min_length=1)
    revision: str | None = _doc("Hugging Face commit sha (40 hex; required in staging/prod) or, in dev, a branch resolved to its commit at every `up`.", None)
    include: tuple[str, ...] = _doc("Globs of files to take, e.g. `*.safetensors`.", ())
    exclude: tuple[str, ...] = _doc("Globs of files to skip, e.g. `original/**`.", ())
    size_gi: float = _doc("Model size in GiB: sizes the cache, the ingest scratch disk and every wait.", gt=0, le=2048)
    digest: Sha256 | None = _doc("Local sources: the manifest sha256 the upload must produce (required in staging/prod, printed by the uploader).", None)

    @property
    def from_hugging_face(self) -> bool:
        return self.source.startswith("hf://")

    @property
    def hf_repo(self) -> str:
        return self.source.removeprefix("hf://")

    @property
    def pinned(self) -> bool:
        """The bytes are fixed by the release itself: a commit sha, or a local manifest digest."""
        if self.from_hugging_face:
            return bool(re.fullmatch(r"[0-9a-f]{40}", self.revision or ""))
        return self.digest is not None

    @model_validator(mode="after")
    def _source_is_usable(self) -> ModelSource:
        if self.from_hugging_face:
            if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", self.hf_repo):
                raise ValueError(f"source: got {self.source!r}; a Hugging Face source is hf://<org>/<repo>")
            if not self.revision:
                raise ValueError("revision: missing; a Hugging Face source needs a revision (a 40-hex commit sha, or in dev a branch)")
        elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", self.source):
            raise ValueError(f"source: got {self.source!r}; use hf://<org>/<repo> or a local directory path")
        elif self.revision:
            raise ValueError(f"revision: got {self.revision!r}; only a Hugging Face source has a revision (a local directory is pinned by digest)")
        return self


class Release(Section):
    """The block promoted unchanged from dev to staging to prod (`python -m tools.promote`)."""

    model: ModelSource = _doc("The model, see `release.model.*`.")
    serving_image: ImageRef = _doc("Serving image (KServe's vLLM-backed Hugging Face server); `@sha256:` digest recommended in staging/prod.", versions.SERVING_IMAGE)
    versions: dict[str, str] = _doc("Overrides of `components/versions.py` (chart and Knative versions), promoted with the release.", {})
    program: CommitSha | None = _doc("The commit of this repository the stack deploys (written by `tools.promote` from the commit the previous stage ran); unset: the deploying commit.", None)

    @model_validator(mode="after")
    def _known_versions(self) -> Release:
        allowed = sorted([*versions.CHARTS, "knativeServing"])
        for key, value in self.versions.items():
            if key not in allowed:
                raise ValueError(f"versions: got {key!r}; not a component this project pins: use one of {', '.join(allowed)}")
            if not versions.is_exact(key, value):
                raise ValueError(f"versions: got {key}: {value!r}; an exact version with three numbers, e.g. {versions.example(key)}")
        return self

    def digest(self) -> str:
        """Identity of this release as configured: the InferenceService carries it, promotion compares it."""
        canonical = json.dumps(self.model_dump(by_alias=True, mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))
        import hashlib

        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---- the environment: sizing and safety of one stack --------------------------------------------------------


class ClusterSettings(Section):
    """The Kubernetes cluster and its network."""

    name: str = _doc("Cluster name; prefixes every cloud resource.", "kserve-fluid", min_length=2, max_length=38)
    kubernetes_version: str = _doc("Kubernetes minor, e.g. 1.35; checked against the cloud's supported versions.", "")
    vpc_cidr: Cidr = _doc("VPC range; /20 subnets are carved per zone.", "10.40.0.0/16")
    zones: int = _doc("Number of availability zones.", 2, ge=2, le=4)
    zone_ids: tuple[str, ...] = _doc("Pin the zones by id (e.g. cn-hangzhou-h); unset: chosen from the zones that sell the GPU type.", ())
    endpoint_public_access: bool = _doc("Public Kubernetes API endpoint (staging and prod: private, deployed from inside the VPC).", True)
    public_access_cidrs: tuple[Cidr, ...] = _doc("Who may reach a public API endpoint.", ("0.0.0.0/0",))
    log_types: tuple[Literal["api", "audit", "authenticator", "controllerManager", "scheduler"], ...] = _doc("EKS control-plane logs.", ("api", "audit", "authenticator"))
    log_retention_days: int = _doc("Retention of control-plane logs.", 30, ge=1, le=3653)
    admins: tuple[str, ...] = _doc("IAM principal ARNs given cluster-admin (EKS access entries) besides the creator.", ())
    viewers: tuple[str, ...] = _doc("IAM principal ARNs given read-only cluster access.", ())
    deployer: bool = _doc("Create an in-VPC deployer instance (SSM, no inbound ports) to run `pulumi up` against a private API server.", False)
    deletion_protection: bool = _doc("Deletion protection of the cluster (EKS, ACK) and `protect` on its Secrets key (prod: on); to tear down, set false, `up`, then destroy.", False)
    context: str | None = _doc("cloud existing only: kubeconfig context.", None)


class NodePoolSettings(Section):
    """A node pool: systemPool (operators), gpuPool (serving), cachePool (Fluid workers)."""

    instance_type: InstanceType = _doc("Instance type; GPU pools take the cloud's GPU families.")
    min_size: int = _doc("Minimum nodes (0: scale from zero).", 0, ge=0, le=100)
    desired_size: int = _doc("Nodes at creation (the autoscaler owns it after).", 0, ge=0, le=100)
    max_size: int = _doc("Maximum nodes.", 1, ge=1, le=100)
    disk_size_gi: int = _doc("Root/system disk, encrypted.", 200, ge=50, le=16384)
    disk_throughput_mi_bps: int = _doc("gp3 throughput (AWS); at most IOPS/4.", 250, ge=125, le=1000)
    disk_iops: int = _doc("gp3 IOPS (AWS).", 6000, ge=3000, le=16000)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = _doc("On-demand or spot capacity.", "ON_DEMAND")
    dedicated: bool = _doc("cachePool: taint the pool so only cache workers land there.", True)

    @model_validator(mode="after")
    def _sizes(self) -> NodePoolSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(f"desiredSize: got {self.desired_size}; between minSize ({self.min_size}) and maxSize ({self.max_size})")
        if self.disk_throughput_mi_bps * 4 > self.disk_iops:
            raise ValueError(f"diskThroughputMiBps: got {self.disk_throughput_mi_bps}; at most diskIops / 4 = {self.disk_iops // 4} (gp3 allows 0.25 MiB/s per provisioned IOPS)")
        return self


class BucketSettings(Section):
    """The model bucket (created here, or yours with cloud existing)."""

    name: str | None = _doc("Fixed bucket name (checked against the cloud's naming rules); unset: derived and unique.", None)
    prefix: str = _doc("Models live at `<prefix>/<model>/<version>/`; IAM/RAM policies are scoped to it.", "models")
    protect: bool = _doc("Protect and retain the bucket and its key: `pulumi destroy` never deletes models (default: on, unless forceDestroy is set).", True)
    kms: bool = _doc("Customer-managed KMS key (with an S3 bucket key) instead of AES256.", True)
    noncurrent_version_days: int = _doc("Expire overwritten object versions after N days.", 30, ge=1)
    force_destroy: bool = _doc("dev only: `pulumi destroy` empties and deletes the bucket and its key (every model in it).", False)
    url: str | None = _doc("cloud existing: the model bucket, s3://<bucket> or oss://<bucket>.", None)
    region: str | None = _doc("cloud existing: the bucket's region.", None)
    endpoint: str | None = _doc("cloud existing, OSS: the bucket's endpoint host.", None)
    read_role: str | None = _doc("cloud existing: role the cache and baseline read with (IAM ARN / RAM role name).", None)
    write_role: str | None = _doc("cloud existing: role the ingest Job writes with.", None)

    @model_validator(mode="before")
    @classmethod
    def _disposable_only_when_asked(cls, data: Any) -> Any:
        """A bucket is protected unless the stack asks for a disposable one: never half-way, where `destroy`
        would strip its encryption and policy and then fail on the objects it still holds."""
        if isinstance(data, dict) and not ({"protect"} & data.keys()) and (data.get("forceDestroy") or data.get("force_destroy")):
            return {**data, "protect": False}
        return data

    @model_validator(mode="after")
    def _prefix(self) -> BucketSettings:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*", self.prefix):
            raise ValueError(f"prefix: got {self.prefix!r}; path segments of letters, digits, '.', '_' and '-', separated by '/', without a leading or trailing '/'")
        return self


class CacheLevel(Section):
    """One tier of the Fluid cache on each cache node."""

    medium: Literal["MEM", "SSD", "HDD"] = _doc("Tier medium.", "SSD")
    path: str | None = _doc("Where the tier lives on the cache node; unset: on its instance-store NVMe when it has one, else /mnt/cache.", None, pattern=r"^/")
    quota_gi: float = _doc("Capacity of this tier per worker.", 100, gt=0)
    high: float = _doc("High watermark (eviction starts).", 0.95, gt=0, le=1)
    low: float = _doc("Low watermark (eviction stops).", 0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _watermarks(self) -> CacheLevel:
        if self.low >= self.high:
            raise ValueError(f"low: got {self.low}; below the high watermark ({self.high})")
        return self


class CacheSettings(Section):
    """The Fluid cache in front of the bucket."""

    runtime: Literal["", "jindo", "alluxio"] = _doc("Fluid runtime; unset: the cloud's default (the one whose client can read that cloud's bucket).", "")
    replicas: int = _doc("Cache workers, one per cache node.", 2, ge=1, le=64)
    levels: tuple[CacheLevel, ...] = _doc("Tiers: `medium`, `path`, `quotaGi`, `high`, `low`.", (CacheLevel(),))
    dataload_replicas: int = _doc("Cached copies the DataLoad prefetches (at most `replicas`).", 1, ge=1)
    credentials: Literal["keyless", "static"] = _doc("keyless: the cloud identity path; static: the secrets storageAccessKeyId/SecretAccessKey.", "keyless")

    @property
    def capacity_gi(self) -> float:
        return sum(level.quota_gi for level in self.levels) * self.replicas

    @model_validator(mode="after")
    def _replicas(self) -> CacheSettings:
        if not self.levels:
            raise ValueError("levels: empty; at least one cache tier is needed")
        if self.dataload_replicas > self.replicas:
            raise ValueError(f"dataloadReplicas: got {self.dataload_replicas}; at most cache.replicas ({self.replicas}): a copy per worker is the most the cache can hold")
        return self


class InferenceSettings(Section):
    """The KServe InferenceService and its vLLM engine."""

    namespace: Namespace = _doc("Namespace of the cache, ingest and service.", "models")
    min_replicas: int = _doc("0 scales to zero.", 0, ge=0, le=32)
    max_replicas: int = _doc("Upper bound of replicas.", 1, ge=1, le=32)
    scale_metric: Literal["concurrency", "rps"] = _doc("Knative autoscaling metric.", "concurrency")
    scale_target: int = _doc("Target per pod of that metric.", 4, ge=1)
    timeout_seconds: int = _doc("Request timeout, including a cold start; also Knative's max revision timeout.", 1800, ge=30, le=3600)
    gpus: int = _doc("GPUs per replica (tensor parallel size).", 1, ge=1, le=8)
    cpu: Quantity = _doc("CPU per replica.", "4")
    memory: Memory = _doc("Memory per replica.", "16Gi")
    max_model_len: int = _doc("vLLM --max-model-len.", 2048, ge=128)
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = _doc("vLLM --dtype.", "auto")
    gpu_memory_utilization: float = _doc("vLLM --gpu-memory-utilization.", 0.9, gt=0.1, le=0.99)
    eager: bool = _doc("vLLM --enforce-eager: no torch.compile or CUDA-graph capture at start (faster cold start, some throughput).", True)
    warmup_jobs: int = _doc("Parallel readers that pull the weights into the page cache while the server starts (0: off).", 16, ge=0, le=256)
    extra_args: tuple[str, ...] = _doc("More vLLM arguments.", ())
    baseline: bool = _doc("Also deploy `<model>-baseline` reading through KServe's storage initializer (S3), for the A/B cold start.", False)
    serverless: bool = _doc("alicloud: serve on ACK virtual nodes (ECI); needs platform.fluidSource ack-addon.", False)

    @model_validator(mode="after")
    def _replicas(self) -> InferenceSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas: got {self.min_replicas}; at most maxReplicas ({self.max_replicas})")
        return self


class InstallSwitches(Section):
    """Turn a platform piece off when the cluster already has it (or the cloud manages it)."""

    cert_manager: bool = _doc("cert-manager.", True)
    istio: bool = _doc("Istio (base, istiod, gateway).", True)
    knative: bool = _doc("Knative Serving (operator).", True)
    kserve: bool = _doc("KServe.", True)
    fluid: bool = _doc("Fluid.", True)
    nvidia_device_plugin: bool = _doc("NVIDIA device plugin (ACK ships its own).", True)
    cluster_autoscaler: bool = _doc("Cluster Autoscaler (AWS).", True)


class PlatformSettings(Section):
    """The serving platform: Knative, KServe, Fluid, the mesh."""

    domain: Domain = _doc("Knative domain; hosts are `<isvc>.<namespace>.<domain>`.", "example.com")
    mesh: Literal["istio", "asm"] = _doc("Self-installed Istio, or Alibaba Service Mesh.", "istio")
    fluid_source: Literal["chart", "ack-addon"] = _doc("Open-source Fluid chart, or ACK's ack-fluid add-on (never both).", "chart")
    install: InstallSwitches = _doc("Skip parts the cluster already has: `platform.install.<part>: false`.", InstallSwitches())
    progress_deadline_seconds: int = _doc("Knative progress deadline for a revision's first pod.", 1800, ge=600, le=7200)
    scale_to_zero_grace_seconds: int = _doc("Knative scale-to-zero grace period.", 30, ge=0, le=3600)
    stable_window_seconds: int = _doc("Knative stable window: idle this long before scaling down.", 60, ge=6, le=3600)
    gpu_node_idle_minutes: int = _doc("How long the autoscaler keeps an idle GPU node before removing it.", 10, ge=1, le=1440)
    asm_cluster_spec: Literal["enterprise", "ultimate"] = _doc("ASM instance spec (data-plane KubeAPI access to Istio resources needs enterprise).", "enterprise")
    hf_endpoint: HttpsUrl | None = _doc("Hugging Face mirror for the ingest Job (HF_ENDPOINT), e.g. https://hf-mirror.com.", None)

    @property
    def scale_to_zero_seconds(self) -> int:
        """How long after the last request an idle service is at zero: Knative's stable window, then the grace."""
        return self.stable_window_seconds + self.scale_to_zero_grace_seconds


class EndpointSettings(Section):
    """Who may call the model, and over what."""

    auth: Literal["none", "jwt"] = _doc("jwt: every request needs a valid token; none: open to endpoint.allowedCidrs.", "jwt")
    jwt_issuer: str | None = _doc("Token issuer (`iss`): an https:// URL, or `cluster` for this cluster's own service-account tokens (output tokenCommand).", "cluster")
    jwks_uri: HttpsUrl | None = _doc("The issuer's JWKS URL; unset: discovered from the issuer.", None)
    audiences: tuple[str, ...] = _doc("Accepted token audiences (`aud`).", ("kserve-fluid",))
    tls: bool = _doc("HTTPS on the gateway (HTTP redirects); certificates from endpoint.tlsIssuer or this stack's private CA.", True)
    tls_issuer: str | None = _doc("cert-manager ClusterIssuer that signs the certificate (yours, e.g. ACME DNS-01); unset: a private CA this stack creates.", None)
    allowed_cidrs: tuple[Cidr, ...] = _doc("Who may reach the gateway's load balancer; required with auth none (e.g. your egress CIDR).", ())

    @property
    def cluster_tokens(self) -> bool:
        """Callers authenticate with this cluster's own service-account tokens."""
        return self.auth == "jwt" and self.jwt_issuer == "cluster"

    @model_validator(mode="after")
    def _jwt(self) -> EndpointSettings:
        if self.auth == "jwt" and not self.jwt_issuer:
            raise ValueError("jwtIssuer: missing; auth 'jwt' needs an https:// issuer URL, or 'cluster' for this cluster's service-account tokens")
        if self.jwt_issuer and self.jwt_issuer != "cluster" and not _https_url(self.jwt_issuer):
            raise ValueError(f"jwtIssuer: got {self.jwt_issuer!r}; an https:// URL (the token's iss claim), or 'cluster'")
        if self.auth == "jwt" and not self.audiences:
            raise ValueError("audiences: empty; with auth 'jwt' name the audiences a token must carry")
        if self.tls_issuer is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", self.tls_issuer):
            raise ValueError(f"tlsIssuer: got {self.tls_issuer!r}; the name of a cert-manager ClusterIssuer (lowercase letters, digits, '-', '.')")
        return self


class ImageSettings(Section):
    """Where images are pulled from: one place to point every one at a mirror."""

    registries: dict[str, str] = _doc("Mirror per source registry, e.g. {docker.io: <account>.dkr.ecr.<region>.amazonaws.com/docker-hub}; every chart's and runtime image follows it.", {})
    pull_through_cache: bool = _doc("aws: create ECR pull-through caches for public.ecr.aws, registry.k8s.io and quay.io (and docker.io, ghcr.io with credentials) and pull through them.", False)
    pull_through_credentials: dict[str, str] = _doc("aws: Secrets Manager secret ARN per registry that needs one (docker.io, ghcr.io); the secret's name begins with ecr-pullthroughcache/.", {})

    @model_validator(mode="after")
    def _registries(self) -> ImageSettings:
        for source, mirror in self.registries.items():
            if source not in versions.SOURCE_REGISTRIES:
                raise ValueError(f"registries: got {source!r}; not a registry this project pulls from: use one of {', '.join(versions.SOURCE_REGISTRIES)}")
            if "://" in mirror or mirror.endswith("/") or " " in mirror:
                raise ValueError(f"registries: got {source}: {mirror!r}; a registry host and optional path, without a scheme or trailing '/'")
        return self


SECRET_KEYS = ("kubeconfig", "hfToken", "storageAccessKeyId", "storageSecretAccessKey")
SECTIONS = ("release", "cluster", "systemPool", "gpuPool", "cachePool", "bucket", "cache", "inference", "platform", "endpoint", "images")
SCALARS = ("cloud", "environment")


class Settings(Section):
    """Everything the program needs, validated as a whole."""

    project: str = PROJECT
    stack: str
    cloud: str
    environment: Environment = _doc("dev, staging or prod: sets the safety defaults (protection, private API, auth, TLS).", "dev")
    region: str | None
    release: Release
    cluster: ClusterSettings
    system_pool: NodePoolSettings
    gpu_pool: NodePoolSettings
    cache_pool: NodePoolSettings
    bucket: BucketSettings
    cache: CacheSettings
    inference: InferenceSettings
    platform: PlatformSettings
    endpoint: EndpointSettings
    images: ImageSettings
    kubeconfig: Any = Field(None, exclude=True, repr=False)
    hf_token: Any = Field(None, exclude=True, repr=False)
    storage_access_key_id: Any = Field(None, exclude=True, repr=False)
    storage_secret_access_key: Any = Field(None, exclude=True, repr=False)

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def pinned(self) -> bool:
        """Staging and prod serve exactly the bytes and images that were tested."""
        return self.environment in ("staging", "prod")

    @property
    def chart_versions(self) -> dict[str, versions.Chart]:
        return versions.chart_versions(self.release.versions)

    @property
    def knative_serving_version(self) -> str:
        return self.release.versions.get("knativeServing", versions.KNATIVE_SERVING)


# Production is safe by default: models survive `pulumi destroy`, the API server is private, the endpoint
# authenticated and encrypted.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {},
    # staging rehearses prod: a private API server reached from the in-VPC deployer (models protected by default)
    "staging": {"cluster": {"endpointPublicAccess": False, "publicAccessCidrs": [], "deployer": True}},
    "prod": {"cluster": {"endpointPublicAccess": False, "publicAccessCidrs": [], "deployer": True, "deletionProtection": True}},
}

SECTION_MODELS: dict[str, type[Section]] = {
    "release": Release, "cluster": ClusterSettings, "systemPool": NodePoolSettings, "gpuPool": NodePoolSettings,
    "cachePool": NodePoolSettings, "bucket": BucketSettings, "cache": CacheSettings, "inference": InferenceSettings,
    "platform": PlatformSettings, "endpoint": EndpointSettings, "images": ImageSettings,
}


# ---- error lines -------------------------------------------------------------------------------------------


def key_path(loc: tuple) -> str:
    """('cache', 'levels', 0, 'medium') -> 'cache.levels[0].medium', as `pulumi config set --path` spells it."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: dict) -> str:
    """One line for one pydantic error: key, value, what is allowed."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    key = f"{PROJECT}:{key_path(loc)}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"{key}: unknown key; {hint}allowed here: {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"{key}: missing; this key is required"
    value = error.get("input")
    if error["type"] == "value_error" and isinstance(value, dict):
        # a rule of a whole section: its message starts with the field it is about ("minReplicas: got 3; ...")
        field, _, rest = message.partition(": ")
        if field in _fields_at(loc):
            return f"{key}.{field}: {rest}"
        return f"{key}: {message}"
    return f"{key}: got {value!r}; {message}"


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at a path of the stack config (for 'unknown key' messages)."""
    if not loc:
        return [*SCALARS, *SECTIONS]
    model: type[BaseModel] | None = SECTION_MODELS.get(str(loc[0]))
    for part in loc[1:]:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        model = _model_of(field.annotation) if field else None
    return sorted(f.alias or n for n, f in model.model_fields.items()) if model else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


# ---- building Settings -------------------------------------------------------------------------------------


def merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class Raw:
    """The stack's own values, to say whether a value came from the stack file or from a default."""

    def __init__(self, values: dict[str, Any]):
        self.values = values

    def has(self, path: str) -> bool:
        node: Any = self.values
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def origin(self, path: str, value: Any) -> str:
        """`cachePool.maxSize = 4`, with `(the default: cachePool.maxSize is not set)` when the stack did not set it."""
        shown = f"{path} = {value}"
        return shown if self.has(path) else f"{shown} (the default: {path} is not set in the stack)"


def build_settings(raw: dict[str, Any], stack: str, region: str | None = None,
                   secrets: dict[str, Any] | None = None, provider_config: dict[str, Any] | None = None) -> Settings:
    """Validate raw stack config (project keys without the `kserve-fluid:` prefix) into Settings, or raise
    ConfigError with every problem found. `provider_config` holds the stack's other namespaces (`aws:region`)."""
    from components import checks, clouds

    problems: list[str] = []
    cloud_name = raw.get("cloud") or ""
    environment = raw.get("environment") or "dev"
    cloud = clouds.CLOUDS.get(cloud_name)
    if cloud is None:
        shown = "missing" if not cloud_name else f"got {cloud_name!r}"
        problems.append(f"{PROJECT}:cloud: {shown}; set it to one of {', '.join(clouds.CLOUDS)}")
    if environment not in ENVIRONMENT_DEFAULTS:
        problems.append(f"{PROJECT}:environment: got {environment!r}; use one of dev, staging, prod")
    structural = [f"{PROJECT}:{key}: got {raw[key]!r}; a map of keys (see docs/configuration.md)"
                  for key in SECTIONS if key in raw and not isinstance(raw[key], dict)]
    if cloud is None or environment not in ENVIRONMENT_DEFAULTS or structural:
        raise ConfigError(problems + structural)
    allowed = [*SCALARS, *SECTIONS, *SECRET_KEYS]
    for key in sorted(set(raw) - set(allowed)):
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problems.append(f"{PROJECT}:{key}: unknown key; {hint}allowed: {', '.join(allowed)}")
    problems += checks.provider_keys(cloud, provider_config or {})

    user = {k: raw[k] for k in SECTIONS if k in raw}
    merged = merge(merge(cloud.defaults, ENVIRONMENT_DEFAULTS[environment]), user)
    if merged.get("platform", {}).get("fluidSource") == "ack-addon" and not Raw(user).has("platform.install.fluid"):
        merged.setdefault("platform", {}).setdefault("install", {})["fluid"] = False  # the add-on replaces the chart
    for section in SECTIONS:
        merged.setdefault(section, {})
    secrets = {k: v for k, v in (secrets or {}).items() if v not in (None, "")}
    try:
        settings = Settings.model_validate({
            "stack": stack, "cloud": cloud_name, "environment": environment, "region": region, **merged,
            "kubeconfig": secrets.get("kubeconfig"), "hfToken": secrets.get("hfToken"),
            "storageAccessKeyId": secrets.get("storageAccessKeyId"),
            "storageSecretAccessKey": secrets.get("storageSecretAccessKey")})
    except ValidationError as e:
        raise ConfigError(problems + [_describe(err) for err in e.errors()]) from None
    problems += checks.cross_checks(settings, Raw(user)) + cloud.validate(settings, Raw(user))
    if problems:
        raise ConfigError(problems)
    return settings


def _namespaced(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `ns:key` config into this project's keys and every other namespace's."""
    own, others = {}, {}
    for full, value in config.items():
        ns, _, key = full.partition(":")
        (own if ns == PROJECT else others)[key if ns == PROJECT else full] = value
    return own, others


def _all_config() -> dict[str, Any]:
    """Every config key the engine passed to this program (PULUMI_CONFIG), or the test harness set."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _parse(key: str, value: Any) -> Any:
    if key in SECTIONS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # reported as "not a map" with the value the user wrote
    return value


def load() -> Settings:
    """Read every key of the current stack through the Pulumi runtime and validate it."""
    import pulumi

    own, others = _namespaced(_all_config())
    secrets: dict[str, Any] = {}
    cfg = pulumi.Config(PROJECT)
    for key in SECRET_KEYS:
        if own.pop(key, None):  # Pulumi.yaml declares each with default "": empty means unset
            secrets[key] = cfg.get_secret(key)
    raw = {key: _parse(key, value) for key, value in own.items()}
    cloud = raw.get("cloud")
    region = others.get(f"{cloud}:region") if cloud in ("aws", "alicloud") else None
    return build_settings(raw, pulumi.get_stack(), region=region, secrets=secrets, provider_config=others)


def local_path(source: str) -> Path:
    """A local model source, relative to the project directory (where Pulumi runs the program)."""
    return Path(source).expanduser()
