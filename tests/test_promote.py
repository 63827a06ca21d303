"""`python -m tools.promote`: the release block moves, nothing else in the target does, and every
refusal says why. Runs on temporary copies of the committed stack files; the Pulumi CLI is faked."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import promote

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "pulumi.yml"
NEW_SHA = "0123456789abcdef0123456789abcdef01234567"
PROD_SHA = "d10aef7999a2b5ba950ab3974312feeedbfe0b77"


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """A private copy of stacks/ to edit and promote in."""
    target = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", target)
    return target


def edit(stacks: Path, stack: str, old: str, new: str) -> None:
    path = stacks / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def pin_dev(stacks: Path, stack: str = "aws-dev", sha: str = NEW_SHA) -> None:
    """Pin the dev release to a commit, the state in which it may be promoted to staging/prod."""
    edit(stacks, stack, "revision: main ", f"revision: {sha} ")


def release_of(stacks: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((stacks / f"Pulumi.{stack}.yaml").read_text())["config"][promote.RELEASE_KEY]


def outputs_runner(outputs: dict[str, Any], calls: list[Sequence[str]] | None = None) -> Callable[[Sequence[str]], str]:
    def run(argv: Sequence[str]) -> str:
        if calls is not None:
            calls.append(list(argv))
        return json.dumps(outputs)
    return run


def deployed(stacks: Path, stack: str, ready: Any = True) -> dict[str, Any]:
    """Stack outputs of a deployment of the stack file's current release."""
    return {"release": release_of(stacks, stack), "modelRevision": NEW_SHA, "inferenceServiceReady": ready}


def run(stacks: Path, *args: str, runner: Callable[[Sequence[str]], str] | None = None) -> int:
    return promote.main([*args, "--stacks-dir", str(stacks)], runner=runner)


def block_bounds(text: str) -> tuple[int, int]:
    start, end, _ = promote.release_span(text.splitlines(keepends=True), Path("x"))
    return start, end


# ------------------------------------------------------------------------------------------ promotion

