"""Guardrails on one AWS or Alibaba Cloud resource: buckets, control planes, machines, keys, networks, IAM.

Each rule is `rule(resource, context) -> [message, ...]`; an empty list passes. The predicates that
decide whether one control resource is sound (a public-access block, an encryption rule, a TLS-only
bucket policy) are shared with the stack-wide rules of stack.py, which require each bucket to *have*
them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .values import (
    UNKNOWN,
    Context,
    Resource,
    actions,
    allows,
    as_list,
    condition_values,
    denies,
    flag,
    get,
    internet_wide,
    items,
    mappings,
    number,
    public_principal,
    statements,
)

# ------------------------------------------------------------------------------------- bucket policies

# Condition keys that confine a statement with Principal "*" to one VPC, endpoint, account or org.
CONFINING_KEYS = ("aws:sourcevpce", "aws:sourcevpc", "aws:principalorgid", "aws:principalaccount",
                  "aws:sourceaccount", "aws:sourcearn", "aws:principalarn", "acs:sourcevpc", "acs:sourcevpcid")


def public_grants(document: Any) -> list[str]:
    """Statements of a bucket policy that allow anyone (Principal "*" without a confining condition)."""
    found = []
    for index, statement in enumerate(statements(document) or []):
        confined = any(condition_values(statement, key) for key in CONFINING_KEYS)
        if allows(statement) and public_principal(statement) and not confined:
            found.append(f"Statement[{index}] allows {', '.join(actions(statement)) or 'actions'} to Principal '*'")
    return found


def tls_only(document: Any, service: str) -> bool | None:
    """True when a bucket policy denies every request not made over TLS (`<prefix>:SecureTransport` false for
    every action to everyone), None when the document is not known yet. `service` is "aws" or "acs"."""
    if document is UNKNOWN:
        return None
    service_actions = {"*", f"{'s3' if service == 'aws' else 'oss'}:*"}
    return any(denies(s) and public_principal(s) and set(actions(s)) & service_actions
               and "false" in condition_values(s, f"{service}:SecureTransport")
               for s in statements(document) or [])


# ------------------------------------------------------------------------------------------------- S3

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
S3_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")
S3_KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


@dataclass(frozen=True)
class EncryptionRule:
    """One default-encryption rule of a bucket, from a separate resource or the bucket's inline block."""

    algorithm: Any
    key: Any
    bucket_key: Any


def s3_encryption_rules(resource: Resource) -> list[EncryptionRule] | None:
    """The default-encryption rules a resource sets (separate resource, Bucket's inline block, BucketV2's
    inline list); None when it sets none."""
    if resource.type in S3_ENCRYPTION:
        raw = resource.get("rules")
    elif resource.type == S3_BUCKETS[0]:
        raw = as_list(resource.get("serverSideEncryptionConfiguration", "rule")) or None
    elif resource.type == S3_BUCKETS[1]:
        raw = [r for c in mappings(resource.get("serverSideEncryptionConfigurations")) for r in mappings(c.get("rules"))]
        raw = raw or None
    else:
        return None
    if raw is None:
        return None
    if raw is UNKNOWN:  # a rule is set; what it says is known at `pulumi up`
        return [EncryptionRule(UNKNOWN, UNKNOWN, UNKNOWN)]
    rules = []
    for rule in mappings(raw):
        default = rule.get("applyServerSideEncryptionByDefault")
        if default is None:  # BucketV2's inline list form
            default = next(iter(mappings(rule.get("applyServerSideEncryptionByDefaults"))), None)
        rules.append(EncryptionRule(get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId"),
                                    flag(rule.get("bucketKeyEnabled"))))
    return rules


