"""Stack configuration -> one validated, typed `Settings` object.

Defaults live here, per cloud and per environment; stacks override them. Validation runs before any
resource is created, and every problem is reported on its own line naming the stack-config key, the
value it got and what is allowed, e.g.

    kserve-fluid:gpuPool.instanceType: got 'm5.large'; not a GPU instance type for aws, use one of g5.*, g6.*, g6e.*, g4dn.*, p4d.*, p5.*
"""
from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from components import versions

PROJECT = "kserve-fluid"

Cloud = Literal["aws", "alicloud", "existing"]
Environment = Literal["dev", "staging", "prod"]

GPU_INSTANCE_PATTERNS = {
    "aws": ("g5.*", "g6.*", "g6e.*", "g4dn.*", "p4d.*", "p5.*"),
    "alicloud": ("ecs.gn*",),
}


class ConfigError(Exception):
    """Stack configuration is invalid. One line per problem, each naming the config key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n  " + "\n  ".join(problems))


class Section(BaseModel):
    """Base for config sections: camelCase keys as in the stack files, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ModelSource(Section):
    """What model to serve and where its files come from (part of the promoted release)."""

    # a DNS label short enough that "<name>-ingest-<10 hex>" and "<name>-warm-<10 hex>" stay within 63
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=45)
    source: str = Field(min_length=1)
    revision: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    size_gi: float = Field(gt=0)

    @property
    def from_hugging_face(self) -> bool:
        return self.source.startswith("hf://")

    @property
    def hf_repo(self) -> str:
        return self.source.removeprefix("hf://")

    @model_validator(mode="after")
    def _source_is_usable(self) -> ModelSource:
        if self.from_hugging_face:
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.hf_repo):
                raise ValueError(f"source {self.source!r} is not hf://<org>/<repo>")
            if not self.revision:
                raise ValueError("revision: missing; a Hugging Face source needs a revision (a 40-hex commit sha; "
                                 "dev stacks may name a branch)")
        elif "://" in self.source:
            raise ValueError(f"source {self.source!r}: use hf://<org>/<repo> or a local directory path")
        return self


class Release(Section):
    """The block promoted unchanged from dev to staging to prod (`python -m tools.promote`)."""

    model: ModelSource
    serving_image: str = versions.SERVING_IMAGE
    versions: dict[str, str] = {}

    @model_validator(mode="after")
    def _known_versions(self) -> Release:
        allowed = sorted([*versions.CHARTS, "knativeServing"])
        for key, value in self.versions.items():
            if key not in allowed:
                raise ValueError(f"versions.{key}: unknown component; allowed: {', '.join(allowed)}")
            if not value or value in ("latest", "*") or "*" in value or "x" in value.split("."):
                raise ValueError(f"versions.{key}: {value!r} is not a pinned version")
        if self.serving_image.endswith(":latest") or ":" not in self.serving_image.rsplit("/", 1)[-1]:
            raise ValueError(f"servingImage {self.serving_image!r} must carry a pinned tag or digest, not latest")
        return self


class ClusterSettings(Section):
    name: str = Field("kserve-fluid", pattern=r"^[a-z][-a-z0-9]{1,38}$")
    kubernetes_version: str = Field("1.33", pattern=r"^1\.\d{2}$")
    vpc_cidr: str = Field("10.40.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/\d+$")
    zones: int = Field(2, ge=2, le=4)
    endpoint_public_access: bool = True
    public_access_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    log_types: tuple[Literal["api", "audit", "authenticator", "controllerManager", "scheduler"], ...] = (
        "api", "audit", "authenticator")
    # existing cloud only: kubeconfig context; the kubeconfig itself is the secret key `kubeconfig`
    context: str | None = None


class NodePoolSettings(Section):
    instance_type: str
    min_size: int = Field(0, ge=0)
    desired_size: int = Field(0, ge=0)
    max_size: int = Field(1, ge=1)
    disk_size_gi: int = Field(200, ge=50, le=16384)
    disk_throughput_mi_bps: int = Field(250, ge=125, le=1000)
    disk_iops: int = Field(6000, ge=3000, le=16000)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    # cache pool only: keep everything but cache workers off these nodes
    dedicated: bool = True

    @model_validator(mode="after")
    def _sizes(self) -> NodePoolSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(f"minSize {self.min_size} <= desiredSize {self.desired_size} <= maxSize "
                             f"{self.max_size} must hold")
        return self


