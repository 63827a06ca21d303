"""What every guardrail reads: one resource as plain data, and the shapes several rules share.

A rule sees the resource the engine would create: its type token, its properties (camelCase, as the
engine receives them), its `protect` option and, for the stack-wide rules, its URN and which resources
each property was computed from. Nothing here reads a label the stack gives itself.

This package uses the standard library only, so the same code runs in the policy pack's own
virtualenv and in the project's tests.
"""
from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    """A value the engine does not know yet: during a preview, an output of a resource not created."""

    def __repr__(self) -> str:
        return "<unknown until apply>"


UNKNOWN: Any = _Unknown()
"""Rules treat an unknown value as passing for now; `pulumi up` runs the pack again on the real value."""


@dataclass(frozen=True)
class Resource:
    """One resource as a guardrail sees it."""

    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    urn: str = ""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, *path: str | int) -> Any:
        return get(self.props, *path)

    def derived(self, prop: str) -> bool:
        """True when the engine computed `prop` from another resource's outputs."""
        return bool(self.property_dependencies.get(prop))

    def depends_on(self, prop: str, other: Resource) -> bool:
        return bool(other.urn) and other.urn in self.property_dependencies.get(prop, ())

    def same_source(self, prop: str, other: Resource, other_prop: str) -> bool:
        """True when `prop` here and `other_prop` there hold the same known value, or were computed from the
        same resource (during a preview, names and ids of resources not created yet are unknown)."""
        mine, theirs = self.get(prop), other.get(other_prop)
        if mine not in (None, UNKNOWN) and mine == theirs:
            return True
        return bool(set(self.property_dependencies.get(prop, ())) & set(other.property_dependencies.get(other_prop, ())))


@dataclass(frozen=True)
class Finding:
    """One violation of a stack-wide rule, on a resource (None: the stack as a whole)."""

    resource: Resource | None
    message: str


@dataclass(frozen=True)
class Context:
    """What the pack knows besides the resources.

    * ``secret_values``: the values of the project's secret config keys. A credential equal to one of them
      came from `pulumi config set --secret`, not from the program.
    * ``durable``: whoever enforces the pack (the security team's policy config, never the stack itself)
      declared this stack's data durable, so no bucket of it may be force-destroyable.
    """

    secret_values: frozenset[str] = frozenset()
    durable: bool = False

    def from_secret_config(self, value: str) -> bool:
        return any(secret and (value == secret or (len(secret) >= 8 and secret in value))
                   for secret in self.secret_values)


# --------------------------------------------------------------------------------------------- access

def get(obj: Any, *path: str | int) -> Any:
    """The value at `path` of nested maps and lists: None when absent, UNKNOWN when a step is unknown."""
    for key in path:
        if obj is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            obj = obj[key] if is_list(obj) and -len(obj) <= key < len(obj) else None
        else:
            obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def items(value: Any) -> list[Any]:
    """Elements of a list input; none for an absent or unknown one."""
    return list(value) if is_list(value) else []


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The map elements of a list input."""
    return [v for v in items(value) if isinstance(v, Mapping)]


def as_list(value: Any) -> list[Any]:
    """A policy-document field that may be one value or a list of them."""
    if value is None:
        return []
    return items(value) if is_list(value) else [value]


def flag(value: Any) -> Any:
    """True/False of a boolean input; providers send some as the strings "true"/"false"."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def number(value: Any) -> float | None:
    """A numeric input (the engine sends numbers as floats; Kubernetes quantities may be strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    return None


def strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(item, (*path, key))
    elif is_list(value):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index))


def walk_maps(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every map in a value (itself included) with its path."""
    if isinstance(value, Mapping):
        yield path, value
        for key, item in value.items():
            yield from walk_maps(item, (*path, key))
    elif is_list(value):
        for index, item in enumerate(value):
            yield from walk_maps(item, (*path, index))


