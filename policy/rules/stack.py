"""Guardrails on the stack as a whole: joins one resource cannot see from where it stands.

Each rule is `rule(resources, context) -> [Finding, ...]`. A bucket must *have* its public-access block,
encryption, versioning and TLS-only policy; the endpoint must *have* its JWT pair and certificate. And
the safety a stack needs follows from what it creates, not from the `environment` it claims: a bucket
whose data outlives `pulumi destroy` (forceDestroy off) is durable, and durable data must be protected
and must not sit behind an API server the whole internet can reach.

In a real preview the engine runs these rules once, after every resource was registered, on each
resource's outputs (for the resources judged here the outputs repeat the inputs); during `pulumi up` it
runs them after the update, so a violation fails the update but does not undo it: preview first.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .cloud import (
    ALICLOUD_KMS_KEY,
    AWS_KMS_KEY,
    OSS_ACL,
    OSS_BUCKET,
    OSS_ENCRYPTION,
    OSS_POLICY,
    OSS_PUBLIC_ACCESS_BLOCK,
    OSS_VERSIONING,
    S3_ACLS,
    S3_BUCKETS,
    S3_ENCRYPTION,
    S3_KMS_ALGORITHMS,
    S3_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_VERSIONING,
    control_plane,
    oss_acl,
    oss_encryption,
    oss_versioning,
    public_access_block_problems,
    s3_encryption_rules,
    s3_versioning,
    tls_only,
)
from .kubernetes import INFERENCE_SERVICE, SERVING_RUNTIMES, is_fluid_runtime
from .values import (
    UNKNOWN,
    Context,
    Finding,
    Resource,
    flag,
    get,
    items,
    mappings,
    matches,
    namespace_of,
    number,
    private_only,
)

# ------------------------------------------------------------------------------------------- buckets

S3_LIFECYCLE = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
S3_CONTROLS = (S3_PUBLIC_ACCESS_BLOCK, *S3_ENCRYPTION, *S3_VERSIONING, S3_POLICY, *S3_ACLS, *S3_LIFECYCLE)
OSS_CONTROLS = (OSS_ACL, OSS_POLICY, OSS_ENCRYPTION, OSS_VERSIONING, OSS_PUBLIC_ACCESS_BLOCK)
AWS_MANAGED_KEYS = ("alias/aws/s3",)


@dataclass(frozen=True)
class Bucket:
    """A model bucket with every resource of the stack that configures it (the bucket first)."""

    resource: Resource
    controls: tuple[Resource, ...]

    @property
    def s3(self) -> bool:
        return self.resource.type in S3_BUCKETS

    @property
    def durable(self) -> bool:
        """Its objects outlive `pulumi destroy`: without forceDestroy the cloud refuses to delete a bucket
        that still holds objects. (A dev bucket declares itself disposable with forceDestroy.)"""
        return flag(self.resource.get("forceDestroy")) is not True


def _configures(control: Resource, bucket: Resource) -> bool:
    if control.depends_on("bucket", bucket):
        return True
    target = control.get("bucket")
    return target not in (None, UNKNOWN) and target in (bucket.get("bucket"), bucket.get("id"))


def buckets(resources: Sequence[Resource]) -> list[Bucket]:
    found = []
    for bucket in resources:
        kinds = S3_CONTROLS if bucket.type in S3_BUCKETS else OSS_CONTROLS if bucket.type == OSS_BUCKET else None
        if kinds is not None:
            controls = [r for r in resources if r.type in kinds and _configures(r, bucket)]
            found.append(Bucket(bucket, (bucket, *controls)))
    return found


def _key_ids(bucket: Bucket) -> set[Any]:
    """The KMS key ids/ARNs a bucket's encryption names."""
    if bucket.s3:
        return {rule.key for c in bucket.controls for rule in s3_encryption_rules(c) or []}
    return {encryption[1] for c in bucket.controls if (encryption := oss_encryption(c)) is not None}