def s3_encryption_problems(rules: Sequence[EncryptionRule]) -> list[str]:
    if not rules:
        return ["no default encryption rule"]
    problems = []
    for i, rule in enumerate(rules):
        if rule.algorithm is not UNKNOWN and rule.algorithm not in S3_ALGORITHMS:
            problems.append(f"rules[{i}]: sseAlgorithm {rule.algorithm!r}; use one of {', '.join(S3_ALGORITHMS)}")
        if rule.algorithm == "aws:kms" and rule.bucket_key not in (True, UNKNOWN):
            problems.append(f"rules[{i}]: bucketKeyEnabled {rule.bucket_key!r}; aws:kms needs the bucket key "
                            "(one KMS call per object instead of per request)")
    return problems


def s3_versioning(resource: Resource) -> Any:
    """True/False when a resource sets the bucket's versioning, UNKNOWN, or None when it does not set it."""
    if resource.type in S3_VERSIONING:
        status = resource.get("versioningConfiguration", "status")
        return status if status is UNKNOWN else status == "Enabled"
    if resource.type == S3_BUCKETS[0]:
        return flag(resource.get("versioning", "enabled"))
    if resource.type == S3_BUCKETS[1]:
        return next((flag(v.get("enabled")) for v in mappings(resource.get("versionings"))), None)
    return None


def public_access_block_problems(props: Mapping[str, Any]) -> list[str]:
    return [f"{name}: {props.get(name)!r}; all four public-access blocks stay on"
            for name in PUBLIC_ACCESS_FLAGS if flag(props.get(name)) not in (True, UNKNOWN)]


def _public_acl(acl: Any, grantee_uris: Sequence[Any]) -> list[str]:
    problems = [f"acl {acl!r} opens the bucket; use 'private'"] if acl in PUBLIC_ACLS else []
    problems += [f"a grant to {uri} opens the bucket" for uri in grantee_uris if uri in PUBLIC_GRANTEES]
    return problems


def s3_bucket_not_public(resource: Resource, context: Context) -> list[str]:
    """S3 buckets hold the model bytes. Nothing may open them: every public-access block stays on, and no
    ACL, grant or bucket policy (inline or its own resource) lets anyone without credentials in."""
    props = resource.props
    if resource.type == S3_PUBLIC_ACCESS_BLOCK:
        return public_access_block_problems(props)
    if resource.type in S3_BUCKETS:
        uris = [g.get("uri") for g in mappings(props.get("grants"))]
        return _public_acl(props.get("acl"), uris) + [f"policy: {p}" for p in public_grants(props.get("policy"))]
    if resource.type in S3_ACLS:
        uris = [get(g, "grantee", "uri") for g in mappings(get(props, "accessControlPolicy", "grants"))]
        return _public_acl(props.get("acl"), uris)
    if resource.type == S3_POLICY:
        return [f"policy: {p}" for p in public_grants(props.get("policy"))]
    return []


def s3_bucket_encrypted_and_versioned(resource: Resource, context: Context) -> list[str]:
    """Every default-encryption rule uses KMS or AES256 (KMS with the bucket key), and versioning, where
    set, is Enabled: an overwritten or deleted model can be restored. That each bucket has both is the
    stack-wide rule `model-buckets-fully-guarded`."""
    rules = s3_encryption_rules(resource)
    return _with_versioning(s3_encryption_problems(rules) if rules is not None else [], s3_versioning(resource))


def _with_versioning(problems: list[str], versioning: Any) -> list[str]:
    """Encryption problems, plus one when a resource sets versioning to anything but Enabled."""
    return problems + (["versioning is not Enabled; an overwritten or deleted model could not be restored"]
                       if versioning is False else [])


# ------------------------------------------------------------------------------------------------ OSS

OSS_BUCKET = "alicloud:oss/bucket:Bucket"
OSS_ACL = "alicloud:oss/bucketAcl:BucketAcl"
OSS_POLICY = "alicloud:oss/bucketPolicy:BucketPolicy"
OSS_ENCRYPTION = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"
OSS_VERSIONING = "alicloud:oss/bucketVersioning:BucketVersioning"
OSS_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
OSS_ALGORITHMS = ("KMS", "AES256", "SM4")


def oss_acl(resource: Resource) -> Any:
    """The ACL a bucket or BucketAcl sets (None when it sets none)."""
    return resource.get("acl") if resource.type in (OSS_BUCKET, OSS_ACL) else None


