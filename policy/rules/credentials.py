"""Credentials: where they may live, where they may come from, and what a static key may do.

Pulumi's secret marking says nothing about where a value came from: the Kubernetes SDKs mark every
Secret's `data`/`stringData` secret, so a key typed into the program looks exactly like one from
`pulumi config set --secret`. These rules judge provenance instead:

* outside a Kubernetes Secret (or a provider's own inputs) no input carries a credential at all: a key in
  a pod's env, a ConfigMap, Helm values or user data is readable by anyone who can read that object;
* a credential in a Secret or a provider comes from the project's secret config (the CLI refuses those
  keys unencrypted) or is computed from another resource (an access key the stack creates); anything
  else was written into the program or a stack file, hence into git;
* a static access key the stack creates may only read.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .values import (
    UNKNOWN,
    Context,
    Finding,
    Resource,
    actions,
    allows,
    dotted,
    statements,
    strings,
    walk_maps,
)

# The project's config keys declared `secret: true` in Pulumi.yaml (tests/test_policy_rules.py checks the
# two agree). The CLI refuses to run with any of them stored unencrypted.
SECRET_CONFIG_KEYS = ("kserve-fluid:kubeconfig", "kserve-fluid:hfToken", "kserve-fluid:storageAccessKeyId",
                      "kserve-fluid:storageSecretAccessKey")
K8S_SECRET = "kubernetes:core/v1:Secret"
# Resources whose inputs stay with Pulumi (the engine, the state) instead of becoming a cloud or cluster
# object: providers, and dynamic resources such as the Hugging Face revision lookup, which needs the token.
PULUMI_SIDE = ("pulumi:providers:", "pulumi-python:dynamic/", "pulumi-nodejs:dynamic/")
_SERIALIZED_PROVIDER = "__provider"  # a dynamic resource's pickled provider code, not data

CREDENTIAL_PATTERNS = {
    "an AWS access key id": re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "an Alibaba Cloud AccessKey id": re.compile(r"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{12,30}(?![A-Za-z0-9])"),
    "a Hugging Face token": re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"),
    "a GitHub token": re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "a JSON Web Token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
}
# How a credential's *name* ends, lower-cased without punctuation: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# fs.oss.accessKeyId, fs.oss.accessKeySecret, HF_TOKEN, password, tls.key, .dockerconfigjson, ... but not
# secretName, tokenTTL or automountServiceAccountToken (a boolean).
_CREDENTIAL_NAME = re.compile(r"(accesskey(id|secret)?|secret(accesskey|key)?|password|passwd|token|apikey|"
                              r"privatekey|credentials?|dockerconfigjson|tlskey)$")


def looks_like_credential(name: str) -> bool:
    return bool(_CREDENTIAL_NAME.search(re.sub(r"[^a-z0-9]", "", str(name).lower())))


def credential_kind(value: str) -> str | None:
    """What credential a value contains, judged by its shape; None when it looks like none."""
    return next((what for what, pattern in CREDENTIAL_PATTERNS.items() if pattern.search(value)), None)


def _holds_credentials(resource: Resource) -> bool:
    """The resources a credential may live in: Kubernetes Secrets and Pulumi-side resources."""
    return resource.type == K8S_SECRET or resource.type.startswith(PULUMI_SIDE)


def no_plaintext_credentials(resource: Resource, context: Context) -> list[str]:
    """No input outside a Kubernetes Secret (or a Pulumi-side resource: a provider, a dynamic resource)
    carries a credential: no key- or token-shaped value anywhere, no credential-named env var with a
    literal value (use valueFrom.secretKeyRef), ConfigMap key, Fluid mount option (use encryptOptions) or
    chart value. The credential itself is never echoed."""
    if _holds_credentials(resource):
        return []  # judged by credentials-from-secret-config-or-resources
    problems = []
    for path, text in strings(resource.props):
        what = credential_kind(text)
        if what:
            problems.append(f"{dotted(path)}: contains {what}; keep credentials in a Kubernetes Secret fed by "
                            "secret config, or use workload identity (IRSA/RRSA)")
        elif path and isinstance(path[-1], str) and looks_like_credential(path[-1]) and text.strip():
            problems.append(f"{dotted(path)}: a credential-named value in plaintext; reference a Secret instead")
    for path, entry in walk_maps(resource.props):
        name, value = entry.get("name"), entry.get("value")
        if isinstance(name, str) and looks_like_credential(name) and isinstance(value, str) and value.strip():
            problems.append(f"{dotted((*path, 'value'))}: {name} is set to a literal; use valueFrom.secretKeyRef")
    return problems


# ---------------------------------------------------------------------------------------- provenance

def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="ignore")
    except (binascii.Error, ValueError):
        return value


def _credential_entries(resource: Resource) -> Iterator[tuple[str, str, str]]:
    """(property, where, value) of every credential a Secret or Pulumi-side resource carries."""
    if resource.type == K8S_SECRET:
        for field in ("stringData", "data"):
            entries = resource.get(field)
            for key, raw in (entries.items() if isinstance(entries, Mapping) else ()):
                value = _decoded(raw) if field == "data" and isinstance(raw, str) else raw
                if isinstance(value, str) and value.strip() and (looks_like_credential(key) or credential_kind(value)):
                    yield field, f"{field}.{key}", value
        return
    for path, value in strings({k: v for k, v in resource.props.items() if k != _SERIALIZED_PROVIDER}):
        named = bool(path) and isinstance(path[-1], str) and looks_like_credential(path[-1])
        if value.strip() and (named or credential_kind(value)):
            yield str(path[0]), dotted(path), value


def credentials_from_secret_config_or_resources(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """A credential in a Kubernetes Secret or a Pulumi-side resource comes from the project's secret config
    or from another resource of the stack; one written into the program ends up in git and in every clone."""
    findings = []
    for resource in resources:
        if not _holds_credentials(resource):
            continue
        for prop, where, value in _credential_entries(resource):
            if not (resource.derived(prop) or context.from_secret_config(value)):
                findings.append(Finding(resource, f"{where}: a credential written into the program; set it with "
                                                  "`pulumi config set --secret` (kserve-fluid:hfToken, "
                                                  "storageAccessKeyId, storageSecretAccessKey) or create it as a resource"))
    return findings


# --------------------------------------------------------------------------------------- static keys

AWS_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
RAM_ACCESS_KEY = "alicloud:ram/accessKey:AccessKey"
RAM_USER_POLICY_ATTACHMENT = "alicloud:ram/userPolicyAttachment:UserPolicyAttachment"
RAM_POLICY = "alicloud:ram/policy:Policy"
_READ_VERBS = re.compile(r"(get|list|head|describe)", re.IGNORECASE)


def read_only(document: Any) -> bool:
    """Every Allow statement of a policy only reads (Get*/List*/Head*/Describe* actions)."""
    found = statements(document)
    return found is not None and all(
        a != "*" and _READ_VERBS.match(a.split(":", 1)[-1]) for s in found if allows(s) for a in actions(s))


def _attached_policies(key: Resource, resources: Sequence[Resource]) -> Iterator[tuple[Resource, Resource | None]]:
    """(attachment, the Custom policy it attaches if the stack creates it) for the user of a RAM AccessKey."""
    for attachment in (r for r in resources if r.type == RAM_USER_POLICY_ATTACHMENT):
        if attachment.same_source("userName", key, "userName"):
            policy = next((p for p in resources if p.type == RAM_POLICY
                           and p.same_source("policyName", attachment, "policyName")), None)
            yield attachment, policy


def static_keys_read_only(resources: Sequence[Resource], context: Context) -> list[Finding]:
    """AWS has workload identity (IRSA) for every pod here, so the stack creates no IAM access key. An
    Alibaba Cloud AccessKey (the Jindo cache's) belongs to a RAM user whose every policy only reads: a
    leaked key can read models, never change or delete them."""
    findings = [Finding(r, "an IAM access key: use IRSA (a role per service account) instead")
                for r in resources if r.type == AWS_ACCESS_KEY]
    for key in (r for r in resources if r.type == RAM_ACCESS_KEY):
        user = key.get("userName")
        if user is UNKNOWN:
            continue
        attached = list(_attached_policies(key, resources))
        if not attached:
            findings.append(Finding(key, f"the AccessKey's user {user!r} has no policy this stack can check"))
        for attachment, policy in attached:
            name = attachment.get("policyName")
            if attachment.get("policyType") == "System":
                sound = isinstance(name, str) and name.endswith("ReadOnlyAccess")
            else:
                sound = policy is not None and read_only(policy.get("policyDocument"))
            if not sound and name is not UNKNOWN:
                findings.append(Finding(key, f"the AccessKey's user {user!r} holds policy {name!r}, which does more "
                                             "than read (or is not created by this stack)"))
    return findings

