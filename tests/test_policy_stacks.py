"""Every committed stack passes the policy pack: the program runs under mocks for each stack file, and
every registered resource goes through every guardrail of policy/rules.py with that stack's environment,
its `protect` option and the paths of its secret inputs -- what `pulumi preview --policy-pack policy`
would check, without a cloud account."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from policy import rules
from tests import harness
from tests.conftest import STACKS

# Resource types each cloud must register, so the guardrails are not passing on a program that
# registers nothing they look at (or under type tokens they no longer match).
GUARDED_TYPES = {
    "aws": {rules.EKS_CLUSTER, rules.S3_BUCKET, rules.S3_PUBLIC_ACCESS_BLOCK, rules.S3_ENCRYPTION,
            rules.S3_VERSIONING, rules.INFERENCE_SERVICE, rules.HELM_RELEASE},
    "alicloud": {rules.ACK_CLUSTER, rules.OSS_BUCKET, rules.INFERENCE_SERVICE, rules.HELM_RELEASE},
    "existing": {rules.INFERENCE_SERVICE, rules.HELM_RELEASE},
}


def is_secret(value: object) -> bool:
    return isinstance(value, harness.Secret)


def stack_config(stack: str) -> dict:
    return yaml.safe_load((harness.ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_passes_every_guardrail(stack: Callable[[str], harness.Run], name: str) -> None:
    run = stack(name)  # one run per stack per session (conftest), shared with the other stack tests
    environment = stack_config(name).get("kserve-fluid:environment", "dev")
    violations = [
        f"{r.type} {r.name}: {message}"
        for r in run.registrations
        for message in rules.check_all(r.type, r.plain, protect=bool(r.protect), stack_env=environment,
                                       secret_keys=rules.secret_paths(r.inputs, is_secret))
    ]
    assert not violations, f"{name} ({environment}) violates the policy pack:\n  " + "\n  ".join(violations)


@pytest.mark.parametrize("name", STACKS)
def test_the_guardrails_have_resources_to_check(stack: Callable[[str], harness.Run], name: str) -> None:
    registered = {r.type for r in stack(name).registrations}
    missing = GUARDED_TYPES[stack_config(name)["kserve-fluid:cloud"]] - registered
    assert not missing, f"{name} registers none of {sorted(missing)}; a renamed type token would dodge the pack"


@pytest.mark.parametrize("name", ["aws-dev", "alicloud-dev", "byo-dev"])
def test_static_credentials_and_hf_token_stay_secret(name: str) -> None:
    """With static object-store keys and an HF token set as secret config, the Kubernetes Secrets that carry
    them pass both credential guardrails (the access key id below has the shape the literal scan looks for)."""
    cache = {**stack_config(name)["kserve-fluid:cache"], "credentials": "static"}
    secrets = {"storageAccessKeyId": "AKIAIOSFODNN7EXAMPLE", "storageSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
               "hfToken": "hf_example"}
    run = harness.run(name, config=harness.stack_config(name, overrides={"cache": cache}, secrets=secrets),
                      secret_keys=tuple(secrets))
    assert run.error is None, f"{name}: {run.error!r}"
    credentials = [r for r in run.of_type(rules.K8S_SECRET)
                   if any(rules.looks_like_credential(k) for k in (r.plain.get("stringData") or {}))]
    assert credentials, f"{name}: no Kubernetes Secret carries the credentials"
    for r in credentials:
        secret_keys = rules.secret_paths(r.inputs, is_secret)
        for guardrail in (rules.kubernetes_secret_credentials_are_secret, rules.no_literal_access_keys):
            assert guardrail(r.type, r.plain, secret_keys=secret_keys) == [], r.name