def oss_encryption(resource: Resource) -> tuple[Any, Any] | None:
    """(algorithm, key id) a bucket's inline rule or a BucketServerSideEncryption sets; None when none."""
    if resource.type == OSS_ENCRYPTION:
        return resource.get("sseAlgorithm"), resource.get("kmsMasterKeyId")
    rule = resource.get("serverSideEncryptionRule") if resource.type == OSS_BUCKET else None
    if rule is UNKNOWN:
        return UNKNOWN, UNKNOWN
    return (get(rule, "sseAlgorithm"), get(rule, "kmsMasterKeyId")) if rule else None


def oss_versioning(resource: Resource) -> Any:
    """Like s3_versioning, for a bucket's inline block or a BucketVersioning."""
    status = {OSS_BUCKET: resource.get("versioning", "status"), OSS_VERSIONING: resource.get("status")}.get(resource.type)
    return status if status in (None, UNKNOWN) else status == "Enabled"


def oss_bucket_not_public(resource: Resource, context: Context) -> list[str]:
    """The OSS twin of s3-bucket-not-public: the ACL (on the bucket or a BucketAcl) is private, no bucket
    policy lets anyone in, and a public-access block, where set, is on."""
    acl = oss_acl(resource)
    problems = [f"acl {acl!r}; model buckets are 'private'"] if acl not in (None, "private", UNKNOWN) else []
    if resource.type in (OSS_BUCKET, OSS_POLICY):
        problems += [f"policy: {p}" for p in public_grants(resource.get("policy"))]
    if resource.type == OSS_PUBLIC_ACCESS_BLOCK and flag(resource.get("blockPublicAccess")) not in (True, UNKNOWN):
        problems.append(f"blockPublicAccess: {resource.get('blockPublicAccess')!r}; keep it on")
    return problems


def oss_bucket_encrypted_and_versioned(resource: Resource, context: Context) -> list[str]:
    """Server-side encryption, where set, is KMS, AES256 or SM4; versioning, where set, is Enabled."""
    encryption = oss_encryption(resource)
    problems = [f"sseAlgorithm {encryption[0]!r}; use one of {', '.join(OSS_ALGORITHMS)}"] if (
        encryption is not None and encryption[0] not in (*OSS_ALGORITHMS, UNKNOWN)) else []
    return _with_versioning(problems, oss_versioning(resource))


# -------------------------------------------------------------------------------------- control planes

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
ACK_CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
EKS_LOG_TYPES = ("api", "audit", "authenticator")
ACK_LOG_COMPONENTS = ("apiserver",)
# Outputs pulumi-eks registers on its component; its inputs never carry them. When the engine hands the
# component's outputs (stack policies) or no inputs at all (an engine that does not send a remote
# component's inputs), the component says nothing about its settings and its aws:eks/cluster:Cluster
# child -- which the engine always sends -- is judged instead.
_EKS_COMPONENT_OUTPUTS = ("eksCluster", "core", "kubeconfig")


@dataclass(frozen=True)
class ControlPlane:
    """The settings of one Kubernetes API server, whichever resource declares them."""

    resource: Resource
    public: Any             # the endpoint faces the internet side (True/False/UNKNOWN)
    cidrs: Any              # who may reach a public endpoint: list, UNKNOWN, or None (the cloud's default: all)
    secrets_key: Any        # the KMS key envelope-encrypting Kubernetes Secrets
    logs: Any               # control-plane log types shipped
    audit: Any = True       # ACK: auditLogConfig.enabled

    @property
    def internet_reachable(self) -> Any:
        """True/False, UNKNOWN while the settings are not known."""
        if self.public is UNKNOWN or self.cidrs is UNKNOWN:
            return UNKNOWN
        if flag(self.public) is False:
            return False
        return self.cidrs is None or internet_wide(items(self.cidrs))