def dotted(path: Sequence[str | int]) -> str:
    """('spec', 'containers', 0, 'image') -> 'spec.containers[0].image'."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def namespace_of(resource: Resource) -> Any:
    """A Kubernetes object's namespace ("default" when unset), UNKNOWN when not known yet."""
    return resource.get("metadata", "namespace") or "default"


def matches(value: Any, expected: Any) -> bool:
    """Equality that lets a value not known yet pass, for joins judged again at `pulumi up`."""
    return value is UNKNOWN or expected is UNKNOWN or value == expected


# ------------------------------------------------------------------------------------------ addresses

# Networks that are not on the internet: RFC 1918, carrier-grade NAT (RFC 6598) and IPv6 unique-local.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                           "100.64.0.0/10", "fc00::/7"))
# A CIDR list reaches "the internet" when it covers more public addresses than this: a /16 for IPv4 (no
# office or CI egress needs more) and a /32 for IPv6 (an ISP's allocation). 0.0.0.0/0, and the same space
# split into 0.0.0.0/1 + 128.0.0.0/1, are far above it.
MAX_PUBLIC_ADDRESSES = {4: 2 ** 16, 6: 2 ** 96}


def _networks(cidrs: Sequence[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    try:
        return [ipaddress.ip_network(str(c).strip(), strict=False) for c in cidrs]
    except ValueError:
        return None


def internet_wide(cidrs: Sequence[Any]) -> bool:
    """True when the CIDRs together admit more of the internet than MAX_PUBLIC_ADDRESSES (an entry that
    is not a CIDR counts as the whole internet: it cannot be judged)."""
    networks = _networks([c for c in cidrs if c is not UNKNOWN])
    if networks is None:
        return True
    for version, limit in MAX_PUBLIC_ADDRESSES.items():
        public = [n for n in ipaddress.collapse_addresses(n for n in networks if n.version == version)
                  if not any(n.subnet_of(p) for p in PRIVATE_NETWORKS if p.version == version)]
        if any(n.prefixlen == 0 for n in public) or sum(n.num_addresses for n in public) > limit:
            return True
    return False


def private_only(cidrs: Sequence[Any]) -> bool:
    """True when every CIDR lies inside PRIVATE_NETWORKS (an empty list is not private: it admits all)."""
    networks = _networks(cidrs)
    return bool(networks) and all(any(n.version == p.version and n.subnet_of(p) for p in PRIVATE_NETWORKS)
                                  for n in networks)


# ----------------------------------------------------------------------------------- policy documents

def statements(document: Any) -> list[Mapping[str, Any]] | None:
    """The statements of an IAM/RAM/bucket policy (a JSON string or a map); None when unknown or unparsable."""
    if document is UNKNOWN:
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, Mapping):
        return None
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "allow"


def denies(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "deny"


def public_principal(statement: Mapping[str, Any]) -> bool:
    """Principal "*" in any spelling: "*", ["*"], {"AWS": "*"}, {"*": ["*"]}."""
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        return "*" in principal or any("*" in as_list(v) for v in principal.values())
    return "*" in as_list(principal)


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """The values a statement's Condition tests `key` against, under any operator (lower-cased)."""
    condition = statement.get("Condition")
    found: list[str] = []
    for tests in (condition.values() if isinstance(condition, Mapping) else ()):
        if isinstance(tests, Mapping):
            for name, values in tests.items():
                if str(name).lower() == key.lower():
                    found += [str(v).lower() for v in as_list(values)]
    return found


# ------------------------------------------------------------------------------------------- versions

EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_VERSIONED_TAG = re.compile(r"\d+\.\d+")


def image_problem(reference: str) -> str | None:
    """Why an image reference is not pinned, or None: a digest, or a tag that names a version (it carries
    at least major.minor). `latest`, no tag and moving names such as `dev` or `main` are not pins."""
    if _DIGEST.search(reference):
        return None
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (pulls :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() == "latest" or not _VERSIONED_TAG.search(tag):
        return f"tag {tag!r} moves; pin a version tag or an @sha256 digest"
    return None
