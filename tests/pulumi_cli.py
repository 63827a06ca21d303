"""The checks the Pulumi CLI applies to Pulumi.yaml and a stack's config before it runs a program.

Mocks never read Pulumi.yaml, so a project can pass every mocked test and be refused by `pulumi up` at its
first step. This follows pulumi/pulumi at v3.259.0:
- sdk/go/common/workspace/project.json: the schema of a config declaration (type one of string, integer,
  boolean, array, object; `object` since v3.186.0);
- sdk/go/common/workspace/project.go, Project.Validate: not both default and value; an array needs items; a
  typed default must match its type; another namespace's key takes only `value`;
- pkg/workspace/config.go, mergeConfig: a project key declared with neither default nor value is required;
  validateStackConfigValue: a typed stack value must match its type, a `secret: true` key must be `secure:`.
"""

from __future__ import annotations

import math
from typing import Any

TYPES = ("string", "integer", "boolean", "array", "object")


def _valid(type_name: str, items: dict | None, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value == math.trunc(value)):
            return True
        return isinstance(value, str) and value.lstrip("-").isdigit()
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    return isinstance(value, list) and bool(items) and all(_valid(items.get("type", ""), items.get("items"), v) for v in value)


def project_problems(project: dict) -> list[str]:
    name, problems = project.get("name"), []
    for key, decl in (project.get("config") or {}).items():
        if not isinstance(decl, dict):
            continue
        own = ":" not in key or key.startswith(f"{name}:")
        unknown = set(decl) - {"type", "items", "description", "secret", "default", "value"}
        if unknown:
            problems.append(f"{key}: unknown attributes {sorted(unknown)}")
        if "default" in decl and "value" in decl:
            problems.append(f"{key}: cannot have both a 'default' and 'value' attribute")
        typ = decl.get("type")
        if typ is not None and typ not in TYPES:
            problems.append(f"{key}: type {typ!r} is not one of {TYPES}")
        if own:
            if typ == "array" and not decl.get("items"):
                problems.append(f"{key}: declares an array but no 'items'")
            if typ is not None and "default" in decl and not _valid(typ, decl.get("items"), decl["default"]):
                problems.append(f"{key}: the default is not of type '{typ}'")
        elif typ is not None or "default" in decl or "value" not in decl:
            problems.append(f"{key}: not namespaced by the project: only a 'value' is allowed")
    return problems


def stack_problems(project: dict, stack: str, stack_config: dict) -> list[str]:
    """What `pulumi up -s <stack>` says before running the program (empty when it would run it)."""
    name, problems, missing = project["name"], [], []
    for key, decl in sorted((project.get("config") or {}).items()):
        full = key if ":" in key else f"{name}:{key}"
        if not full.startswith(f"{name}:") or not isinstance(decl, dict):
            continue
        if full not in stack_config:
            if "default" not in decl and "value" not in decl:
                missing.append(key.split(":", 1)[-1])
            continue
        value = stack_config[full]
        secure = isinstance(value, dict) and set(value) == {"secure"}
        if decl.get("secret") and not secure:
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
        if decl.get("type") and not secure and not _valid(decl["type"], decl.get("items"), value):
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be of type '{decl['type']}'")
    if missing:
        problems.append(f"Stack '{stack}' is missing configuration values {', '.join(repr(m) for m in missing)}")
    return problems