def control_plane(resource: Resource) -> ControlPlane | None:
    """The API-server settings of an EKS or ACK cluster resource; None when it does not declare them."""
    props = resource.props
    if resource.type == EKS_COMPONENT:
        if not props or any(key in props for key in _EKS_COMPONENT_OUTPUTS):
            return None
        return ControlPlane(resource, props.get("endpointPublicAccess", True), props.get("publicAccessCidrs"),
                            props.get("encryptionConfigKeyArn"), props.get("enabledClusterLogTypes"))
    if resource.type == EKS_CLUSTER:
        public = get(props, "vpcConfig", "endpointPublicAccess")
        key = get(props, "encryptionConfig", "provider", "keyArn")
        encrypted = get(props, "encryptionConfig", "resources")
        if key not in (None, UNKNOWN) and encrypted is not UNKNOWN and "secrets" not in as_list(encrypted):
            key = None  # a key that encrypts something else
        return ControlPlane(resource, True if public is None else public, get(props, "vpcConfig", "publicAccessCidrs"),
                            key, props.get("enabledClusterLogTypes"))
    if resource.type == ACK_CLUSTER:
        # ACK's public endpoint (an internet SLB) takes no source list: public means the whole internet.
        return ControlPlane(resource, props.get("slbInternetEnabled", True), None, props.get("encryptionProviderKey"),
                            props.get("controlPlaneLogComponents"), flag(get(props, "auditLogConfig", "enabled")))
    return None


def _missing_logs(logs: Any, required: Sequence[str]) -> list[str]:
    return [] if logs is UNKNOWN else [t for t in required if t not in as_list(logs)]


def control_plane_encrypted_and_audited(resource: Resource, context: Context) -> list[str]:
    """Every EKS or ACK cluster envelope-encrypts Kubernetes Secrets with a KMS key and ships its API and
    audit logs (who did what to the cluster, the evidence for any incident), whatever the stack is for."""
    plane = control_plane(resource)
    if plane is None:
        return []
    problems = []
    if plane.secrets_key in (None, ""):
        problems.append("Kubernetes Secrets are not envelope-encrypted with a KMS key "
                        + ("(encryptionConfigKeyArn)" if resource.type != ACK_CLUSTER else "(encryptionProviderKey)"))
    required = ACK_LOG_COMPONENTS if resource.type == ACK_CLUSTER else EKS_LOG_TYPES
    missing = _missing_logs(plane.logs, required)
    if missing:
        problems.append(f"control-plane logs miss {', '.join(missing)} (kserve-fluid:cluster.logTypes)")
    if plane.audit is False:
        problems.append("auditLogConfig.enabled is false; keep the API server's audit log on")
    return problems


# ------------------------------------------------------------------------------------------- machines

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EBS_VOLUME = "aws:ebs/volume:Volume"
ECS_INSTANCE = "alicloud:ecs/instance:Instance"
ACK_NODE_POOL = "alicloud:cs/nodePool:NodePool"


def _aws_metadata(options: Any) -> list[str]:
    """IMDSv2 only (a session token), reachable from the node but not from its pods (hop limit 1), so a
    pod or an SSRF bug cannot take the node role's credentials."""
    if options is UNKNOWN or get(options, "httpEndpoint") == "disabled":
        return []
    problems = []
    if get(options, "httpTokens") not in ("required", UNKNOWN):
        problems.append(f"metadataOptions.httpTokens {get(options, 'httpTokens')!r}; require IMDSv2 ('required')")
    hops = get(options, "httpPutResponseHopLimit")
    if hops is not UNKNOWN and (number(hops) is None or number(hops) > 1):
        problems.append(f"metadataOptions.httpPutResponseHopLimit {hops!r}; 1 keeps pods off the node's metadata")
    return problems


def _unencrypted(disks: Sequence[tuple[str, Any]]) -> list[str]:
    return [f"{where} is not encrypted" for where, encrypted in disks if flag(encrypted) not in (True, UNKNOWN)]


