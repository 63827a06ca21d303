"""kserve-fluid-guardrails: the policy pack behind `pulumi preview --policy-pack policy`.

The CLI runs this directory with the pack's own Python (`python policy/`, this directory first on
sys.path) and talks to it over gRPC. Each guardrail of rules/ becomes one mandatory policy:

* resource rules -> ResourceValidationPolicy: judged on each resource before it is created or updated;
* stack rules -> StackValidationPolicy: judged once on all resources, after a preview or an update.

Only pulumi-policy's public API is used. What a rule is given:

* ``Resource``: type, name, URN, the properties as plain data (values the engine does not know yet, during
  a preview, become ``rules.UNKNOWN`` instead of making the whole policy "not runnable during preview"),
  the `protect` option and, for stack rules, which resources each property was computed from;
* ``Context``: the values of the project's secret config keys (the engine hands the stack's decrypted
  config to the pack in PULUMI_CONFIG, and pulumi-policy loads it into the Pulumi runtime before each
  analysis; a credential equal to one of them came from `pulumi config set --secret`), and whether the
  *policy* config -- set by whoever enforces the pack, not by the stack -- declares this stack durable
  (``durable-data-is-protected: {durableStacks: [patterns]}``).

Which inputs are Pulumi secrets is deliberately not used: the Kubernetes SDKs mark every Secret's data
secret, so secrecy says nothing about where a credential came from (docs/guardrails.md).
tests/test_policy_pack.py starts this file the way the CLI does and drives it over gRPC.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi.runtime
import rules  # the CLI runs the pack with this directory first on sys.path
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError
from rules.credentials import SECRET_CONFIG_KEYS

PACK_NAME = "kserve-fluid-guardrails"


def known_values(value: Any) -> Any:
    """pulumi-policy's unknown-checking proxies as plain data, unknown values as rules.UNKNOWN."""
    if isinstance(value, Mapping):
        return {key: _known_item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_known_item(value, index) for index in range(len(value))]
    return value


def _known_item(container: Any, key: Any) -> Any:
    try:
        return known_values(container[key])
    except UnknownValueError:
        return rules.UNKNOWN


def context(policy_config: Mapping[str, Any], urn: str) -> rules.Context:
    """The secret config values of the stack being analyzed (pulumi-policy loads the config per call) and
    whether the policy config declares the stack (named in every URN) durable."""
    secrets = frozenset(v for key in SECRET_CONFIG_KEYS if (v := pulumi.runtime.get_config(key)))
    patterns = policy_config.get(rules.DURABLE_STACKS_KEY) or ()
    return rules.Context(secrets, durable=rules.declared_durable(rules.stack_of(urn), patterns))


DURABLE_STACKS_SCHEMA = PolicyConfigSchema(properties={rules.DURABLE_STACKS_KEY: {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "Stack-name patterns whose data is durable whatever the stack sets (no forceDestroy).",
}})


def _resource_policy(guardrail: rules.Guardrail[rules.ResourceRule]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = rules.Resource(args.resource_type, args.name, known_values(args.props),
                                  protect=bool(args.opts.protect), urn=args.urn)
        for message in guardrail.check(resource, context(args.get_config(), args.urn)):
            report_violation(message, None)

    return ResourceValidationPolicy(name=guardrail.name, description=guardrail.description, validate=validate)


def _as_resource(r: PolicyResource) -> rules.Resource:
    dependencies = {prop: tuple(d.urn for d in deps) for prop, deps in r.property_dependencies.items()}
    return rules.Resource(r.resource_type, r.name, known_values(r.props), protect=bool(r.opts.protect), urn=r.urn,
                          property_dependencies=dependencies)


def _stack_policy(guardrail: rules.Guardrail[rules.StackRule]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [_as_resource(r) for r in args.resources]
        stack_context = context(args.get_config(), next((r.urn for r in resources if r.urn), ""))
        for finding in guardrail.check(resources, stack_context):
            report_violation(finding.message, finding.resource.urn if finding.resource else None)

    schema = DURABLE_STACKS_SCHEMA if guardrail.name == rules.DURABLE_STACKS_POLICY else None
    return StackValidationPolicy(name=guardrail.name, description=guardrail.description, validate=validate,
                                 config_schema=schema)


POLICIES: list[Policy] = [*map(_resource_policy, rules.GUARDRAILS), *map(_stack_policy, rules.STACK_GUARDRAILS)]


def main() -> None:
    """Serve the pack to the engine (prints the port, then blocks until the engine stops it)."""
    PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)


if __name__ == "__main__":
    main()
