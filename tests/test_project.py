"""The Pulumi CLI accepts the project and every stack, a new stack too, before it runs the program; the
generated reference and declarations match the schema they come from."""

from __future__ import annotations

import yaml

from components import configdocs
from tests import pulumi_cli
from tests.conftest import STACKS
from tests.harness import ROOT

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def stack_file(stack: str) -> dict:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_pulumi_yaml_is_a_valid_project():
    assert pulumi_cli.project_problems(PROJECT) == []
    assert PROJECT["stackConfigDir"] == "stacks"


def test_every_committed_stack_passes_the_cli():
    for stack in STACKS:
        assert pulumi_cli.stack_problems(PROJECT, stack, stack_file(stack)) == [], stack


def test_a_new_stack_passes_the_cli_and_the_program_says_what_is_missing():
    assert pulumi_cli.stack_problems(PROJECT, "fresh", {}) == []
    from components import config
    from tests import harness

    result = harness.load("fresh", harness.stack_config("fresh", text="config: {}"))
    assert isinstance(result, config.ConfigError)
    assert result.problems == ["kserve-fluid:cloud: missing; set it to one of aws, alicloud, existing"]


def test_the_checker_refuses_what_the_cli_refuses():
    """The rules are real: each refusal the CLI makes, this test's checker makes too."""
    assert pulumi_cli.stack_problems(PROJECT, "s", {"kserve-fluid:hfToken": "hf_plain"}) == [
        "Stack 's' with configuration key 'kserve-fluid:hfToken' must be encrypted as it's secret"]
    assert pulumi_cli.stack_problems(PROJECT, "s", {"kserve-fluid:gpuPool": "g5.xlarge"}) == [
        "Stack 's' with configuration key 'kserve-fluid:gpuPool' must be of type 'object'"]
    required = {**PROJECT, "config": {**PROJECT["config"], "kserve-fluid:x": {"type": "string"}}}
    assert pulumi_cli.stack_problems(required, "s", {}) == ["Stack 's' is missing configuration values 'x'"]
    assert pulumi_cli.project_problems({"name": "p", "config": {"aws:region": {"type": "string", "default": "x"}}})


def test_every_project_key_is_declared_with_a_default_and_secrets_are_secret():
    from components import config

    declared = {k.split(":", 1)[1]: v for k, v in PROJECT["config"].items()}
    assert set(declared) == {*config.SCALARS, *config.SECTIONS, *config.SECRET_KEYS}
    assert all("default" in decl for decl in declared.values())
    assert all(declared[k]["secret"] and declared[k]["default"] == "" for k in config.SECRET_KEYS)


def test_generated_reference_and_declarations_are_up_to_date():
    assert configdocs.main(["--check"]) == 0, "run: python -m components.configdocs"


def test_no_stack_file_commits_a_secret():
    for stack in STACKS:
        assert "secure:" not in (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(), stack