def compute_imdsv2_encrypted_disks_private(resource: Resource, context: Context) -> list[str]:
    """Machines (launch templates, instances, node groups and pools) require IMDSv2, encrypt every disk and
    get no public address: a leaked disk snapshot or a metadata SSRF must not expose model or cluster data."""
    props, kind = resource.props, resource.type
    if kind == LAUNCH_TEMPLATE:
        ebs = [(f"blockDeviceMappings[{i}]", get(m, "ebs", "encrypted"))
               for i, m in enumerate(mappings(props.get("blockDeviceMappings"))) if get(m, "ebs") is not None]
        missing = [] if ebs or props.get("blockDeviceMappings") is UNKNOWN else [
            "no blockDeviceMappings: the root volume is the AMI's default, not declared encrypted"]
        return _aws_metadata(props.get("metadataOptions")) + _unencrypted(ebs) + missing
    if kind == EC2_INSTANCE:
        disks = [("rootBlockDevice", get(props, "rootBlockDevice", "encrypted"))]
        disks += [(f"ebsBlockDevices[{i}]", d.get("encrypted")) for i, d in enumerate(mappings(props.get("ebsBlockDevices")))]
        public = ["associatePublicIpAddress is true"] if flag(props.get("associatePublicIpAddress")) is True else []
        return _aws_metadata(props.get("metadataOptions")) + _unencrypted(disks) + public
    if kind == EKS_NODE_GROUP:
        problems = [] if props.get("launchTemplate") else [
            "no launchTemplate: the nodes get EKS's defaults (IMDS reachable from pods, root volume not declared encrypted)"]
        return problems + (["remoteAccess opens SSH to the nodes; use SSM"] if props.get("remoteAccess") else [])
    if kind == EBS_VOLUME:
        return _unencrypted([("the volume", props.get("encrypted"))])
    if kind in (ECS_INSTANCE, ACK_NODE_POOL):
        tokens = props.get("httpTokens") if kind == ECS_INSTANCE else get(props, "instanceMetadataOptions", "httpTokens")
        problems = [] if tokens in ("required", UNKNOWN) else [
            f"metadata httpTokens {tokens!r}; require the hardened mode (IMDSv2, 'required')"]
        disks = [("the system disk", props.get("systemDiskEncrypted"))]
        disks += [(f"dataDisks[{i}]", d.get("encrypted")) for i, d in enumerate(mappings(props.get("dataDisks")))]
        bandwidth = number(props.get("internetMaxBandwidthOut"))
        public = [f"internetMaxBandwidthOut {bandwidth:g} gives the machine a public address"] if bandwidth else []
        return problems + _unencrypted(disks) + public
    return []


# ----------------------------------------------------------------------------------------------- keys

AWS_KMS_KEY = "aws:kms/key:Key"
ALICLOUD_KMS_KEY = "alicloud:kms/key:Key"
MAX_ROTATION_DAYS = 365


def _days(interval: Any) -> float | None:
    """'365d', '8760h' or '31536000s' (Alibaba's rotationInterval) in days."""
    found = re.fullmatch(r"(\d+)([dhs])", str(interval))
    return None if found is None else int(found[1]) / {"d": 1, "h": 24, "s": 86400}[found[2]]


def kms_keys_rotate(resource: Resource, context: Context) -> list[str]:
    """Symmetric KMS keys (bucket and Secrets envelope keys) rotate at least yearly, which limits what one
    leaked key version can decrypt."""
    props = resource.props
    if resource.type == AWS_KMS_KEY:
        if props.get("customerMasterKeySpec", props.get("keySpec")) not in (None, "SYMMETRIC_DEFAULT"):
            return []  # asymmetric and HMAC keys cannot rotate automatically
        problems = [] if flag(props.get("enableKeyRotation")) in (True, UNKNOWN) else ["enableKeyRotation is not true"]
        period = number(props.get("rotationPeriodInDays"))
        return problems + ([f"rotationPeriodInDays {period:g} exceeds {MAX_ROTATION_DAYS}"]
                           if period and period > MAX_ROTATION_DAYS else [])
    if resource.type == ALICLOUD_KMS_KEY:
        if props.get("automaticRotation") not in ("Enabled", UNKNOWN):
            return [f"automaticRotation {props.get('automaticRotation')!r}; set 'Enabled'"]
        interval = props.get("rotationInterval")
        days = _days(interval)
        if interval is UNKNOWN or (days is not None and days <= MAX_ROTATION_DAYS):
            return []
        return [f"rotationInterval {interval!r}; rotate at least every {MAX_ROTATION_DAYS} days (e.g. '365d')"]
    return []