def _keys_of(bucket: Bucket, resources: Sequence[Resource]) -> list[Resource]:
    """The stack's KMS keys that encrypt a bucket (by dependency, or by a known ARN/id)."""
    kind, prop = (AWS_KMS_KEY, "rules") if bucket.s3 else (ALICLOUD_KMS_KEY, "kmsMasterKeyId")
    named = _key_ids(bucket) - {None, UNKNOWN}
    return [key for key in resources if key.type == kind and (
        any(c.depends_on(prop, key) for c in bucket.controls)
        or named & {key.get("arn"), key.get("id"), key.get("keyId")})]


def _s3_gaps(bucket: Bucket) -> list[str]:
    controls = bucket.controls
    gaps = []
    if not any(c.type == S3_PUBLIC_ACCESS_BLOCK and not public_access_block_problems(c.props) for c in controls):
        gaps.append("no BucketPublicAccessBlock with all four blocks on")
    rules = [rule for c in controls for rule in s3_encryption_rules(c) or []]
    if not rules:
        gaps.append("no default-encryption configuration (BucketServerSideEncryptionConfiguration)")
    elif bucket.durable and not any(r.algorithm in (*S3_KMS_ALGORITHMS, UNKNOWN) and r.key not in (None, "", *AWS_MANAGED_KEYS)
                                    for r in rules):
        gaps.append("holds durable data but is not encrypted with a customer KMS key (SSE-KMS, "
                    "kserve-fluid:bucket.kms): key policy and CloudTrail then govern every read")
    if not any(s3_versioning(c) in (True, UNKNOWN) for c in controls):
        gaps.append("versioning is not Enabled (BucketVersioning)")
    if not any(tls_only(c.get("policy"), "aws") in (True, None) for c in controls if c.get("policy") is not None):
        gaps.append("no bucket policy denies requests without TLS (Deny s3:* when aws:SecureTransport is false)")
    return gaps


def _oss_gaps(bucket: Bucket) -> list[str]:
    controls = bucket.controls
    gaps = []
    if not any(oss_acl(c) in ("private", UNKNOWN) for c in controls):
        gaps.append("no private ACL (BucketAcl 'private')")
    encryption = [e for c in controls if (e := oss_encryption(c)) is not None]
    if not encryption:
        gaps.append("no server-side encryption (BucketServerSideEncryption)")
    elif bucket.durable and not any(algorithm in ("KMS", UNKNOWN) for algorithm, _ in encryption):
        gaps.append("holds durable data but is not encrypted with KMS (kserve-fluid:bucket.kms)")
    if not any(oss_versioning(c) in (True, UNKNOWN) for c in controls):
        gaps.append("versioning is not Enabled (BucketVersioning)")
    if not any(tls_only(c.get("policy"), "acs") in (True, None) for c in controls if c.get("policy") is not None):
        gaps.append("no bucket policy denies requests without TLS (Deny oss:* when acs:SecureTransport is false)")
    return gaps


