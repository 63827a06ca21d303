"""Rules that span sections, common to every cloud. One line per problem: key as the stack spells it, the
value, what is allowed. A rule that reads a value the stack did not set says so (`Raw.origin`), so a
misspelt or missing key is not blamed on its default. Cloud-specific rules live in each cloud's defaults.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi

from components import instances
from components.config import PROJECT, Raw, Settings, local_path

if TYPE_CHECKING:
    from components.clouds import Cloud

P = PROJECT
# Namespaces a stack file may use besides the project's own.
KNOWN_NAMESPACES = ("aws", "alicloud", "kubernetes", "eks", "pulumi")
# Namespaces the platform itself owns: the model must not share one with the operators.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "knative-serving",
                     "knative-operator", "kserve", "fluid-system", "cert-manager", "nvidia-device-plugin")
# Domains that no public CA issues for: documentation, test and private-use names (RFC 2606, 6761, 8375).
RESERVED_DOMAIN = re.compile(r"(^|\.)(example\.(com|org|net)|example|test|invalid|localhost|local|internal|home\.arpa)$")
DTYPE_FACTOR = {"auto": 1.0, "float16": 1.0, "bfloat16": 1.0, "float32": 2.0}  # sizeGi is the stored (16-bit) size


def provider_keys(cloud: Cloud, provider_config: dict[str, Any]) -> list[str]:
    """Misspelt keys of the providers the program configures (a typo in `aws:region` deploys elsewhere)."""
    problems = []
    for full in sorted(provider_config):
        namespace, _, key = full.partition(":")
        if namespace not in KNOWN_NAMESPACES:
            close = difflib.get_close_matches(namespace, [PROJECT, *KNOWN_NAMESPACES], n=1)
            hint = f"did you mean {close[0]}:{key}? " if close else ""
            problems.append(f"{full}: unknown config namespace {namespace!r}; {hint}this project reads {PROJECT}: and the providers' {', '.join(KNOWN_NAMESPACES)}")
            continue
        if namespace in ("aws", "alicloud") and namespace != cloud.provider_namespace:
            problems.append(f"{full}: set, but {P}:cloud is {cloud.name!r}, which does not use the {namespace} provider; remove it or fix {P}:cloud")
            continue
        known = provider_config_keys(namespace)
        if known and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {namespace}:{close[0]}? " if close else ""
            problems.append(f"{full}: not a config key of the {namespace} provider; {hint}see its configuration reference")
    return problems


def provider_config_keys(namespace: str) -> set[str]:
    """The config keys a provider SDK reads, taken from the SDK itself (its `config/vars.py`)."""
    import importlib.util

    package = {"aws": "pulumi_aws", "alicloud": "pulumi_alicloud", "kubernetes": "pulumi_kubernetes", "eks": "pulumi_eks"}.get(namespace)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        return set()
    source = Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py"
    if not source.exists():
        return set()
    return set(re.findall(r"__config__\.get\w*\('(\w+)'", source.read_text()))


def cross_checks(s: Settings, raw: Raw) -> list[str]:
    from components.clouds import CLOUDS

    cloud = CLOUDS[s.cloud]
    return (_release(s) + _cache(s, raw, cloud) + _serving(s, raw, cloud) + _endpoint(s, raw) + _bucket(s, raw)
            + _safety(s))


def _release(s: Settings) -> list[str]:
    problems, model = [], s.release.model
    if s.pinned and not model.pinned:
        if model.from_hugging_face:
            problems.append(f"{P}:release.model.revision: got {model.revision!r}; {s.environment} serves a pinned 40-hex commit sha (promote it from dev: `python -m tools.promote`)")
        else:
            problems.append(f"{P}:release.model.digest: missing; {s.environment} serves a local model only at the manifest digest dev uploaded (stack output modelDigest)")
    if s.pinned and not s.release.program:
        pulumi.log.warn(f"{P}:release.program: not set; {s.environment} runs the program of the commit that deploys it, so a "
                        "merge to main changes it (`python -m tools.promote` pins the commit the previous stage ran)")
    if not model.from_hugging_face:
        path = local_path(model.source)
        if not path.is_dir():
            problems.append(f"{P}:release.model.source: got {model.source!r}; no such directory here ({path.resolve()}): a local model is uploaded from where `pulumi up` runs")
    return problems


def _cache(s: Settings, raw: Raw, cloud: Cloud) -> list[str]:
    problems = []
    need = s.release.model.size_gi * s.cache.dataload_replicas
    if s.cache.capacity_gi < need:
        copies = "copy" if s.cache.dataload_replicas == 1 else "copies"
        problems.append(f"{P}:cache.levels: quota x replicas = {s.cache.capacity_gi:g} GiB cannot hold {s.cache.dataload_replicas} cached {copies} of the {s.release.model.size_gi:g} GiB model (release.model.sizeGi); raise quotaGi or replicas")
    if s.cloud != "existing" and s.cache.replicas > s.cache_pool.max_size:
        problems.append(f"{P}:cache.replicas: got {s.cache.replicas}; at most one worker per cache node and {raw.origin('cachePool.maxSize', s.cache_pool.max_size)}")
    facts = cloud.instances.get(s.cache_pool.instance_type)
    if facts:
        mem = sum(level.quota_gi for level in s.cache.levels if level.medium == "MEM")
        if mem > facts.memory_gi * 0.6:
            problems.append(f"{P}:cache.levels: MEM tiers of {mem:g} GiB per worker do not fit {s.cache_pool.instance_type} ({facts.memory_gi:g} GiB, {raw.origin('cachePool.instanceType', s.cache_pool.instance_type)}); keep them under 60% of its memory")
        disk = sum(level.quota_gi for level in s.cache.levels if level.medium != "MEM")
        room = max(s.cache_pool.disk_size_gi - 40, facts.local_nvme_gb / 1.074)
        if disk > room:
            problems.append(f"{P}:cache.levels: disk tiers of {disk:g} GiB per worker do not fit the cache node ({raw.origin('cachePool.diskSizeGi', s.cache_pool.disk_size_gi)} minus ~40 GiB for the system and images); raise cachePool.diskSizeGi or lower quotaGi")
    return problems


def _serving(s: Settings, raw: Raw, cloud: Cloud) -> list[str]:
    problems, inf = [], s.inference
    if inf.namespace in SYSTEM_NAMESPACES or inf.namespace.startswith("kube-"):
        problems.append(f"{P}:inference.namespace: got {inf.namespace!r}; a namespace of its own (the platform uses {', '.join(SYSTEM_NAMESPACES)})")
    if s.cloud != "existing" and cloud.gpu_families and not instances.gpu_type(s.gpu_pool.instance_type, cloud.gpu_families):
        problems.append(f"{P}:gpuPool.instanceType: got {s.gpu_pool.instance_type!r}; not a GPU instance type for {s.cloud}: use one of {', '.join(cloud.gpu_families)}")
        return problems
    facts = cloud.instances.get(s.gpu_pool.instance_type)
    if facts is None:
        return problems
    where = raw.origin("gpuPool.instanceType", s.gpu_pool.instance_type)
    if inf.gpus > facts.gpus:
        problems.append(f"{P}:inference.gpus: got {inf.gpus}; {s.gpu_pool.instance_type} has {facts.gpus} GPU{'s' if facts.gpus > 1 else ''} ({where})")
    cpu, memory = instances.allocatable(facts)
    if instances.quantity_cores(inf.cpu) > cpu:
        problems.append(f"{P}:inference.cpu: got {inf.cpu!r}; a {s.gpu_pool.instance_type} node ({facts.vcpu} vCPU) can give a pod at most {cpu:g} cores ({where})")
    if instances.quantity_gi(inf.memory) > memory:
        problems.append(f"{P}:inference.memory: got {inf.memory!r}; a {s.gpu_pool.instance_type} node ({facts.memory_gi:g} GiB) can give a pod at most {memory:.0f}Gi ({where})")
    gpus = min(inf.gpus, facts.gpus)
    budget = facts.gpu_memory_gi * inf.gpu_memory_utilization * gpus
    weights = s.release.model.size_gi * DTYPE_FACTOR[inf.dtype]
    need = weights + max(1.0, 0.1 * weights)  # vLLM also needs activations and at least some KV cache
    if need > budget:
        problems.append(f"{P}:inference.gpus: the {weights:g} GiB of weights (release.model.sizeGi x dtype {inf.dtype}) plus room for activations and KV cache need {need:.1f} GiB, but {gpus} x {facts.gpu_model} "
                        f"({facts.gpu_memory_gi:g} GiB) x gpuMemoryUtilization {inf.gpu_memory_utilization:g} gives {budget:.1f} GiB; raise inference.gpus (tensor parallel) or pick a larger gpuPool.instanceType")
    return problems


def _endpoint(s: Settings, raw: Raw) -> list[str]:
    problems, ep, domain = [], s.endpoint, s.platform.domain
    if ep.tls and ep.tls_issuer and RESERVED_DOMAIN.search(domain):
        problems.append(f"{P}:platform.domain: got {domain!r}; ClusterIssuer {ep.tls_issuer!r} (endpoint.tlsIssuer) cannot get a public certificate for a reserved domain: set a domain you own, or unset endpoint.tlsIssuer to use this stack's private CA")
    if ep.auth == "none" and not raw.has("endpoint.allowedCidrs"):
        problems.append(f"{P}:endpoint.allowedCidrs: missing; with endpoint.auth 'none' anyone who finds the gateway can wake a GPU: list the CIDRs that may call it (0.0.0.0/0 to open it deliberately), or keep auth 'jwt'")
    if ep.cluster_tokens and s.cloud == "existing":
        problems.append(f"{P}:endpoint.jwtIssuer: got 'cluster'; with cloud 'existing' give your cluster's service-account issuer URL (kubectl get --raw /.well-known/openid-configuration)")
    if s.inference.timeout_seconds > s.platform.progress_deadline_seconds:
        problems.append(f"{P}:inference.timeoutSeconds: got {s.inference.timeout_seconds}; at most platform.progressDeadlineSeconds ({s.platform.progress_deadline_seconds}), or a cold start outlives its revision's deadline")
    return problems


def _bucket(s: Settings, raw: Raw) -> list[str]:
    problems, b = [], s.bucket
    if s.cloud == "existing":
        return problems
    if b.url:
        problems.append(f"{P}:bucket.url: got {b.url!r}; only for cloud 'existing' (here the bucket is created)")
    if b.force_destroy and (s.environment != "dev" or b.protect):
        problems.append(f"{P}:bucket.forceDestroy: got True; only a dev stack with bucket.protect false may delete its models on `pulumi destroy`")
    if not b.protect and not b.force_destroy:
        problems.append(f"{P}:bucket.protect: got False; `pulumi destroy` would strip the bucket's encryption and policy and then fail on its models: keep it protected, or set bucket.forceDestroy true (dev) to delete it with its models")
    return problems


def _safety(s: Settings) -> list[str]:
    """What prod exposes, checked whatever else the stack says."""
    problems = []
    if s.cache.credentials == "static" and not (s.storage_access_key_id and s.storage_secret_access_key):
        problems.append(f"{P}:storageAccessKeyId: missing; cache.credentials 'static' needs storageAccessKeyId and storageSecretAccessKey set with `pulumi config set --secret`")
    if not s.is_prod:
        return problems
    cluster = s.cluster
    if cluster.endpoint_public_access:
        wide = [c for c in cluster.public_access_cidrs if ipaddress.ip_network(c).prefixlen < 16]
        if not cluster.public_access_cidrs or wide:
            problems.append(f"{P}:cluster.publicAccessCidrs: got {list(cluster.public_access_cidrs)}; a prod API server is private (endpointPublicAccess: false) or limited to explicit CIDRs of /16 or narrower")
    if not s.bucket.protect:
        problems.append(f"{P}:bucket.protect: got False; prod model buckets are protected from `pulumi destroy`")
    if s.endpoint.auth == "none":
        problems.append(f"{P}:endpoint.auth: got 'none'; a prod endpoint needs auth 'jwt' (endpoint.jwtIssuer, jwksUri, audiences)")
    if not s.endpoint.tls:
        problems.append(f"{P}:endpoint.tls: got False; a prod endpoint serves TLS")
    if RESERVED_DOMAIN.search(s.platform.domain) and s.platform.domain.endswith(("example.com", "example.org", "example.net", ".example")):
        problems.append(f"{P}:platform.domain: got {s.platform.domain!r}; a placeholder: set the domain prod serves on (a private CA works for any domain you resolve, endpoint.tlsIssuer for a public one)")
    for key, url in (("jwtIssuer", s.endpoint.jwt_issuer), ("jwksUri", s.endpoint.jwks_uri)):
        host = re.sub(r"^https://([^/:]+).*", r"\1", url or "")
        if url and RESERVED_DOMAIN.search(host):
            problems.append(f"{P}:endpoint.{key}: got {url!r}; a placeholder: set your identity provider's URL")
    return problems
