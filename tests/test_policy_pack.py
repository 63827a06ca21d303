"""The policy pack served the way `pulumi preview --policy-pack policy` serves it, driven over gRPC.

The CLI's Python language host runs `python policy/` (the pack's own virtualenv when policy/.venv exists,
else this one) with the stack's decrypted config in PULUMI_CONFIG and the project/stack in the
environment, reads the port the pack prints, and calls the Analyzer service: GetAnalyzerInfo, Configure
(policy config), ConfigureStack, Analyze per resource, AnalyzeStack once. This test does the same, so a
change in pulumi-policy's serving, config or unknown-value handling breaks it -- nothing is patched here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from policy import rules
from tests import harness
from tests.test_policy_stacks import KNOWN_VIOLATIONS

PACK = Path(__file__).resolve().parent.parent / "policy"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
HF_TOKEN = "hf_" + "Pk4" * 12
STACK = "aws-prod"


def pack_python() -> str:
    own = PACK / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {**os.environ, "PULUMI_CONFIG": json.dumps({"kserve-fluid:hfToken": HF_TOKEN}), "PULUMI_PROJECT": "kserve-fluid",
           "PULUMI_STACK": STACK, "PULUMI_DRY_RUN": "true", "PULUMI_ORGANIZATION": "organization"}
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen([pack_python(), str(PACK)], cwd=PACK, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    port = process.stdout.readline().strip() if process.stdout else ""
    if not port.isdigit():
        process.kill()
        pytest.fail(f"the pack did not start: {port!r}\n{process.communicate(timeout=10)[1]}")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=20)
    try:
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        channel.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def configure(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> Iterator[Callable[..., None]]:
    """Set the policy config as `--policy-pack-config` would; back to none afterwards."""
    def apply(**policies: dict[str, Any]) -> None:
        analyzer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
            name: proto.PolicyConfig(enforcementLevel=config.pop("enforcementLevel", proto.MANDATORY),
                                     properties=json_format.ParseDict(config, struct_pb2.Struct()))
            for name, config in policies.items()}))

    apply()
    yield apply
    apply()


def wire(value: Any) -> Any:
    """Inputs as the engine sends them: secrets inside the secret envelope."""
    if isinstance(value, harness.Secret):
        return {**SECRET_SIG, "value": wire(value.value)}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def _struct(inputs: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(wire(inputs), struct_pb2.Struct())


def analyze(analyzer: analyzer_pb2_grpc.AnalyzerStub, r: harness.Registration) -> list[proto.AnalyzeDiagnostic]:
    request = proto.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=_struct(r.inputs),
                                   options=proto.AnalyzerResourceOptions(protect=bool(r.protect)))
    return list(analyzer.Analyze(request).diagnostics)


def analyze_stack(analyzer: analyzer_pb2_grpc.AnalyzerStub, run: harness.Run) -> list[proto.AnalyzeDiagnostic]:
    resources = [proto.AnalyzerResource(
        type=r.type, name=r.name, urn=r.urn, properties=_struct(r.inputs), parent=r.parent, dependencies=r.dependencies,
        options=proto.AnalyzerResourceOptions(protect=bool(r.protect)),
        propertyDependencies={k: proto.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()})
        for r in run.registrations]
    return list(analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources)).diagnostics)


def registration(kind: str, name: str, inputs: dict[str, Any], protect: bool = False) -> harness.Registration:
    return harness.Registration(urn=f"urn:pulumi:{STACK}::kserve-fluid::{kind}::{name}", type=kind, name=name, parent="",
                                custom=True, inputs=inputs, dependencies=[], property_dependencies={}, protect=protect,
                                retain_on_delete=None, provider="", delete_before_replace=False, ignore_changes=[],
                                custom_timeouts={})


# --------------------------------------------------------------------------------------------- tests

def test_the_served_pack_lists_every_guardrail_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "kserve-fluid-guardrails"
    served = {p.name: p for p in info.policies}
    assert [p.name for p in info.policies] == [g.name for g in (*rules.GUARDRAILS, *rules.STACK_GUARDRAILS)]
    assert all(p.enforcementLevel == proto.MANDATORY for p in info.policies)
    assert {served[g.name].policy_type for g in rules.GUARDRAILS} == {proto.POLICY_TYPE_RESOURCE}
    assert {served[g.name].policy_type for g in rules.STACK_GUARDRAILS} == {proto.POLICY_TYPE_STACK}
    assert rules.DURABLE_STACKS_KEY in served[rules.DURABLE_STACKS_POLICY].configSchema.properties


@pytest.mark.parametrize("name", ["aws-prod", "aws-staging", "alicloud-prod"])
def test_committed_stacks_through_the_served_pack(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                  stack: Callable[[str], harness.Run], name: str,
                                                  configure: Callable[..., None]) -> None:
    """Each resource through Analyze, the stack through AnalyzeStack: only the known findings, each on its resource."""
    run = stack(name)
    diagnostics = [(d, r.name) for r in run.registrations for d in analyze(analyzer, r)]
    diagnostics += [(d, d.urn.rsplit("::", 1)[-1]) for d in analyze_stack(analyzer, run)]
    assert all(d.enforcementLevel == proto.MANDATORY for d, _ in diagnostics)
    assert {(d.policyName, where) for d, where in diagnostics} == KNOWN_VIOLATIONS.get(name, set()), \
        "\n".join(d.message for d, _ in diagnostics)


def test_unknown_values_defer_a_check_and_known_ones_are_still_judged(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    """An unknown value during preview neither fails nor turns the policy into an advisory 'cannot run'."""
    pending = {"metadataOptions": harness.UNKNOWN, "blockDeviceMappings": [{"ebs": {"encrypted": harness.UNKNOWN}}]}
    assert analyze(analyzer, registration("aws:ec2/launchTemplate:LaunchTemplate", "nodes", pending)) == []
    bad = {**pending, "blockDeviceMappings": [{"ebs": {"encrypted": "false"}}]}
    diagnostics = analyze(analyzer, registration("aws:ec2/launchTemplate:LaunchTemplate", "nodes", bad))
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("compute-imdsv2-encrypted-disks-private", proto.MANDATORY)]
    assert "blockDeviceMappings[0] is not encrypted" in diagnostics[0].message


def test_a_credential_passes_only_from_the_stacks_secret_config(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    """The engine's PULUMI_CONFIG holds hfToken; a Secret (secret-marked, as the SDK sends it) with that value
    passes, one with any other token fails, and the diagnostic names the resource, never the token."""
    def secret_with(token: str) -> harness.Run:
        inputs = {"stringData": harness.Secret({"HF_TOKEN": token})}
        return harness.Run([registration("kubernetes:core/v1:Secret", "hf", inputs)], {})

    assert analyze_stack(analyzer, secret_with(HF_TOKEN)) == []
    other = "hf_" + "Zq8" * 12
    diagnostics = analyze_stack(analyzer, secret_with(other))
    assert [d.policyName for d in diagnostics] == ["credentials-from-secret-config-or-resources"]
    assert diagnostics[0].urn.endswith("::hf") and other not in diagnostics[0].message


def test_the_durable_declaration_comes_from_policy_config(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                          configure: Callable[..., None]) -> None:
    """A force-destroyable, unprotected bucket is disposable -- unless whoever runs the pack declares the
    stack durable, which the stack itself cannot undo."""
    run = harness.Run([registration("aws:s3/bucket:Bucket", "models", {"forceDestroy": True})], {})
    assert "durable-data-is-protected" not in {d.policyName for d in analyze_stack(analyzer, run)}
    configure(**{rules.DURABLE_STACKS_POLICY: {rules.DURABLE_STACKS_KEY: ["aws-*"]}})
    assert "durable-data-is-protected" in {d.policyName for d in analyze_stack(analyzer, run)}


def test_a_policy_can_be_made_advisory_by_policy_config_only(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                              configure: Callable[..., None]) -> None:
    """The documented way to accept a finding for a while: an advisory level in the policy config."""
    policy = "control-plane-private-for-durable-data"
    configure(**{policy: {"enforcementLevel": proto.ADVISORY}})
    public = harness.run("aws-staging", config=harness.stack_config("aws-staging", {
        "cluster.endpointPublicAccess": True, "cluster.publicAccessCidrs": ["0.0.0.0/0"]}))
    diagnostics = [d for d in analyze_stack(analyzer, public) if d.policyName == policy]
    assert [d.enforcementLevel for d in diagnostics] == [proto.ADVISORY]