class BucketSettings(Section):
    # None: derived from the stack name; set to adopt a fixed, globally unique name
    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = Field("models", pattern=r"^[A-Za-z0-9][\w./-]*[^/]$")
    protect: bool = False
    kms: bool = True
    noncurrent_version_days: int = Field(30, ge=1)
    # existing cloud: the bucket is not created, it is read through these
    url: str | None = Field(None, pattern=r"^(s3|oss)://[a-z0-9][a-z0-9.-]+[a-z0-9]/?$")
    region: str | None = None
    endpoint: str | None = None
    read_role: str | None = None
    write_role: str | None = None


class CacheLevel(Section):
    medium: Literal["MEM", "SSD", "HDD"] = "SSD"
    path: str = Field("/mnt/cache", pattern=r"^/")
    quota_gi: float = Field(100, gt=0)
    high: float = Field(0.95, gt=0, le=1)
    low: float = Field(0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _watermarks(self) -> CacheLevel:
        if self.low >= self.high:
            raise ValueError(f"low watermark {self.low} must be below high watermark {self.high}")
        return self


class CacheSettings(Section):
    runtime: Literal["jindo"] = "jindo"
    replicas: int = Field(2, ge=1, le=64)
    levels: tuple[CacheLevel, ...] = (CacheLevel(),)
    dataload_replicas: int = Field(1, ge=1)
    download_concurrency: int = Field(32, ge=1, le=256)
    credentials: Literal["keyless", "static"] = "keyless"

    @property
    def capacity_gi(self) -> float:
        return sum(level.quota_gi for level in self.levels) * self.replicas

    @model_validator(mode="after")
    def _replicas(self) -> CacheSettings:
        if self.dataload_replicas > self.replicas:
            raise ValueError(f"dataloadReplicas {self.dataload_replicas} exceeds cache replicas {self.replicas}: "
                             "a copy per worker is the most the cache can hold")
        if not self.levels:
            raise ValueError("levels: at least one cache tier is needed")
        return self


class InferenceSettings(Section):
    namespace: str = Field("models", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    min_replicas: int = Field(0, ge=0)
    max_replicas: int = Field(1, ge=1, le=32)
    scale_metric: Literal["concurrency", "rps"] = "concurrency"
    scale_target: int = Field(4, ge=1)
    timeout_seconds: int = Field(600, ge=30, le=3600)
    gpus: int = Field(1, ge=1, le=8)
    cpu: str = Field("4", pattern=r"^\d+(m|\.\d+)?$")
    memory: str = Field("16Gi", pattern=r"^\d+(Mi|Gi)$")
    max_model_len: int = Field(2048, ge=128)
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    gpu_memory_utilization: float = Field(0.9, gt=0.1, le=0.99)
    warmup_jobs: int = Field(16, ge=0, le=256)
    extra_args: tuple[str, ...] = ()
    baseline: bool = False
    serverless: bool = False

    @model_validator(mode="after")
    def _replicas(self) -> InferenceSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} exceeds maxReplicas {self.max_replicas}")
        return self


class InstallSwitches(Section):
    """Turn a platform piece off when the cluster already has it (or the cloud manages it)."""

    cert_manager: bool = True
    istio: bool = True
    knative: bool = True
    kserve: bool = True
    fluid: bool = True
    nvidia_device_plugin: bool = True
    cluster_autoscaler: bool = True


class PlatformSettings(Section):
    domain: str = Field("example.com", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    mesh: Literal["istio", "asm"] = "istio"
    fluid_source: Literal["chart", "ack-addon"] = "chart"
    install: InstallSwitches = InstallSwitches()
    progress_deadline_seconds: int = Field(1800, ge=600, le=7200)
    scale_to_zero_grace_seconds: int = Field(60, ge=0, le=3600)
    stable_window_seconds: int = Field(120, ge=6, le=3600)
    # ASM instance spec; the data-plane KubeAPI access to Istio resources needs enterprise or above
    asm_cluster_spec: Literal["enterprise", "ultimate"] = "enterprise"


class EndpointSettings(Section):
    auth: Literal["none", "jwt"] = "none"
    jwt_issuer: str | None = None
    jwks_uri: str | None = Field(None, pattern=r"^https://")
    tls: bool = False
    tls_issuer: str | None = None

    @model_validator(mode="after")
    def _jwt(self) -> EndpointSettings:
        if self.auth == "jwt" and not (self.jwt_issuer and self.jwks_uri):
            raise ValueError("auth 'jwt' needs jwtIssuer and jwksUri")
        if self.tls and not self.tls_issuer:
            raise ValueError("tls needs tlsIssuer, the cert-manager ClusterIssuer that signs the gateway certificate")
        return self


class Settings(Section):
    """Everything the program needs, validated as a whole."""

    project: str = PROJECT
    stack: str
    cloud: Cloud
    environment: Environment
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
    kubeconfig: Any = Field(None, exclude=True, repr=False)
    hf_token: Any = Field(None, exclude=True, repr=False)
    storage_access_key_id: Any = Field(None, exclude=True, repr=False)
    storage_secret_access_key: Any = Field(None, exclude=True, repr=False)

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def store_scheme(self) -> str:
        """`s3` or `oss`: the object store that holds the model."""
        if self.cloud == "existing":
            return self.bucket.url.split("://")[0]
        return "s3" if self.cloud == "aws" else "oss"

    @property
    def chart_versions(self) -> dict[str, versions.Chart]:
        return versions.chart_versions(self.release.versions)

    @property
    def knative_serving_version(self) -> str:
        return self.release.versions.get("knativeServing", versions.KNATIVE_SERVING)


# Per-cloud defaults; the stack's own values are merged over these.
CLOUD_DEFAULTS: dict[str, dict[str, Any]] = {
    "aws": {
        "systemPool": {"instanceType": "m6i.large", "minSize": 2, "desiredSize": 2, "maxSize": 3, "diskSizeGi": 100},
        "gpuPool": {"instanceType": "g5.xlarge", "diskSizeGi": 200},
        "cachePool": {"instanceType": "m5n.xlarge", "minSize": 2, "desiredSize": 2, "maxSize": 4, "diskSizeGi": 200},
    },
    "alicloud": {
        "systemPool": {"instanceType": "ecs.g7.large", "minSize": 2, "desiredSize": 2, "maxSize": 3, "diskSizeGi": 100},
        "gpuPool": {"instanceType": "ecs.gn6i-c16g1.4xlarge", "diskSizeGi": 200},
        "cachePool": {"instanceType": "ecs.g7.xlarge", "minSize": 2, "desiredSize": 2, "maxSize": 4, "diskSizeGi": 200},
        "platform": {"mesh": "asm"},
        "cluster": {"kubernetesVersion": "1.33", "vpcCidr": "192.168.0.0/16"},
    },
    "existing": {
        "systemPool": {"instanceType": "existing"},
        "gpuPool": {"instanceType": "existing"},
        "cachePool": {"instanceType": "existing"},
        "platform": {"install": {"clusterAutoscaler": False}},
    },
}

# Production is safe by default: models survive `pulumi destroy`, the API server is private.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {},
    "staging": {"bucket": {"protect": True}},
    "prod": {"bucket": {"protect": True}, "cluster": {"endpointPublicAccess": False, "publicAccessCidrs": []}},
}

SECTIONS = ("release", "cluster", "systemPool", "gpuPool", "cachePool", "bucket", "cache", "inference", "platform", "endpoint")
SECRET_KEYS = ("kubeconfig", "hfToken", "storageAccessKeyId", "storageSecretAccessKey")


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _key_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _describe(error: dict, model: type[BaseModel]) -> str:
    """One line for one pydantic error: key, value, what is allowed."""
    loc = tuple(p for p in error["loc"] if p not in ("function-after",))
    key = f"{PROJECT}:{_key_path(loc)}"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        return f"{key}: unknown key; allowed here: {', '.join(fields)}"
    if error["type"] == "missing":
        return f"{key}: missing; this key is required"
    if error["type"] == "value_error":
        return f"{key}: {msg}"
    return f"{key}: got {error.get('input')!r}; {msg}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner:
            model = inner[0]
        else:
            return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def build_settings(raw: dict[str, Any], stack: str, region: str | None = None,
                   secrets: dict[str, Any] | None = None) -> Settings:
    """Validate raw stack config (a dict of project keys) into Settings, or raise ConfigError."""
    problems: list[str] = []
    cloud = raw.get("cloud")
    environment = raw.get("environment", "dev")
    if cloud not in CLOUD_DEFAULTS:
        raise ConfigError([f"{PROJECT}:cloud: got {cloud!r}; use one of aws, alicloud, existing"])
    if environment not in ENVIRONMENT_DEFAULTS:
        raise ConfigError([f"{PROJECT}:environment: got {environment!r}; use one of dev, staging, prod"])
    unknown = sorted(set(raw) - {"cloud", "environment", *SECTIONS, *SECRET_KEYS})
    problems += [f"{PROJECT}:{k}: unknown key; allowed: cloud, environment, {', '.join(SECTIONS)}" for k in unknown]
    merged = _merge(_merge(CLOUD_DEFAULTS[cloud], ENVIRONMENT_DEFAULTS[environment]),
                    {k: raw[k] for k in SECTIONS if k in raw})
    platform = merged.setdefault("platform", {})
    if platform.get("fluidSource") == "ack-addon" and "fluid" not in platform.get("install", {}):
        platform.setdefault("install", {})["fluid"] = False  # the add-on replaces the chart
    for section in SECTIONS:
        merged.setdefault(section, {})
    secrets = secrets or {}
    try:
        settings = Settings.model_validate({
            "stack": stack, "cloud": cloud, "environment": environment, "region": region, **merged,
            "kubeconfig": secrets.get("kubeconfig"), "hfToken": secrets.get("hfToken"),
            "storageAccessKeyId": secrets.get("storageAccessKeyId"),
            "storageSecretAccessKey": secrets.get("storageSecretAccessKey")})
    except ValidationError as e:
        problems += [_describe(err, Settings) for err in e.errors()]
        raise ConfigError(problems) from None
    problems += _cross_checks(settings, raw)
    if problems:
        raise ConfigError(problems)
    return settings


def _cross_checks(s: Settings, raw: dict[str, Any]) -> list[str]:
    """Rules that span sections or depend on the cloud and environment."""
    p = PROJECT
    problems = []
    if s.cloud in GPU_INSTANCE_PATTERNS:
        allowed = GPU_INSTANCE_PATTERNS[s.cloud]
        if not any(fnmatch.fnmatch(s.gpu_pool.instance_type, pat) for pat in allowed):
            problems.append(f"{p}:gpuPool.instanceType: got {s.gpu_pool.instance_type!r}; not a GPU instance type "
                            f"for {s.cloud}, use one of {', '.join(allowed)}")
        if s.cloud == "alicloud" and not s.cache_pool.instance_type.startswith("ecs."):
            problems.append(f"{p}:cachePool.instanceType: got {s.cache_pool.instance_type!r}; "
                            "Alibaba Cloud instance types start with 'ecs.' (e.g. ecs.g7.xlarge)")
        if s.cloud == "aws" and s.cache_pool.instance_type.startswith("ecs."):
            problems.append(f"{p}:cachePool.instanceType: got {s.cache_pool.instance_type!r}; "
                            "not an AWS instance type (e.g. m5n.xlarge)")
    need = s.release.model.size_gi * s.cache.dataload_replicas
    if s.cache.capacity_gi < need:
        problems.append(f"{p}:cache.levels: quota x replicas = {s.cache.capacity_gi:g} GiB cannot hold "
                        f"{s.cache.dataload_replicas} cached cop{'y' if s.cache.dataload_replicas == 1 else 'ies'} of "
                        f"the {s.release.model.size_gi:g} GiB model (release.model.sizeGi); raise quotaGi or replicas")
    for i, level in enumerate(s.cache.levels):
        if level.medium == "MEM" and level.quota_gi > 512:
            problems.append(f"{p}:cache.levels.{i}.quotaGi: got {level.quota_gi:g}; a MEM tier above 512 GiB "
                            "will not fit in a cache node's memory")
    if s.cache.replicas > s.cache_pool.max_size and s.cloud != "existing":
        problems.append(f"{p}:cache.replicas: got {s.cache.replicas}; the cache pool holds at most "
                        f"cachePool.maxSize = {s.cache_pool.max_size} workers (one per node)")
    if s.cloud == "existing":
        if not s.bucket.url:
            problems.append(f"{p}:bucket.url: missing; with cloud 'existing' name the model bucket "
                            "as s3://<bucket> or oss://<bucket>")
        if s.cache.credentials == "keyless" and not s.bucket.read_role:
            problems.append(f"{p}:bucket.readRole: missing; with cloud 'existing' and keyless credentials give the "
                            "role the cache assumes (IAM role ARN or RAM role name), or set cache.credentials: static")
        if not (s.bucket.region or s.region):
            problems.append(f"{p}:bucket.region: missing; with cloud 'existing' give the bucket's region")
    elif s.bucket.url:
        problems.append(f"{p}:bucket.url: got {s.bucket.url!r}; only for cloud 'existing' (the bucket is created here)")
    if s.cache.credentials == "static" and not (s.storage_access_key_id and s.storage_secret_access_key):
        problems.append(f"{p}:storageAccessKeyId: missing; cache.credentials 'static' needs storageAccessKeyId and "
                        "storageSecretAccessKey set with `pulumi config set --secret`")
    if s.release.model.from_hugging_face and s.cloud == "existing" and not s.bucket.write_role \
            and s.cache.credentials == "keyless":
        problems.append(f"{p}:bucket.writeRole: missing; the in-cluster Hugging Face ingest needs a role that can "
                        "write the bucket")
    model = s.release.model
    if model.from_hugging_face and s.environment != "dev" and not re.fullmatch(r"[0-9a-f]{40}", model.revision or ""):
        problems.append(f"{p}:release.model.revision: got {model.revision!r}; {s.environment} serves a pinned "
                        "40-hex commit sha, so every environment serves the same bytes")
    if s.inference.baseline and s.store_scheme != "s3":
        problems.append(f"{p}:inference.baseline: got True; KServe's storage initializer has no oss:// support, "
                        "the storage-initializer baseline runs on S3 only")
    if s.platform.mesh == "asm" and s.cloud != "alicloud":
        problems.append(f"{p}:platform.mesh: got 'asm'; Alibaba Service Mesh is only for cloud 'alicloud'")
    if s.platform.fluid_source == "ack-addon":
        if s.cloud != "alicloud":
            problems.append(f"{p}:platform.fluidSource: got 'ack-addon'; the ack-fluid add-on is only for 'alicloud'")
        if raw.get("platform", {}).get("install", {}).get("fluid") is True:
            problems.append(f"{p}:platform.install.fluid: got True; the open-source Fluid chart and the ack-fluid "
                            "add-on cannot coexist, drop one")
    if s.inference.serverless and s.cloud != "alicloud":
        problems.append(f"{p}:inference.serverless: got True; virtual-node (ECI) serving is only for 'alicloud'")
    if s.is_prod:
        cidrs = list(s.cluster.public_access_cidrs)
        if s.cluster.endpoint_public_access and (not cidrs or "0.0.0.0/0" in cidrs):
            problems.append(f"{p}:cluster.publicAccessCidrs: got {cidrs}; a prod API server is private "
                            "(endpointPublicAccess: false) or limited to an explicit CIDR list (an empty list "
                            "means the whole internet)")
        if not s.bucket.protect:
            problems.append(f"{p}:bucket.protect: got False; prod model buckets are protected from `pulumi destroy`")
        if s.endpoint.auth == "none":
            problems.append(f"{p}:endpoint.auth: got 'none'; a prod endpoint needs auth 'jwt'")
        if not s.endpoint.tls:
            problems.append(f"{p}:endpoint.tls: got False; a prod endpoint serves TLS")
    return problems


def load() -> Settings:
    """Read the current stack's config through pulumi.Config and validate it."""
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in ("cloud", "environment"):
        if cfg.get(key) is not None:
            raw[key] = cfg.get(key)
    for key in SECTIONS:
        try:
            value = cfg.get_object(key)
        except Exception as e:  # a value that is not JSON/YAML structured
            raise ConfigError([f"{PROJECT}:{key}: not a structured value ({e})"]) from None
        if value is not None:
            raw[key] = value
    secrets = {key: cfg.get_secret(key) for key in SECRET_KEYS}
    cloud = raw.get("cloud")
    region = pulumi.Config(cloud).get("region") if cloud in ("aws", "alicloud") else None
    return build_settings(raw, pulumi.get_stack(), region=region,
                          secrets={k: v for k, v in secrets.items() if v is not None})