def test_copies_the_release_block_and_prints_its_diff(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The diff shows release lines only; an absolute --stacks-dir is named as it is in the headers."""
    pin_dev(stacks)
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify") == 0
    out = capsys.readouterr().out
    target = (stacks / "Pulumi.aws-staging.yaml").as_posix()
    assert out.startswith(f"--- {target}\n+++ {target}\n@@ ")
    assert "-      name: llama-31-8b-instruct\n" in out and "+      name: bloom-560m\n" in out
    assert f"-      revision: {PROD_SHA}\n" in out
    assert f"+      revision: {NEW_SHA}            # dev may track a branch" in out
    assert '-      exclude: ["original/**"]\n' in out
    assert not re.search(r"^[-+] *kserve-fluid:(environment|cloud|gpuPool|inference)", out, re.MULTILINE)
    assert release_of(stacks, "aws-staging") == release_of(stacks, "aws-dev")


def test_everything_outside_the_release_block_is_unchanged_byte_for_byte(stacks: Path) -> None:
    pin_dev(stacks)
    before = (stacks / "Pulumi.aws-staging.yaml").read_text()
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify") == 0
    after = (stacks / "Pulumi.aws-staging.yaml").read_text()
    (b0, b1), (a0, a1) = block_bounds(before), block_bounds(after)
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert new_lines[:a0] == old_lines[:b0]  # header comment, `config:`, the `# ---- release` comment
    assert new_lines[a1:] == old_lines[b1:]  # `# ---- environment` comment and every environment key
    assert "  # ---- environment: sizing and safety of this stack only ----\n" in new_lines[a1:]
    config_before = yaml.safe_load(before)["config"]
    config_after = yaml.safe_load(after)["config"]
    config_before.pop(promote.RELEASE_KEY), config_after.pop(promote.RELEASE_KEY)
    assert config_after == config_before


def test_relative_paths_get_git_style_headers(stacks: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    pin_dev(stacks)
    monkeypatch.chdir(stacks.parent)
    assert promote.main(["aws-dev", "aws-staging", "--no-verify", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith(
        "--- a/stacks/Pulumi.aws-staging.yaml\n+++ b/stacks/Pulumi.aws-staging.yaml\n")


def test_dry_run_prints_the_diff_and_writes_nothing(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin_dev(stacks)
    before = (stacks / "Pulumi.aws-staging.yaml").read_bytes()
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify", "--dry-run") == 0
    captured = capsys.readouterr()
    assert f"+      revision: {NEW_SHA}" in captured.out and "dry run" in captured.err
    assert (stacks / "Pulumi.aws-staging.yaml").read_bytes() == before


def test_a_dry_run_into_prod_needs_no_confirmation(stacks: Path) -> None:
    pin_dev(stacks)
    before = (stacks / "Pulumi.aws-prod.yaml").read_bytes()
    assert run(stacks, "aws-dev", "aws-prod", "--no-verify", "--dry-run") == 0
    assert (stacks / "Pulumi.aws-prod.yaml").read_bytes() == before


def test_prod_promotion_with_confirmation(stacks: Path) -> None:
    edit(stacks, "aws-staging", "servingImage: kserve/huggingfaceserver:v0.20.0-gpu",
         "servingImage: kserve/huggingfaceserver:v0.20.1-gpu")
    assert run(stacks, "aws-staging", "aws-prod", "--no-verify", "--yes-prod") == 0
    assert release_of(stacks, "aws-prod")["servingImage"] == "kserve/huggingfaceserver:v0.20.1-gpu"


def test_an_identical_release_is_a_no_op(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (stacks / "Pulumi.aws-prod.yaml").read_bytes()
    assert run(stacks, "aws-staging", "aws-prod", "--no-verify", "--yes-prod") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing to do" in captured.err
    assert (stacks / "Pulumi.aws-prod.yaml").read_bytes() == before


def test_reindents_a_block_from_a_differently_indented_file(stacks: Path) -> None:
    source = stacks / "Pulumi.aws-dev.yaml"
    source.write_text(re.sub(r"^( +)", lambda m: m[1] * 2, source.read_text(), flags=re.MULTILINE))
    pin_dev(stacks)
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify") == 0
    lines = (stacks / "Pulumi.aws-staging.yaml").read_text().splitlines()
    key = lines.index("  kserve-fluid:release:")  # at the target's indentation, nested lines shifted alike
    assert lines[key + 1:key + 3] == ["      model:", "          name: bloom-560m"]
    assert release_of(stacks, "aws-staging") == release_of(stacks, "aws-dev")


def test_keeps_the_target_line_endings(stacks: Path) -> None:
    target = stacks / "Pulumi.aws-staging.yaml"
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    pin_dev(stacks)
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify") == 0
    data = target.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert f"revision: {NEW_SHA}".encode() in data


# ------------------------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(("args", "message"), [
    (("aws-dev", "aws-dev"), "source and target are the same stack (aws-dev)"),
    (("aws-qa", "aws-staging"), "Pulumi.aws-qa.yaml: no such stack file; stacks in"),
    (("aws-dev", "aws-qa"), "Pulumi.aws-qa.yaml: no such stack file; stacks in"),
    (("aws-staging", "aws-prod"), "aws-prod is a prod stack; review the diff (--dry-run) and confirm with --yes-prod"),
    (("aws-staging", "alicloud-prod", "--yes-prod"),
     "aws-staging runs on 'aws' and alicloud-prod on 'alicloud'; a release can name a local model path"),
    (("aws-dev", "byo-dev"), "pass --cross-cloud if this is intended"),
    (("aws-dev", "aws-staging"),
     ("aws-staging is staging and serves pinned bytes, but the release's model hf://bigscience/bloom-560m has "
     "revision 'main', not a 40-hex commit sha")),
    (("alicloud-dev", "alicloud-prod", "--yes-prod"), "alicloud-prod is prod and serves pinned bytes"),
])
def test_refusals(stacks: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    before = {p.name: p.read_bytes() for p in stacks.iterdir()}
    assert run(stacks, *args, "--no-verify") == promote.EXIT_REFUSED
    captured = capsys.readouterr()
    assert captured.err.startswith("promote: refused: ")
    assert message in captured.err
    assert captured.out == ""
    assert {p.name: p.read_bytes() for p in stacks.iterdir()} == before


def test_cross_cloud_promotion_when_asked(stacks: Path) -> None:
    assert run(stacks, "aws-staging", "alicloud-prod", "--no-verify", "--yes-prod", "--cross-cloud") == 0
    assert release_of(stacks, "alicloud-prod") == release_of(stacks, "aws-staging")


def test_a_local_model_path_needs_no_revision(stacks: Path) -> None:
    """alicloud-prod serves an uploaded local snapshot: pinned by the upload, no hf revision to check."""
    edit(stacks, "alicloud-prod", "sizeGi: 15", "sizeGi: 16")
    assert run(stacks, "alicloud-prod", "alicloud-dev", "--no-verify") == 0
    assert release_of(stacks, "alicloud-dev") == release_of(stacks, "alicloud-prod")


# ------------------------------------------------------------------------------- deployment verification

def test_verifies_the_source_deployment(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin_dev(stacks)
    calls: list[Sequence[str]] = []
    assert run(stacks, "aws-dev", "aws-staging", runner=outputs_runner(deployed(stacks, "aws-dev"), calls)) == 0
    assert calls == [["pulumi", "stack", "output", "--json", "-s", "aws-dev"]]
    assert f"aws-dev serves this release (model revision {NEW_SHA}), ready" in capsys.readouterr().err


def test_the_program_exports_what_verification_reads(stack: Callable[[str], Any]) -> None:
    """Contract with __main__.py: the outputs of a committed stack, run under mocks, verify its own file."""
    run = stack("aws-staging")
    outputs = {k: run.outputs[k] for k in ("release", "inferenceServiceReady", "modelRevision") if k in run.outputs}
    source = promote.load_stack(ROOT / "stacks", "aws-staging")
    assert promote.verify_deployed(source, outputs_runner(outputs)).startswith("aws-staging serves this release")


def test_deployed_release_compares_by_value(stacks: Path) -> None:
    """Outputs come back as JSON: 15 may be 15.0, and empty or absent keys mean the same release."""
    outputs = deployed(stacks, "aws-staging")
    outputs["release"] = json.loads(json.dumps(outputs["release"]))
    outputs["release"]["model"]["sizeGi"] = 15.0
    outputs["release"]["model"]["revision"] = PROD_SHA
    outputs["release"].pop("versions")
    outputs["release"]["model"]["extra"] = None
    assert run(stacks, "aws-staging", "aws-prod", "--yes-prod", runner=outputs_runner(outputs)) == 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda o: o.pop("release"), ("aws-dev exports no `release` output: it was not deployed with this program; "
                                 "run `pulumi up -s aws-dev` first")),
    (lambda o: o["release"]["model"].update(revision="feedface" * 5),
     (f"is not what aws-dev runs (release.model.revision: file '{NEW_SHA}', deployed '{'feedface' * 5}'); "
     "deploy it (`pulumi up -s aws-dev`)")),
    (lambda o: o.update(inferenceServiceReady=False),
     "aws-dev deployed this release but its InferenceService is not ready (inferenceServiceReady = False)"),
    (lambda o: o.pop("inferenceServiceReady"), "(inferenceServiceReady = None)"),
    (lambda o: o.update(inferenceServiceReady="true"), "(inferenceServiceReady = 'true')"),
])
def test_refuses_a_source_not_deployed_or_not_ready(stacks: Path, capsys: pytest.CaptureFixture[str],
                                                    change: Callable[[dict[str, Any]], Any], message: str) -> None:
    pin_dev(stacks)
    outputs = deployed(stacks, "aws-dev")
    change(outputs)
    before = (stacks / "Pulumi.aws-staging.yaml").read_bytes()
    assert run(stacks, "aws-dev", "aws-staging", runner=outputs_runner(outputs)) == promote.EXIT_REFUSED
    assert message in capsys.readouterr().err
    assert (stacks / "Pulumi.aws-staging.yaml").read_bytes() == before


def test_refuses_a_source_file_edited_but_not_deployed(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin_dev(stacks)
    outputs = deployed(stacks, "aws-dev")
    edit(stacks, "aws-dev", "sizeGi: 1.2", "sizeGi: 1.3")
    assert run(stacks, "aws-dev", "aws-staging", runner=outputs_runner(outputs)) == promote.EXIT_REFUSED
    assert "release.model.sizeGi: file 1.3, deployed 1.2" in capsys.readouterr().err


def test_refuses_when_the_outputs_cannot_be_read(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin_dev(stacks)

    def failing(argv: Sequence[str]) -> str:
        raise subprocess.CalledProcessError(255, list(argv), stderr="error: no stack named 'aws-dev' found\n")
    assert run(stacks, "aws-dev", "aws-staging", runner=failing) == promote.EXIT_REFUSED
    err = capsys.readouterr().err
    assert "cannot read the outputs of aws-dev" in err and "no stack named 'aws-dev' found" in err


def test_without_the_pulumi_cli_it_warns_and_continues(stacks: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(promote.shutil, "which", lambda name: None)
    pin_dev(stacks)
    assert run(stacks, "aws-dev", "aws-staging") == 0
    assert ("promote: warning: the Pulumi CLI is not installed, so the deployment of aws-dev could not be verified"
            in capsys.readouterr().err)
    assert release_of(stacks, "aws-staging")["model"]["revision"] == NEW_SHA


def test_no_verify_skips_the_cli(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def unexpected(argv: Sequence[str]) -> str:
        raise AssertionError("the CLI must not run with --no-verify")
    pin_dev(stacks)
    assert run(stacks, "aws-dev", "aws-staging", "--no-verify", runner=unexpected) == 0
    assert "warning" not in capsys.readouterr().err


def test_uses_the_pulumi_cli_when_installed(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_dev(stacks)
    calls: list[Sequence[str]] = []

    def fake_subprocess_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        assert kwargs == {"capture_output": True, "text": True, "check": True}
        return subprocess.CompletedProcess(argv, 0, stdout=json.dumps(deployed(stacks, "aws-dev")), stderr="")
    monkeypatch.setattr(promote.shutil, "which", lambda name: "/usr/bin/pulumi")
    monkeypatch.setattr(promote.subprocess, "run", fake_subprocess_run)
    assert run(stacks, "aws-dev", "aws-staging") == 0
    assert calls == [["pulumi", "stack", "output", "--json", "-s", "aws-dev"]]


# ----------------------------------------------------------------------------------------- CI workflow

def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action)]


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_workflow_triggers() -> None:
    parsed = workflow()
    on: dict[str, Any] = parsed["on"] if "on" in parsed else parsed[True]  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert {"source", "target", "confirm_prod"} <= set(inputs)


def stack_configs() -> dict:
    return {p.name[len("Pulumi."):-len(".yaml")]: yaml.safe_load(p.read_text())["config"]
            for p in (ROOT / "stacks").glob("Pulumi.*.yaml")}


def test_workflow_runs_the_tests_then_previews_every_cloud_stack_with_the_policy_pack() -> None:
    jobs = workflow()["jobs"]
    assert "bash .ci/run" in scripts(jobs["tests"])
    assert steps_using(jobs["tests"], "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    preview = jobs["preview"]
    assert "pull_request" in preview["if"] and preview["needs"] == "tests"
    # every cloud stack whose model CI can reach (a local model directory lives on the operator's machine)
    assert set(preview["strategy"]["matrix"]["stack"]) == {
        name for name, cfg in stack_configs().items()
        if cfg["kserve-fluid:cloud"] != "existing" and cfg["kserve-fluid:release"]["model"]["source"].startswith("hf://")}
    (pulumi,) = steps_using(preview, "pulumi/actions@v6")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert "matrix.stack" in pulumi["with"]["stack-name"]
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    (aws,) = steps_using(preview, "aws-actions/configure-aws-credentials@v4")
    assert aws["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
    assert preview["permissions"]["id-token"] == "write"
    assert "policy/.venv" in scripts(preview) and "policy/requirements.txt" in scripts(preview)
    assert "secrets.ALICLOUD_ACCESS_KEY" in json.dumps(pulumi["env"])


def test_workflow_deploys_aws_dev_on_main() -> None:
    up = workflow()["jobs"]["up-aws-dev"]
    assert "refs/heads/main" in up["if"] and "push" in up["if"]
    (pulumi,) = steps_using(up, "pulumi/actions@v6")
    assert pulumi["with"]["command"] == "up"
    assert "aws-dev" in pulumi["with"]["stack-name"]
    assert pulumi["with"]["policyPacks"] == "policy"


def test_workflow_promotes_through_a_pull_request() -> None:
    job = workflow()["jobs"]["promote"]
    assert "workflow_dispatch" in job["if"]
    assert "'production'" in job["environment"] and "inputs.confirm_prod == 'yes'" in job["environment"]
    script = scripts(job)
    assert "python -m tools.promote" in script and "--yes-prod" in script
    assert 'CONFIRM_PROD" = "yes"' in script
    (pr,) = steps_using(job, "peter-evans/create-pull-request@v7")
    assert pr["with"]["add-paths"] == "stacks/Pulumi.${{ inputs.target }}.yaml"
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_workflow_scripts_never_interpolate_inputs() -> None:
    """Inputs reach shell scripts through env variables only (no script injection)."""
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')} interpolates into its script"
