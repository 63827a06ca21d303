"""`python -m tools.promote SRC DST`: the release block moves and nothing else in the target does, what moves is
what the source served, and every refusal says why and leaves the files alone.

Each test runs in a temporary git repository holding a copy of stacks/ (git runs for real there); the Pulumi
CLI and the GitHub API are faked by `FakeCli`, which answers `pulumi stack output/history` the way a stack
deployed from a given commit would.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import promote
from tools.promote import cli, commands, deployed, rules
from tools.promote.stackfile import RELEASE_KEY, load_stack, release_span

ROOT = Path(__file__).resolve().parent.parent
SERVED_SHA = "0123456789abcdef0123456789abcdef01234567"  # the commit aws-dev's branch resolved to
PROD_SHA = "d10aef7999a2b5ba950ab3974312feeedbfe0b77"  # the commit staging and prod pin in the committed files
TAG_IMAGE = "kserve/huggingfaceserver:v0.20.0-gpu"
DIGEST_IMAGE = "kserve/huggingfaceserver:v0.20.1-gpu@sha256:" + "ab" * 32
LOCAL_DIGEST = "cd" * 32


# ------------------------------------------------------------------------------------- the test bench


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with a committed copy of stacks/ and a policy pack with its virtualenv."""
    for key, value in {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                       "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                       "GIT_COMMITTER_EMAIL": "t@example.org"}.items():
        monkeypatch.setenv(key, value)
    for key in ("PULUMI_ORG", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):  # set when the tests run in GitHub Actions
        monkeypatch.delenv(key, raising=False)
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "stacks", root / "stacks")
    (root / "policy" / ".venv").mkdir(parents=True)
    (root / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (root / ".gitignore").write_text(".venv/\n")
    git(root, "init", "--quiet", "--initial-branch=main")
    commit(root, "stacks as committed")
    return root


def commit(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def stack_file(repo: Path, stack: str) -> Path:
    return repo / "stacks" / f"Pulumi.{stack}.yaml"


def edit(repo: Path, stack: str, old: str, new: str, *, committed: bool = True) -> None:
    path = stack_file(repo, stack)
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))
    if committed:
        commit(repo, f"{stack}: {new}")