def model_buckets_fully_guarded(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """Every bucket the stack creates has each control, not only sound ones where present: a public-access
    block (S3) or private ACL (OSS), default encryption (a customer KMS key once the data is durable),
    versioning, and a policy refusing plain-HTTP requests."""
    return [Finding(b.resource, f"bucket {b.resource.name}: {gap}")
            for b in buckets(resources) for gap in (_s3_gaps(b) if b.s3 else _oss_gaps(b))]


def durable_data_is_protected(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """A durable bucket, each resource configuring it and the KMS key encrypting it are `protect`ed. Else
    `pulumi destroy` (or a refactor that renames one) deletes the controls and schedules the key for
    deletion while the cloud keeps the non-empty bucket: open, or unreadable after the key's waiting period.
    forceDestroy is for disposable data only: never on a bucket that is itself protected (one `up` that
    drops the protection, and destroy empties it), nor in a stack the pack's config declares durable."""
    findings = []
    for bucket in buckets(resources):
        guards = (*bucket.controls, *_keys_of(bucket, resources))
        name = bucket.resource.name
        if not bucket.durable:
            if context.durable or any(r.protect for r in guards):
                why = "this stack is declared durable" if context.durable else "it is protected"
                findings.append(Finding(bucket.resource, f"bucket {name} sets forceDestroy although {why}: `pulumi "
                                                         "destroy` would delete every model; unset bucket.forceDestroy"))
            continue
        findings += [Finding(r, f"{r.type.rsplit(':', 1)[1]} {r.name} guards the durable bucket {name} (forceDestroy off) "
                                "but is not protected; set kserve-fluid:bucket.protect, or bucket.forceDestroy if the "
                                "data is disposable") for r in guards if not r.protect]
    return findings


def control_plane_private_for_durable_data(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """An API server the whole internet can reach (EKS public with no narrow CIDR list, ACK's internet SLB)
    is tolerated only on a throwaway stack. Once a bucket holds durable data, the cluster that can write to
    it is reachable only privately (the in-VPC deployer) or from a short list of your networks."""
    durable = [b.resource.name for b in buckets(resources) if b.durable]
    if not durable:
        return []
    planes = [plane for r in resources if (plane := control_plane(r)) is not None]
    return [Finding(p.resource, f"the Kubernetes API server of {p.resource.name} is reachable from the internet while "
                                f"bucket {', '.join(durable)} holds durable data; set cluster.endpointPublicAccess false "
                                "(deploy from the in-VPC deployer) or cluster.publicAccessCidrs to your networks "
                                "(at most a /16 in all)")
            for p in planes if p.internet_reachable is True]


# ------------------------------------------------------------------------------------------ endpoint

GATEWAY_CHART = "gateway"
KNATIVE_SERVING = "kubernetes:operator.knative.dev/v1beta1:KnativeServing"
KNATIVE_GATEWAY = "knative-ingress-gateway"
ROOT_NAMESPACE = "istio-system"
REQUEST_AUTHENTICATION = "kubernetes:security.istio.io/v1:RequestAuthentication"
AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
DEFAULT_GATEWAY_LABELS = {"istio": "ingressgateway"}
INTERNAL_LOAD_BALANCER = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true",),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),
    "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": ("intranet",),
}
# Knative's ingress prober sends `K-Network-Probe: probe`; Knative answers it itself. It is the one
# exception a DENY policy may carry.
PROBE_EXCEPTION = {"key": "request.headers[K-Network-Probe]", "notValues": ["probe"]}


@dataclass(frozen=True)
class Gateway:
    resource: Resource | None   # the gateway chart's release; None when the stack installs none
    namespace: str
    labels: Mapping[str, str]
    private: bool
    ports: frozenset[str]


def _port(value: Any) -> str:
    """A port as Istio spells it: "443" (the engine sends numbers as floats, 443.0)."""
    n = number(value)
    return str(int(n)) if n is not None and n.is_integer() else str(value)


def _knative_servers(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Any]]:
    for serving in (r for r in resources if r.type == KNATIVE_SERVING):
        yield serving, serving.get("spec", "ingress", "istio", KNATIVE_GATEWAY, "servers")


def _gateway(resources: Sequence[Resource]) -> Gateway:
    """The ingress gateway KServe's traffic enters through, and whether only private networks reach it."""
    ports = frozenset(_port(get(s, "port", "number")) for _, servers in _knative_servers(resources)
                      for s in mappings(servers)) or frozenset({"80", "443"})
    release = next((r for r in resources if r.type.endswith("helm.sh/v3:Release")
                    and str(r.get("chart") or "").rstrip("/").rsplit("/", 1)[-1] == GATEWAY_CHART), None)
    if release is None:
        return Gateway(None, ROOT_NAMESPACE, DEFAULT_GATEWAY_LABELS, False, ports)
    name = str(release.get("name") or release.name)
    labels = {"app": name, "istio": name.removeprefix("istio-"), **(release.get("values", "labels") or {})}
    service = release.get("values", "service") or {}
    annotations = get(service, "annotations") or {}
    private = (get(service, "type") == "ClusterIP" or private_only(items(get(service, "loadBalancerSourceRanges")))
               or any(str(annotations.get(k)).lower() in v for k, v in INTERNAL_LOAD_BALANCER.items()))
    return Gateway(release, str(release.get("namespace") or "default"), labels, private, ports)


def _selects(policy: Resource, gateway: Gateway) -> bool:
    """The policy applies to the gateway's pods: its namespace (or the mesh root) and a selector the pods'
    labels satisfy (no selector: every workload there)."""
    namespace, selector = namespace_of(policy), policy.get("spec", "selector", "matchLabels")
    if not any(matches(namespace, ns) for ns in (gateway.namespace, ROOT_NAMESPACE)):
        return False
    if selector is None or selector is UNKNOWN:
        return True
    return isinstance(selector, Mapping) and all(matches(v, gateway.labels.get(k)) for k, v in selector.items())


def _https(value: Any) -> bool:
    return value is UNKNOWN or str(value).startswith("https://")


def _sound_jwt(policy: Resource) -> bool:
    raw = policy.get("spec", "jwtRules")
    if raw is UNKNOWN:
        return True
    rules = mappings(raw)
    return bool(rules) and all(_https(r.get("issuer")) and (r.get("audiences") is UNKNOWN or items(r.get("audiences")))
                               and _https(r.get("jwksUri") or "https://") for r in rules)


def _denies_anonymous(policy: Resource, ports: frozenset[str]) -> bool:
    """A DENY rule for requests without a valid token (notRequestPrincipals ["*"]) on every port the
    gateway serves, narrowed by nothing but Knative's prober exception."""
    if UNKNOWN in (policy.get("spec"), policy.get("spec", "rules")):
        return True
    if policy.get("spec", "action") not in ("DENY", UNKNOWN):
        return False
    for rule in mappings(policy.get("spec", "rules")):
        anonymous = any(get(f, "source", "notRequestPrincipals") == ["*"] and len(get(f, "source")) == 1
                        for f in mappings(rule.get("from")))
        operations = [get(t, "operation") for t in mappings(rule.get("to"))]
        covers = not operations or all(isinstance(o, Mapping) and set(o) == {"ports"}
                                       and ports <= {_port(p) for p in items(o["ports"])} for o in operations)
        narrowed = [w for w in mappings(rule.get("when")) if dict(w) != PROBE_EXCEPTION]
        if anonymous and covers and not narrowed:
            return True
    return False


def endpoint_authenticated(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """The model endpoint answers no anonymous caller: the gateway is reachable only from private networks
    (an internal load balancer, or loadBalancerSourceRanges inside RFC 1918), or it carries a
    RequestAuthentication (https issuer, audiences) and a DENY AuthorizationPolicy for requests without a
    valid token, both selecting the gateway."""
    services = [r for r in resources if r.type == INFERENCE_SERVICE]
    if not services:
        return []
    gateway = _gateway(resources)
    if gateway.private:
        return []
    selecting = [r for r in resources if r.type in (REQUEST_AUTHENTICATION, AUTHORIZATION_POLICY) and _selects(r, gateway)]
    missing = []
    if not any(r.type == REQUEST_AUTHENTICATION and _sound_jwt(r) for r in selecting):
        missing.append("a RequestAuthentication with an https issuer and audiences")
    if not any(r.type == AUTHORIZATION_POLICY and _denies_anonymous(r, gateway.ports) for r in selecting):
        missing.append(f"a DENY AuthorizationPolicy for requests without a token on ports {', '.join(sorted(gateway.ports))}")
    if not missing:
        return []
    return [Finding(gateway.resource or services[0],
                    f"the inference gateway is reachable beyond private networks and lacks {' and '.join(missing)}; "
                    "set endpoint.auth jwt, or endpoint.allowedCidrs to private ranges only")]


def _https_problems(servers: Any, certificates: set[Any]) -> list[str]:
    if servers is UNKNOWN:
        return []
    https = [s for s in mappings(servers) if get(s, "port", "protocol") == "HTTPS"
             and get(s, "tls", "mode") in ("SIMPLE", "MUTUAL") and get(s, "tls", "credentialName")]
    problems = [] if https else ["no HTTPS server with a certificate (endpoint.tls)"]
    problems += [f"HTTP port {_port(get(s, 'port', 'number'))} serves without redirecting to HTTPS" for s in mappings(servers)
                 if get(s, "port", "protocol") == "HTTP" and get(s, "tls", "httpsRedirect") is not True]
    if UNKNOWN not in certificates:
        problems += [f"credential {get(s, 'tls', 'credentialName')!r} is issued by no Certificate of this stack"
                     for s in https if get(s, "tls", "credentialName") not in certificates | {UNKNOWN}]
    return problems


def endpoint_tls_only(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """Prompts, completions and bearer tokens cross the gateway encrypted: the Knative gateway serves HTTPS
    with a cert-manager Certificate of this stack, and its plain-HTTP port only redirects."""
    if not any(r.type == INFERENCE_SERVICE for r in resources):
        return []
    gateway = _gateway(resources)
    certificates = {r.get("spec", "secretName") for r in resources
                    if r.type == CERTIFICATE and matches(namespace_of(r), gateway.namespace)}
    findings = []
    for serving, servers in _knative_servers(resources):
        if servers is None:
            findings.append(Finding(serving, f"{KNATIVE_GATEWAY} is Knative's default: plain HTTP only (endpoint.tls)"))
            continue
        findings += [Finding(serving, f"{KNATIVE_GATEWAY}: {p}") for p in _https_problems(servers, certificates)]
    return findings


# -------------------------------------------------------------------------------------- pod security

NAMESPACE = "kubernetes:core/v1:Namespace"
PSA = "pod-security.kubernetes.io/"
REPORTING_LEVELS = ("baseline", "restricted")


def privileged_only_for_fluid(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """A namespace may enforce the `privileged` Pod Security level only when it holds a Fluid runtime (its
    FUSE pods mount /dev/fuse), and it then still warns and audits at `baseline`, so any other privileged
    pod there is reported."""
    findings = []
    for namespace in (r for r in resources if r.type == NAMESPACE):
        labels = namespace.get("metadata", "labels") or {}
        if labels is UNKNOWN or labels.get(PSA + "enforce") != "privileged":
            continue
        name = namespace.get("metadata", "name") or namespace.name
        if not any(is_fluid_runtime(r) and (matches(namespace_of(r), name) or r.depends_on("metadata", namespace))
                   for r in resources):
            findings.append(Finding(namespace, f"namespace {name} enforces 'privileged' but runs no Fluid runtime"))
        findings += [Finding(namespace, f"namespace {name} enforces 'privileged' without {PSA}{mode} "
                                        f"{' or '.join(REPORTING_LEVELS)}")
                     for mode in ("warn", "audit") if labels.get(PSA + mode) not in REPORTING_LEVELS]
    return findings


def inference_runtime_guarded(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """Every InferenceService runs a ServingRuntime this stack declares (so the other guardrails have
    judged its image and security context), or brings its own containers. A runtime KServe picks by
    itself, or one installed elsewhere, was judged by no one."""
    findings = []
    for service in (r for r in resources if r.type == INFERENCE_SERVICE):
        predictor = service.get("spec", "predictor") or {}
        runtime = get(predictor, "model", "runtime")
        if items(get(predictor, "containers")) or runtime is UNKNOWN:
            continue
        declared = any(r.type in SERVING_RUNTIMES and matches(r.get("metadata", "name"), runtime)
                       and (r.type != SERVING_RUNTIMES[0] or matches(namespace_of(r), namespace_of(service)))
                       for r in resources)
        if not runtime or not declared:
            findings.append(Finding(service, f"spec.predictor.model.runtime {runtime!r} is not a ServingRuntime of this "
                                             "stack; its image and security context are unchecked"))
    return findings
