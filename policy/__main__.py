"""kserve-fluid-guardrails: the policy pack behind `pulumi preview --policy-pack policy`.

Each policy is a thin wrapper around one pure rule of rules.py (see there for what is enforced and
why); every policy is mandatory, so a violation fails the preview or the update.

What each rule is given:

* ``props``: the resource inputs as plain data. Values the engine does not know yet (preview) become
  ``rules.UNKNOWN`` instead of making the whole policy "not runnable during preview".
* ``protect``: ``args.opts.protect``.
* ``stack_env``: the stack's own ``kserve-fluid:environment``. The engine passes the stack config to
  the pack (the ``PULUMI_CONFIG`` environment variable) and pulumi-policy loads it into
  ``pulumi.Config`` before each analysis; unset means ``dev``, the project default in Pulumi.yaml.
  (``args.get_config()`` is the *policy* config of ``--policy-pack-config``, not the stack's.)
* ``secret_keys``: which inputs reached the engine as Pulumi secrets. pulumi-policy strips the secret
  envelopes before a validation policy sees ``args.props`` (``deserialize_properties`` with
  ``proxy_secrets=False`` in its Analyze), so secrecy cannot be read from the props. The pack wraps
  that one deserializer: string values inside a secret envelope become ``SecretString`` -- still a
  ``str`` to every rule -- and their paths become ``secret_keys``. This touches pulumi-policy
  internals, hence the exact pin in requirements.txt; tests/test_policy_rules.py drives the SDK's
  real Analyze path so an upgrade that breaks it fails the tests instead of silently passing secrets.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_policy.deserialize as sdk_deserialize
import pulumi_policy.policy as sdk_policy
import rules  # the CLI runs the pack with this directory first on sys.path
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "kserve-fluid-guardrails"
PROJECT = "kserve-fluid"


class SecretString(str):
    """A string input that the engine received as a Pulumi secret."""


def _mark_secrets(value: Any, secret: bool = False) -> Any:
    """Wire-format properties without secret envelopes; strings that were inside one become SecretString."""
    if isinstance(value, dict):
        if value.get(sdk_deserialize.SPECIAL_SIG_KEY) == sdk_deserialize.SPECIAL_SECRET_SIG:
            return _mark_secrets(value.get("value"), True)
        if sdk_deserialize.SPECIAL_SIG_KEY in value:  # assets and archives: left to the SDK
            return value
        return {k: _mark_secrets(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_secrets(v, secret) for v in value]
    return SecretString(value) if secret and isinstance(value, str) else value


def deserialize_marking_secrets(props: dict[str, Any], proxy_secrets: bool = False) -> Any:
    """Drop-in for pulumi-policy's deserialize_properties that keeps secrecy visible (see module doc).

    Remediations (``proxy_secrets=True``) get the SDK's own secret proxies, unchanged.
    """
    return sdk_deserialize.deserialize_properties(props if proxy_secrets else _mark_secrets(props), proxy_secrets)


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


def stack_environment() -> str:
    return pulumi.Config(PROJECT).get("environment") or "dev"


def _policy(guardrail: rules.Guardrail) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        props = known_values(args.props)
        secret_keys = rules.secret_paths(props, lambda v: isinstance(v, SecretString))
        for message in guardrail.check(args.resource_type, props, protect=bool(args.opts.protect),
                                       stack_env=stack_environment(), secret_keys=secret_keys):
            report_violation(message, None)

    return ResourceValidationPolicy(name=guardrail.name, description=guardrail.description, validate=validate)


POLICIES: list[Policy] = [_policy(g) for g in rules.GUARDRAILS]


def main() -> None:
    """Serve the pack to the engine (blocks until the engine stops it)."""
    sdk_policy.deserialize_properties = deserialize_marking_secrets
    PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)


if __name__ == "__main__":
    main()