def release_of(repo: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load(stack_file(repo, stack).read_text())["config"][RELEASE_KEY]


def files(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (repo / "stacks").iterdir()}


class FakeCli:
    """The runner: git for real; `pulumi` and `gh` answer from what the test set up, and every call is recorded."""

    def __init__(self) -> None:
        self.outputs: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.deployments: dict[str, list[tuple[str, str]]] = {}  # environment -> [(sha, state)], newest first
        self.calls: list[list[str]] = []
        self.fail: dict[str, int] = {}  # pulumi sub-command ("up") -> exit code

    def serve(self, repo: Path, stack: str, *, model_revision: str | None = None, head: str | None = None,
              **changes: Any) -> dict[str, Any]:
        """Make `stack` look deployed from HEAD with its committed release, Ready; `changes` override outputs."""
        release = release_of(repo, stack)
        ident = deployed.identity(release, stack_file(repo, stack))
        model = release["model"]
        if model_revision is None and model["source"].startswith("hf://"):
            pinned = deployed.COMMIT.fullmatch(str(model.get("revision")))
            model_revision = model["revision"] if pinned else SERVED_SHA
        elif model_revision is None:
            model_revision = model.get("digest") or LOCAL_DIGEST
        self.outputs[stack] = {
            "release": ident.canonical, "releaseDigest": ident.digest, "servedRelease": ident.digest,
            "servedRevision": f"{model['name']}-predictor-00002", "modelRevision": model_revision,
            "modelDigest": "ef" * 32, "servingImage": ident.canonical["servingImage"], "inferenceServiceReady": True,
            **changes}
        self.history[stack] = [update(head or git(repo, "rev-parse", "HEAD").strip())]
        return self.outputs[stack]

    def __call__(self, argv: Sequence[str], stream: bool = False) -> str:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "git":
            return commands.run_command(argv, stream)
        if argv[0] == "gh":
            return self._gh(argv)
        if argv[0] != "pulumi":
            return ""  # python -m venv, pip: recorded only
        stack = argv[argv.index("-s" if "-s" in argv else "--stack") + 1]
        command = argv[1] if argv[1] != "stack" else argv[2]
        if command in self.fail:
            raise subprocess.CalledProcessError(self.fail[command], argv, stderr=f"error: {command} failed\n")
        if command == "output":
            if stack not in self.outputs:
                raise subprocess.CalledProcessError(255, argv, stderr=f"error: no stack named '{stack}' found\n")
            return json.dumps(self.outputs[stack])
        if command == "history":
            return json.dumps(self.history.get(stack, []))
        if command == "up":  # Pulumi records the checkout the program ran in (--cwd): its commit and whether dirty
            cwd = argv[argv.index("--cwd") + 1]
            dirty = commands.run_command(["git", "--no-optional-locks", "-C", cwd, "status", "--porcelain"]).strip()
            self.history[stack] = [update(git(Path(cwd), "rev-parse", "HEAD").strip(), dirty=str(bool(dirty)).lower())]
        return ""

    def _gh(self, argv: list[str]) -> str:
        path = argv[argv.index("GET") + 1]
        query = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-f")
        if path.endswith("/statuses"):
            index = int(path.split("/")[-2])
            return json.dumps([{"state": self.all_deployments[index][1]}])
        self.all_deployments = self.deployments.get(query["environment"], [])
        return json.dumps([{"id": i, "sha": sha} for i, (sha, _) in enumerate(self.all_deployments)])

    def pulumi_calls(self) -> list[list[str]]:
        return [c for c in self.calls if c[0] == "pulumi"]


def update(head: str, *, result: str = "succeeded", dirty: str = "false", kind: str = "update") -> dict[str, Any]:
    """One entry of `pulumi stack history --json`, as Pulumi records an update run from a git checkout."""
    return {"version": 7, "kind": kind, "result": result, "environment": {"git.head": head, "git.dirty": dirty}}


@pytest.fixture
def fake() -> FakeCli:
    return FakeCli()


def run(repo: Path, *args: str, runner: Callable[..., str] | None = None) -> int:
    return promote.main([*args, "--stacks-dir", str(repo / "stacks")], runner=runner)


def ready_for_prod(repo: Path, stack: str = "aws-dev") -> None:
    """Pin the dev release's image by digest: the state in which it may travel all the way to prod."""
    edit(repo, stack, f"servingImage: {TAG_IMAGE}", f"servingImage: {DIGEST_IMAGE}")


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def pin_program(repo: Path, stack: str, sha: str) -> None:
    """Commit `release.program: sha` into a stack file (as a promotion writes it: the last key of the block)."""
    edit(repo, stack, "    versions: {}\n", f"    versions: {{}}\n    program: {sha}\n")


def block_bounds(text: str) -> tuple[int, int]:
    start, end, _ = release_span(text.splitlines(keepends=True), Path("x"))
    return start, end


# ------------------------------------------------------------------------------------------ promotion


def test_promotes_the_commit_the_source_served_not_its_branch(repo: Path, fake: FakeCli,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """aws-dev tracks `main`; aws-staging receives the 40-hex commit aws-dev resolved and served (its modelRevision
    output), the stale branch comment does not travel, and the diff shows release lines only."""
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    captured = capsys.readouterr()
    target = stack_file(repo, "aws-staging").as_posix()
    assert captured.out.startswith(f"--- {target}\n+++ {target}\n@@ ")
    assert f"-      revision: {PROD_SHA}\n" in captured.out and f"+      revision: {SERVED_SHA}\n" in captured.out
    assert f"+    servingImage: {DIGEST_IMAGE}\n" in captured.out
    assert not re.search(r"^[-+] *kserve-fluid:(environment|cloud|gpuPool|inference)", captured.out, re.MULTILINE)
    assert release_of(repo, "aws-staging")["model"] == {**release_of(repo, "aws-dev")["model"], "revision": SERVED_SHA}
    assert "dev tracks a branch" not in stack_file(repo, "aws-staging").read_text()
    assert "aws-dev serves release" in captured.err and "llama-31-8b-instruct-predictor-00002" in captured.err
    assert f"resolved to {SERVED_SHA}, the one it served" in captured.err  # in the commit message it prints


def test_everything_outside_the_release_block_is_unchanged_byte_for_byte(repo: Path, fake: FakeCli) -> None:
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    before = stack_file(repo, "aws-staging").read_text()
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    after = stack_file(repo, "aws-staging").read_text()
    (b0, b1), (a0, a1) = block_bounds(before), block_bounds(after)
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert new_lines[:a0] == old_lines[:b0]  # header comment, `config:`, the `# ---- release` comment
    assert new_lines[a1:] == old_lines[b1:]  # `# ---- environment` comment and every environment key
    assert "  # ---- environment: sizing and safety of this stack only ----\n" in new_lines[a1:]
    config_before, config_after = yaml.safe_load(before)["config"], yaml.safe_load(after)["config"]
    config_before.pop(RELEASE_KEY), config_after.pop(RELEASE_KEY)
    assert config_after == config_before


def test_writes_the_commit_message_with_what_was_verified(repo: Path, fake: FakeCli, tmp_path: Path) -> None:
    """CI commits the promotion with this message: it names the served release, Knative revision and commit."""
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    message = tmp_path / "message.txt"
    assert run(repo, "aws-dev", "aws-staging", "--message-file", str(message), runner=fake) == 0
    lines = message.read_text().splitlines()
    digest = fake.outputs["aws-dev"]["releaseDigest"]
    assert lines[0] == "promote: release of aws-dev to aws-staging"
    assert lines[2].startswith(f"Verified: aws-dev serves release {digest} as Knative revision "
                               "llama-31-8b-instruct-predictor-00002")
    assert any(SERVED_SHA in line and "release.model.revision: 'main'" in line for line in lines)


def test_relative_paths_get_git_style_headers(repo: Path, fake: FakeCli, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    monkeypatch.chdir(repo)
    assert promote.main(["aws-dev", "aws-staging", "--dry-run"], runner=fake) == 0
    assert capsys.readouterr().out.startswith(
        "--- a/stacks/Pulumi.aws-staging.yaml\n+++ b/stacks/Pulumi.aws-staging.yaml\n")


def test_dry_run_prints_the_diff_and_writes_nothing(repo: Path, fake: FakeCli,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    before = files(repo)
    assert run(repo, "aws-dev", "aws-staging", "--dry-run", runner=fake) == 0
    captured = capsys.readouterr()
    assert f"+      revision: {SERVED_SHA}" in captured.out and "dry run" in captured.err
    assert files(repo) == before


def test_a_dry_run_into_prod_needs_no_confirmation_but_is_verified(repo: Path, fake: FakeCli) -> None:
    ready_for_prod(repo, "aws-staging")
    fake.serve(repo, "aws-staging")
    before = files(repo)
    assert run(repo, "aws-staging", "aws-prod", "--dry-run", runner=fake) == 0
    assert files(repo) == before
    assert ["pulumi", "stack", "output", "--json", "-s", "aws-staging"] in fake.calls


def test_prod_promotion_with_confirmation(repo: Path, fake: FakeCli) -> None:
    """Prod gets staging's release plus the program staging ran: the commit of staging's last update (git.head),
    not the later commit the promotion runs on."""
    ready_for_prod(repo, "aws-staging")
    deployed_from = head(repo)
    fake.serve(repo, "aws-staging")
    later = commit(repo, "main moves on")
    assert run(repo, "aws-staging", "aws-prod", "--yes-prod", runner=fake) == 0
    assert release_of(repo, "aws-prod") == {**release_of(repo, "aws-staging"), "program": deployed_from}
    assert deployed_from != later


def test_an_identical_release_is_a_no_op(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    """Prod already has staging's release and the program staging ran: nothing to write."""
    ready_for_prod(repo, "aws-staging")
    ready_for_prod(repo, "aws-prod")
    deployed_from = head(repo)
    pin_program(repo, "aws-prod", deployed_from)
    fake.serve(repo, "aws-staging", head=deployed_from)
    before = files(repo)
    assert run(repo, "aws-staging", "aws-prod", "--yes-prod", runner=fake) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing to do" in captured.err
    assert files(repo) == before


def test_the_same_release_run_by_a_newer_program_is_promoted(repo: Path, fake: FakeCli,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Staging was deployed from a later commit since prod's promotion (a program change, same release block): prod
    takes the newer program, and that line is the whole diff."""
    ready_for_prod(repo, "aws-staging")
    ready_for_prod(repo, "aws-prod")
    old = head(repo)
    pin_program(repo, "aws-prod", old)
    new = commit(repo, "a program change")
    fake.serve(repo, "aws-staging", head=new)
    assert run(repo, "aws-staging", "aws-prod", "--yes-prod", runner=fake) == 0
    diff = capsys.readouterr().out.splitlines()
    assert [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))] == [
        f"-    program: {old}", f"+    program: {new}"]
    assert release_of(repo, "aws-prod")["program"] == new


def test_reindents_a_block_from_a_differently_indented_file(repo: Path, fake: FakeCli) -> None:
    source = stack_file(repo, "aws-dev")
    source.write_text(re.sub(r"^( +)", lambda m: m[1] * 2, source.read_text(), flags=re.MULTILINE))
    commit(repo)
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    lines = stack_file(repo, "aws-staging").read_text().splitlines()
    key = lines.index("  kserve-fluid:release:")  # at the target's indentation, nested lines shifted alike
    assert lines[key + 1:key + 3] == ["      model:", "          name: llama-31-8b-instruct"]
    assert f"          revision: {SERVED_SHA}" in lines  # the resolved line at its siblings' indentation
    assert release_of(repo, "aws-staging")["model"]["revision"] == SERVED_SHA


def test_keeps_the_target_line_endings(repo: Path, fake: FakeCli) -> None:
    target = stack_file(repo, "aws-staging")
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    commit(repo)
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    data = target.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert f"revision: {SERVED_SHA}\r\n".encode() in data


def test_a_flow_style_model_cannot_be_resolved_as_text(repo: Path, fake: FakeCli,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Setting the served commit inside `model: {...}` would mean re-serialising YAML; the tool refuses instead."""
    text = stack_file(repo, "aws-dev").read_text()
    start = text.index("    model:\n")
    end = text.index("    servingImage:")
    stack_file(repo, "aws-dev").write_text(text[:start] + "    model: {name: llama-31-8b-instruct, source: "
                                           "hf://NousResearch/Meta-Llama-3.1-8B-Instruct, revision: main, sizeGi: 15}\n"
                                           + text[end:])
    commit(repo)
    fake.serve(repo, "aws-dev")
    before = files(repo)
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == promote.EXIT_REFUSED
    assert "`release.model` is not a block-style map" in capsys.readouterr().err
    assert files(repo) == before


def test_a_local_model_is_promoted_with_the_digest_it_uploaded(repo: Path, fake: FakeCli,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A local directory has no revision: the manifest digest the source uploaded (modelRevision) is written as
    `release.model.digest`, which staging and prod require and the upload must reproduce."""
    (repo / "models" / "llama").mkdir(parents=True)
    monkeypatch.chdir(repo)  # local sources are relative to the project directory
    for stack in ("alicloud-dev", "alicloud-prod"):
        edit(repo, stack, "      source: hf://NousResearch/Meta-Llama-3.1-8B-Instruct\n", "      source: ./models/llama\n",
             committed=False)
    edit(repo, "alicloud-prod", f"      revision: {PROD_SHA}\n", f"      digest: {'0' * 64}\n", committed=False)
    edit(repo, "alicloud-dev", "      revision: main            # dev tracks a branch: resolved to its commit at "
         "every `up` (output modelRevision)\n", "")
    ready_for_prod(repo, "alicloud-dev")
    fake.serve(repo, "alicloud-dev")
    assert run(repo, "alicloud-dev", "alicloud-prod", "--yes-prod", runner=fake) == 0
    model = release_of(repo, "alicloud-prod")["model"]
    assert model["digest"] == LOCAL_DIGEST and "revision" not in model
    assert stack_file(repo, "alicloud-prod").read_text().count(f"digest: {LOCAL_DIGEST}\n") == 1


def test_pins_the_program_the_source_was_deployed_from(repo: Path, fake: FakeCli, tmp_path: Path) -> None:
    """aws-staging runs the program commit aws-dev ran (its last update's git.head), not whatever commit deploys
    it: the promotion adds `release.program` as the last key of the block and records where it came from."""
    deployed_from = head(repo)
    fake.serve(repo, "aws-dev")
    later = commit(repo, "main moves on")
    message = tmp_path / "message.txt"
    assert run(repo, "aws-dev", "aws-staging", "--message-file", str(message), runner=fake) == 0
    assert release_of(repo, "aws-staging") == {**release_of(repo, "aws-dev"), "program": deployed_from,
                                               "model": {**release_of(repo, "aws-dev")["model"], "revision": SERVED_SHA}}
    assert deployed_from != later
    assert f"    versions: {{}}\n    program: {deployed_from}\n  # ---- environment" in \
        stack_file(repo, "aws-staging").read_text()
    assert f"release.program: {deployed_from}, the commit aws-dev was deployed from" in message.read_text().splitlines()


def test_an_empty_program_key_is_resolved_like_an_absent_one(repo: Path, fake: FakeCli) -> None:
    """`program:` without a value is unset (the deploying commit) for the schema, so it must not travel as null."""
    edit(repo, "aws-dev", "    versions: {}\n", "    versions: {}\n    program:\n")
    deployed_from = head(repo)
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    assert release_of(repo, "aws-staging")["program"] == deployed_from
    assert stack_file(repo, "aws-staging").read_text().count("program:") == 1


def test_a_release_relying_on_defaults_verifies(repo: Path, fake: FakeCli) -> None:
    """The program exports the release with its defaults filled in; omitting servingImage and versions in the file
    is the same release (the old tool refused it forever: file None, deployed the default image)."""
    edit(repo, "aws-dev", f"    servingImage: {TAG_IMAGE}\n    versions: {{}}\n", "")
    fake.serve(repo, "aws-dev")
    assert fake.outputs["aws-dev"]["release"]["servingImage"] == TAG_IMAGE  # as the program exports it
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    assert "servingImage" not in release_of(repo, "aws-staging")


def test_warns_about_comments_dropped_from_the_target_block(repo: Path, fake: FakeCli,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "aws-staging", "      sizeGi: 15\n", "      sizeGi: 15       # pinned after INC-1234\n")
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    assert "the comment '# pinned after INC-1234' in aws-staging's release block is dropped" in capsys.readouterr().err


def test_warns_that_staging_takes_an_image_tag_prod_will_refuse(repo: Path, fake: FakeCli,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    assert f"servingImage {TAG_IMAGE} is a tag, not a digest: aws-staging accepts it, prod will not" \
        in capsys.readouterr().err


def test_warns_when_the_target_has_an_undeployed_change(repo: Path, fake: FakeCli,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """If an earlier promotion into the target was merged but never deployed, this promotion's diff is not the
    deploy's diff: say so."""
    fake.serve(repo, "aws-staging")
    edit(repo, "aws-staging", "sizeGi: 15", "sizeGi: 16")
    fake.serve(repo, "aws-dev")
    assert run(repo, "aws-dev", "aws-staging", runner=fake) == 0
    assert "aws-staging does not serve its committed release" in capsys.readouterr().err


def test_out_of_order_with_a_reason_records_it(repo: Path, fake: FakeCli, tmp_path: Path) -> None:
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev")
    message = tmp_path / "message.txt"
    assert run(repo, "aws-dev", "aws-prod", "--yes-prod", "--skip-stage", "staging cluster down, INC-7",
               "--message-file", str(message), runner=fake) == 0
    assert ("Out of order (aws-dev -> aws-prod, the next stage of aws-dev is aws-staging): staging cluster down, INC-7"
            in message.read_text())


def test_no_verify_copies_a_pinned_release_into_staging(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-verify runs no CLI at all, and says in the commit message that nothing was verified. It needs a release
    that pins everything a staging stack pins: the model commit and the program."""
    def unexpected(argv: Sequence[str], stream: bool = False) -> str:
        if argv[0] != "git":
            raise AssertionError(f"--no-verify must not run {argv}")
        return commands.run_command(argv)
    edit(repo, "aws-dev", "revision: main ", f"revision: {SERVED_SHA} ")
    pin_program(repo, "aws-dev", head(repo))
    assert run(repo, "aws-dev", "aws-staging", "--no-verify", runner=unexpected) == 0
    assert release_of(repo, "aws-staging") == release_of(repo, "aws-dev")
    assert release_of(repo, "aws-staging")["model"]["revision"] == SERVED_SHA
    assert "Not verified (--no-verify)" in capsys.readouterr().err


def test_no_verify_cannot_pin_the_program(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    """Which commit the source ran is known only from its verified update history: without it, a release that does
    not pin `program` does not reach a stack that runs a pinned program."""
    edit(repo, "aws-dev", "revision: main ", f"revision: {SERVED_SHA} ")
    err = _refused(repo, capsys, "aws-dev", "aws-staging", "--no-verify", runner=fake)
    assert ("aws-dev's release does not pin release.program; aws-staging runs the program commit its release pins, "
            "and only a verified promotion can read which commit aws-dev was deployed from: drop --no-verify") in err
    assert fake.pulumi_calls() == []


def test_uses_the_pulumi_cli_when_installed(repo: Path, fake: FakeCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected runner the real commands run: git, then `pulumi stack output/history` of the source."""
    fake.serve(repo, "aws-dev")
    monkeypatch.setenv("PULUMI_ORG", "acme")
    fake.outputs["acme/aws-dev"], fake.history["acme/aws-dev"] = fake.outputs["aws-dev"], fake.history["aws-dev"]
    fake.outputs["acme/aws-staging"] = fake.outputs["aws-dev"]

    real_run = subprocess.run

    def fake_subprocess_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs == {"capture_output": True, "text": True, "check": True}
        if argv[0] == "git":
            return real_run(argv, **kwargs)
        return subprocess.CompletedProcess(argv, 0, stdout=fake(argv), stderr="")
    monkeypatch.setattr(cli.shutil, "which", lambda name: "/usr/bin/pulumi")
    monkeypatch.setattr(commands.subprocess, "run", fake_subprocess_run)
    assert run(repo, "aws-dev", "aws-staging") == 0
    assert fake.pulumi_calls()[:2] == [["pulumi", "stack", "output", "--json", "-s", "acme/aws-dev"],
                                       ["pulumi", "stack", "history", "--json", "--page-size", "10", "-s", "acme/aws-dev"]]


# ------------------------------------------------------------------------------------------- refusals


def _refused(repo: Path, capsys: pytest.CaptureFixture[str], *args: str, runner: Any = None) -> str:
    """Run a promotion that must be refused: exit 2, a message on stderr, no diff, no file touched."""
    before = files(repo)
    assert run(repo, *args, runner=runner) == promote.EXIT_REFUSED
    captured = capsys.readouterr()
    assert captured.err.startswith("promote: refused: ") and captured.out == ""
    assert files(repo) == before
    return captured.err


@pytest.mark.parametrize(("args", "message"), [
    (("aws-dev", "aws-dev"), "source and target are the same stack (aws-dev)"),
    (("aws-qa", "aws-staging"), "Pulumi.aws-qa.yaml: no such stack file; stacks in"),
    (("aws-dev", "aws-prod", "--yes-prod"),
     "aws-dev -> aws-prod is not the next stage (the order is aws-dev -> aws-staging -> aws-prod; alicloud-dev -> "
     "alicloud-prod; aws-dev promotes to aws-staging); to go out of order anyway, pass --skip-stage REASON"),
    (("aws-prod", "aws-staging"), "aws-prod -> aws-staging is not the next stage"),
    (("aws-staging", "alicloud-prod", "--yes-prod", "--cross-cloud"), "aws-staging -> alicloud-prod is not the next"),
    (("aws-dev", "byo-dev"), "aws-dev -> byo-dev is not the next stage"),
    (("aws-staging", "alicloud-prod", "--yes-prod", "--skip-stage", "x"),
     "aws-staging runs on 'aws' and alicloud-prod on 'alicloud'; a release can name a local model path"),
    (("aws-staging", "aws-prod"), "aws-prod is a prod stack; review the diff (--dry-run) and confirm with --yes-prod"),
    (("aws-staging", "aws-prod", "--yes-prod", "--no-verify"),
     "aws-prod is a prod stack: a promotion into prod is always verified against what aws-staging serves"),
    (("aws-staging", "aws-prod", "--yes-prod"),
     "aws-prod is prod and runs images by digest only, but the release's servingImage is "
     f"'{TAG_IMAGE}', a tag that can be re-pushed"),
    (("aws-dev", "aws-staging", "--no-verify"),
     "aws-dev's release.model.revision is 'main', not pinned; aws-staging serves pinned bytes, and only a verified "
     "promotion can pin what aws-dev served"),
    (("aws-dev", "aws-prod", "--yes-prod", "--skip-stage", " "), "aws-dev -> aws-prod is not the next stage"),
])
def test_static_refusals(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                         message: str) -> None:
    """Refusals that need no deployment; a blank --skip-stage reason is no reason."""
    assert message in _refused(repo, capsys, *args, runner=fake)
    assert fake.pulumi_calls() == []  # refused before asking Pulumi anything


def test_refuses_without_the_pulumi_cli(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Fail closed: a promotion that cannot be verified does not happen (the old tool warned and wrote the file)."""
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    err = _refused(repo, capsys, "aws-dev", "aws-staging")
    assert "the Pulumi CLI is not installed, so what aws-dev serves cannot be verified" in err


@pytest.mark.parametrize("which", ["source", "target", "untracked target"])
def test_refuses_a_dirty_tree(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str], which: str) -> None:
    """A source edit that is in no commit must not travel; a target edit must not ride along unseen."""
    fake.serve(repo, "aws-dev")
    if which == "source":
        edit(repo, "aws-dev", "sizeGi: 15", "sizeGi: 16", committed=False)
    elif which == "target":
        edit(repo, "aws-staging", "maxSize: 2", "maxSize: 8", committed=False)
    else:
        git(repo, "rm", "--quiet", "--cached", "stacks/Pulumi.aws-staging.yaml")
    err = _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)
    assert "uncommitted changes (" in err and "stacks/Pulumi.aws-" in err
    assert fake.pulumi_calls() == []


def test_refuses_outside_a_git_checkout(tmp_path: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    assert run(tmp_path, "aws-dev", "aws-staging", runner=fake) == promote.EXIT_REFUSED
    assert "is not in a git checkout" in capsys.readouterr().err


def test_refuses_a_secure_value_in_the_release(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "aws-dev", "    versions: {}\n", "    versions: {}\n    token:\n      secure: v1:abc\n")
    err = _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)
    assert "release.token is a `secure:` value, encrypted for aws-dev only" in err


def test_refuses_a_target_the_program_would_reject(repo: Path, fake: FakeCli,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The written file is validated by components.config.build_settings first: a chart version that is not exact
    (here in a release that pins the model and the program, so that --no-verify gets as far) never reaches the
    target."""
    edit(repo, "aws-dev", "revision: main ", f"revision: {SERVED_SHA} ")
    pin_program(repo, "aws-dev", head(repo))
    edit(repo, "aws-dev", "    versions: {}", "    versions: {kserve: v0.21}")
    err = _refused(repo, capsys, "aws-dev", "aws-staging", "--no-verify", runner=fake)
    assert "Pulumi.aws-staging.yaml would not be a valid configuration of aws-staging" in err
    assert "versions: got kserve: 'v0.21'; an exact version with three numbers" in err


# -------------------------------------------------------------------------------- verification of the source


def test_the_program_exports_what_verification_reads(repo: Path, stack: Callable[[str], Any]) -> None:
    """Contract with __main__.py: each chain stack, run under the repo's mocks, verifies its own committed file."""
    for name in rules.deployed_by_ci():
        fake = FakeCli()
        outputs = stack(name).outputs
        fake.outputs[name] = {k: outputs[k] for k in ("release", "releaseDigest", "servedRelease", "servedRevision",
                                                      "modelRevision", "servingImage", "inferenceServiceReady")}
        fake.history[name] = [update(git(repo, "rev-parse", "HEAD").strip())]
        served = deployed.verify_served(load_stack(repo / "stacks", name), fake, repo)
        assert served.digest == outputs["releaseDigest"] and served.model_revision == outputs["modelRevision"]


def test_the_outputs_the_verification_reads_are_the_contract() -> None:
    """Every output verification reads is one the program promises to keep (components.outputs.PROMOTION_KEYS)."""
    from components.outputs import PROMOTION_KEYS
    read = set(re.findall(r'outputs(?:\.get\(|\[)"(\w+)"', (ROOT / "tools" / "promote" / "deployed.py").read_text()))
    assert read and read <= set(PROMOTION_KEYS)


def stale(repo: Path, fake: FakeCli, stack: str, old: str, new: str) -> None:
    """`stack` deployed at its committed release, then the file changed and committed without a deploy."""
    fake.serve(repo, stack)
    edit(repo, stack, old, new)
    fake.history[stack] = [update(git(repo, "rev-parse", "HEAD").strip())]


@pytest.mark.parametrize(("change", "messages"), [
    (("revision: main ", f"revision: {'a' * 40} "),
     [f"release.model.revision: file '{'a' * 40}', deployed 'main'", f"modelRevision is {SERVED_SHA}, the file pins "
      f"{'a' * 40}", "releaseDigest is"]),
    ((f"servingImage: {TAG_IMAGE}", f"servingImage: {DIGEST_IMAGE}"),
     [f"release.servingImage: file '{DIGEST_IMAGE}', deployed '{TAG_IMAGE}'", f"servingImage is '{TAG_IMAGE}', the "
      f"file says '{DIGEST_IMAGE}'", "servedRelease is"]),
])
def test_refuses_a_changed_revision_or_image_that_was_not_deployed(
        repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str], change: tuple[str, str],
        messages: list[str]) -> None:
    stale(repo, fake, "aws-dev", *change)
    err = _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)
    assert "aws-dev does not prove it serves" in err
    for message in messages:
        assert message in err


def test_refuses_a_new_release_whose_revision_never_became_ready(repo: Path, fake: FakeCli,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The program exports releaseDigest as configured but servedRelease only from the awaited InferenceService:
    a new image that crash-loops leaves servedRelease at the old release, and that is not promoted."""
    fake.serve(repo, "aws-dev")
    old = fake.outputs["aws-dev"]["releaseDigest"]
    ready_for_prod(repo)
    fake.serve(repo, "aws-dev", servedRelease=old, servedRevision="llama-31-8b-instruct-predictor-00001")
    err = _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)
    assert f"servedRelease is '{old}', not '{fake.outputs['aws-dev']['releaseDigest']}'" in err


@pytest.mark.parametrize(("outputs", "message"), [
    ({"servedRevision": None}, "servedRevision is None: no Ready Knative revision"),
    ({"inferenceServiceReady": False}, "inferenceServiceReady is False, not true"),
    ({"inferenceServiceReady": "true"}, "inferenceServiceReady is 'true', not true"),
    ({"modelRevision": "main"}, "modelRevision is 'main', not the 40-hex commit the branch resolved to"),
    ({"release": None}, "no `release` output: deployed by an older program"),
    ({"servedRelease": None}, "servedRelease is None"),
])
def test_refuses_outputs_that_do_not_prove_service(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str],
                                                   outputs: dict[str, Any], message: str) -> None:
    fake.serve(repo, "aws-dev", **outputs)
    assert message in _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)


@pytest.mark.parametrize(("entry", "message"), [
    (lambda head: update(head, result="failed"), "its last operation is a update that is failed"),
    (lambda head: update(head, result="in-progress"), "its last operation is a update that is in-progress"),
    (lambda head: update(head, kind="destroy"), "its last operation is a destroy that is succeeded"),
    (lambda head: update(head, dirty="true"), "ran from a checkout with uncommitted changes (git.dirty = 'true')"),
    (lambda head: {"kind": "update", "result": "succeeded", "environment": {}},
     "records no git commit (git.head): it was not deployed from a checkout"),
    (lambda head: update("e" * 40), f"ran commit {'e' * 40}, which is unknown to this checkout's HEAD"),
])
def test_refuses_a_last_update_that_proves_no_commit(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str],
                                                     entry: Callable[[str], dict[str, Any]], message: str) -> None:
    fake.serve(repo, "aws-dev")
    fake.history["aws-dev"] = [{"kind": "refresh", "result": "succeeded"}, entry(fake.history["aws-dev"][0]
                                                                                 ["environment"]["git.head"])]
    assert message in _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)


def test_refuses_a_deploy_of_a_commit_outside_this_history(repo: Path, fake: FakeCli,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A commit on a branch that never merged (here: a sibling of HEAD) is not a reviewed deploy."""
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "--quiet", "-b", "side")
    side = commit(repo, "unmerged")
    git(repo, "checkout", "--quiet", "main")
    git(repo, "reset", "--quiet", "--hard", base)
    commit(repo, "main moves on")
    fake.serve(repo, "aws-dev", head=side)
    assert f"ran commit {side}, which is not in the history of this checkout's HEAD" in \
        _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)


def test_a_pinned_program_travels_from_a_source_that_ran_it(repo: Path, fake: FakeCli, tmp_path: Path) -> None:
    """aws-staging pins the program of its last promotion and its last update ran exactly that commit: prod gets the
    same commit, copied (nothing is resolved, so nothing is recorded as resolved)."""
    ready_for_prod(repo, "aws-staging")
    program = head(repo)
    commit(repo, "main moves on")
    pin_program(repo, "aws-staging", program)
    fake.serve(repo, "aws-staging", head=program)
    message = tmp_path / "message.txt"
    assert run(repo, "aws-staging", "aws-prod", "--yes-prod", "--message-file", str(message), runner=fake) == 0
    assert release_of(repo, "aws-prod") == release_of(repo, "aws-staging")
    assert release_of(repo, "aws-prod")["program"] == program
    assert f"program {program[:12]})." in message.read_text() and "was deployed from" not in message.read_text()


def test_refuses_a_source_that_did_not_run_its_pinned_program(repo: Path, fake: FakeCli,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A plain `pulumi up` from a checkout of main (not `deploy`, which runs a clone at the pinned commit) ran other
    code than the release says: that proves nothing about the release."""
    ready_for_prod(repo, "aws-staging")
    program = head(repo)
    commit(repo, "main moves on")
    pin_program(repo, "aws-staging", program)
    fake.serve(repo, "aws-staging")  # from HEAD
    err = _refused(repo, capsys, "aws-staging", "aws-prod", "--yes-prod", runner=fake)
    assert f"its last update ran the program at {head(repo)}, the release pins program {program}" in err


@pytest.mark.parametrize(("stderr", "message"), [
    ("error: no stack named 'aws-dev' found\n", "cannot read the outputs of aws-dev"),
    (None, "aws-dev has no outputs: it was never deployed"),
])
def test_refuses_a_source_it_cannot_read(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str],
                                         stderr: str | None, message: str) -> None:
    if stderr is None:
        fake.outputs["aws-dev"] = {}
    assert message in _refused(repo, capsys, "aws-dev", "aws-staging", runner=fake)


# ---------------------------------------------------------------------------------------- `check STACK`


def test_check_passes_for_a_stack_that_serves_its_file(repo: Path, fake: FakeCli,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake.serve(repo, "aws-staging")
    assert run(repo, "check", "aws-staging", runner=fake) == 0
    assert f"aws-staging serves release {fake.outputs['aws-staging']['releaseDigest']}" in capsys.readouterr().err


def test_check_fails_closed(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    stale(repo, fake, "aws-staging", "sizeGi: 15", "sizeGi: 16")
    assert run(repo, "check", "aws-staging", runner=fake) == promote.EXIT_REFUSED
    assert "release.model.sizeGi: file 16.0, deployed 15.0" in capsys.readouterr().err


# --------------------------------------------------------------------------------------- the promotion order


def test_every_chain_climbs_one_cloud_from_dev_to_prod() -> None:
    """The order the tool enforces is made of real stacks, one cloud per chain, environments never going down."""
    rank = {"dev": 0, "staging": 1, "prod": 2}
    for chain in rules.CHAINS:
        stacks = [load_stack(ROOT / "stacks", name) for name in chain]
        assert len({s.cloud for s in stacks}) == 1, chain
        assert [rank[s.environment] for s in stacks] == sorted(rank[s.environment] for s in stacks), chain
        assert stacks[0].environment == "dev" and stacks[-1].environment == "prod", chain


def test_every_stack_with_a_private_api_server_has_an_in_vpc_runner() -> None:
    """CI deploys a stack from `runs_on`: a private API server is only reachable from its in-VPC runner. (And the
    tool agrees with the program on which environments are pinned.)"""
    from components import config
    for name in rules.deployed_by_ci():
        stack = load_stack(ROOT / "stacks", name)
        settings = config.build_settings(**stack.settings_input())
        private = not settings.cluster.endpoint_public_access
        assert (name in rules.RUNNER_LABELS) == private, name
        assert stack.pinned == settings.pinned, name  # the tool's copy of the pinned environments