# ------------------------------------------------------------------------------------------- networks

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ECS_SECURITY_GROUP_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"


def _ingress_sources(resource: Resource) -> list[tuple[str, list[Any]]]:
    props = resource.props
    if resource.type == SECURITY_GROUP:
        return [(f"ingress[{i}]", items(r.get("cidrBlocks")) + items(r.get("ipv6CidrBlocks")))
                for i, r in enumerate(mappings(props.get("ingress")))]
    if resource.type == SECURITY_GROUP_RULE and props.get("type") == "ingress":
        return [("the rule", items(props.get("cidrBlocks")) + items(props.get("ipv6CidrBlocks")))]
    if resource.type == SECURITY_GROUP_INGRESS:
        return [("the rule", [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c])]
    if resource.type == ECS_SECURITY_GROUP_RULE and props.get("type") == "ingress":
        return [("the rule", [c for c in (props.get("cidrIp"), props.get("ipv6CidrIp")) if c])]
    return []


def no_internet_ingress(resource: Resource, context: Context) -> list[str]:
    """No security group admits the internet: the deployer and the nodes take no inbound traffic from
    outside the VPC (load balancers for the gateway are opened by Kubernetes, not here)."""
    return [f"{where} admits the internet ({', '.join(map(str, cidrs))})"
            for where, cidrs in _ingress_sources(resource) if cidrs and internet_wide(cidrs)]


# ------------------------------------------------------------------------------------------------ IAM

POLICY_DOCUMENTS = {
    "aws:iam/policy:Policy": "policy", "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy", "aws:iam/groupPolicy:GroupPolicy": "policy",
    "alicloud:ram/policy:Policy": "policyDocument",
}
TRUST_POLICIES = {"aws:iam/role:Role": "assumeRolePolicy", "alicloud:ram/role:Role": "assumeRolePolicyDocument"}
# Data services where "any resource" is never needed: reading or writing every bucket or key.
DATA_SERVICES = ("s3", "oss", "kms")
_LISTING = re.compile(r"(list|describe)", re.IGNORECASE)


def _broad(statement: Mapping[str, Any]) -> list[str]:
    if statement.get("NotAction") is not None:
        return ["NotAction allows everything it does not name"]
    problems = [f"Action {a!r} grants a whole service" for a in actions(statement)
                if a == "*" or a.endswith(":*")]
    if "*" in as_list(statement.get("Resource")):
        problems += [f"Action {a!r} on Resource '*' reaches every bucket or key"
                     for a in actions(statement) if a.split(":")[0].lower() in DATA_SERVICES
                     and not _LISTING.match(a.split(":", 1)[-1])]
    return problems


def iam_policies_least_privilege(resource: Resource, context: Context) -> list[str]:
    """IAM/RAM policies name the actions they need (no `*` or `service:*`, no NotAction) and scope data
    actions (S3, OSS, KMS) to the buckets and keys of this stack; trust policies name who may assume."""
    problems = []
    document = resource.get(POLICY_DOCUMENTS[resource.type]) if resource.type in POLICY_DOCUMENTS else None
    for index, statement in enumerate(statements(document) or []):
        if allows(statement):
            problems += [f"Statement[{index}]: {p}" for p in _broad(statement)]
    trust = resource.get(TRUST_POLICIES[resource.type]) if resource.type in TRUST_POLICIES else None
    for index, statement in enumerate(statements(trust) or []):
        if allows(statement) and public_principal(statement):
            problems.append(f"trust Statement[{index}]: anyone (Principal '*') may assume the role")
    return problems
