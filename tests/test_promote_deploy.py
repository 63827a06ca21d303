"""`python -m tools.promote deploy STACK` and `plan STACK`: how CI (and people) update a stack.

Every update runs the policy pack from a committed tree and ends with the verification promotions rely on;
a pinned program is deployed from a clean clone at that commit; CI deploys only the head of main, and only
when something the stack runs changed since its last successful deployment.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import test_promote
from tests.test_promote import FakeCli, commit, git, head, pin_program, run, stack_file
from tools import promote
from tools.promote import ci

repo, fake = test_promote.repo, test_promote.fake  # the fixtures: a git repository with stacks/, the fake CLIs


def deploy_calls(fake: FakeCli) -> list[list[str]]:
    return [c for c in fake.pulumi_calls() if c[1] in ("preview", "up")]


def test_preview_runs_the_policy_pack_with_the_committed_stack_file(repo: Path, fake: FakeCli) -> None:
    assert run(repo, "deploy", "aws-dev", "--preview", runner=fake) == 0
    assert deploy_calls(fake) == [[
        "pulumi", "preview", "--stack", "aws-dev", "--cwd", str(repo), "--config-file",
        str(stack_file(repo, "aws-dev").resolve()), "--policy-pack", str(repo / "policy"),
        "--policy-pack-config", str(repo / "policy" / "enforcement.json"), "--non-interactive", "--diff"]]
    assert not [c for c in fake.pulumi_calls() if c[1] == "stack"]  # a preview proves nothing, so it reads nothing


def test_up_is_followed_by_the_verification(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    """`deploy` succeeds only when, after `pulumi up`, the stack proves it serves its committed release."""
    fake.serve(repo, "aws-staging")
    assert run(repo, "deploy", "aws-staging", runner=fake) == 0
    head = git(repo, "rev-parse", "HEAD").strip()
    calls = [c[:3] for c in fake.pulumi_calls()]
    assert calls[0] == ["pulumi", "up", "--stack"] and calls[1] == ["pulumi", "stack", "output"]
    up = deploy_calls(fake)[0]
    assert "--policy-pack" in up and up[up.index("--message") + 1] == f"deploy aws-staging from {head}"
    assert "aws-staging serves release" in capsys.readouterr().err


def test_an_up_whose_release_never_served_fails_the_deploy(repo: Path, fake: FakeCli,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake.serve(repo, "aws-staging", servedRelease="0" * 16)
    assert run(repo, "deploy", "aws-staging", runner=fake) == promote.EXIT_REFUSED
    assert "servedRelease is '0000000000000000'" in capsys.readouterr().err


def test_a_failing_up_is_not_verified(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    fake.fail["up"] = 1
    assert run(repo, "deploy", "aws-dev", runner=fake) == promote.EXIT_REFUSED
    assert "`pulumi up` of aws-dev failed (exit code 1)" in capsys.readouterr().err
    assert not [c for c in fake.pulumi_calls() if c[1] == "stack"]


def test_refuses_to_deploy_from_a_dirty_checkout(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str]) -> None:
    """Pulumi records git.dirty for the checkout the program ran from; such a deploy proves no commit, so it does
    not start (any file counts while the program is taken from this checkout)."""
    (repo / "notes.txt").write_text("scratch\n")
    assert run(repo, "deploy", "aws-dev", runner=fake) == promote.EXIT_REFUSED
    assert "uncommitted changes (?? notes.txt)" in capsys.readouterr().err
    assert deploy_calls(fake) == []


def test_refuses_to_deploy_without_the_policy_pack(repo: Path, fake: FakeCli,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "policy" / ".venv").rmdir()
    assert run(repo, "deploy", "aws-dev", "--preview", runner=fake) == promote.EXIT_REFUSED
    assert "the policy pack has no virtualenv" in capsys.readouterr().err
    assert deploy_calls(fake) == []


def test_a_pinned_program_is_deployed_from_a_clone_at_that_commit(repo: Path, fake: FakeCli) -> None:
    """An unrelated merge cannot change what a pinned stack runs: the program comes from `release.program`, the
    stack file (and policy pack) from the deploying commit."""
    (repo / "__main__.py").write_text("PROGRAM = 1\n")
    program = commit(repo, "program v1")
    (repo / "__main__.py").write_text("PROGRAM = 2\n")
    commit(repo, "program v2")
    pin_program(repo, "aws-staging", program)
    assert run(repo, "deploy", "aws-staging", "--preview", runner=fake) == 0
    (preview,) = deploy_calls(fake)
    clone = Path(preview[preview.index("--cwd") + 1])
    assert clone != repo and git(clone, "rev-parse", "HEAD").strip() == program
    assert (clone / "__main__.py").read_text() == "PROGRAM = 1\n"
    assert git(clone, "status", "--porcelain") == ""  # Pulumi records it clean
    assert preview[preview.index("--config-file") + 1] == str(stack_file(repo, "aws-staging").resolve())
    assert preview[preview.index("--policy-pack") + 1] == str(repo / "policy")
    assert any(c[-2:] == ["-r", str(clone / "requirements.txt")] for c in fake.calls)  # its own dependencies


def test_a_pinned_program_is_deployed_and_verified_at_that_commit(repo: Path, fake: FakeCli,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`deploy` (up) of a pinned stack: Pulumi records the commit of the clone it ran in as the update's git.head,
    and the verification after `up` accepts exactly the pinned one (a run from this checkout would be refused)."""
    program = head(repo)
    commit(repo, "main moves on")
    pin_program(repo, "aws-staging", program)
    fake.serve(repo, "aws-staging")
    assert run(repo, "deploy", "aws-staging", runner=fake) == 0
    (up,) = deploy_calls(fake)
    assert up[up.index("--cwd") + 1] != str(repo)
    assert fake.history["aws-staging"][0]["environment"] == {"git.head": program, "git.dirty": "false"}
    assert f"aws-staging serves release {fake.outputs['aws-staging']['releaseDigest']}" in capsys.readouterr().err


def test_a_pinned_deploy_needs_its_stack_file_and_policy_pack_committed(repo: Path, fake: FakeCli,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The program comes from the clean clone; the stack file and the policy pack come from this checkout, so they
    must be committed (a locally weakened policy pack would check nothing), and nothing else must."""
    pin_program(repo, "aws-staging", head(repo))
    (repo / "notes.txt").write_text("scratch\n")
    assert run(repo, "deploy", "aws-staging", "--preview", runner=fake) == 0
    (repo / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n# weakened\n")
    assert run(repo, "deploy", "aws-staging", "--preview", runner=fake) == promote.EXIT_REFUSED
    assert "uncommitted changes (M policy/PulumiPolicy.yaml)" in capsys.readouterr().err
    assert len(deploy_calls(fake)) == 1


def test_refuses_a_pinned_program_outside_this_history(repo: Path, fake: FakeCli,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    pin_program(repo, "aws-staging", "e" * 40)
    assert run(repo, "deploy", "aws-staging", "--preview", runner=fake) == promote.EXIT_REFUSED
    assert f"release.program {'e' * 40} is not in the history of this checkout's HEAD" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- plan


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    """A remote `origin` whose main is the repository's HEAD, as in a CI checkout."""
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "--quiet", "origin", "main")
    return remote


def plan(repo: Path, fake: FakeCli, stack: str, sha: str, monkeypatch: pytest.MonkeyPatch,
         tmp_path: Path) -> dict[str, str]:
    output = tmp_path / "github_output"
    output.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert run(repo, "plan", stack, "--sha", sha, "--repository", "acme/kserve-fluid", runner=fake) == 0
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def push(repo: Path, path: str, text: str) -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    sha = commit(repo, f"change {path}")
    git(repo, "push", "--quiet", "origin", "main")
    return sha


def test_plan_deploys_a_stack_never_deployed_from_its_in_vpc_runner(repo: Path, origin: Path, fake: FakeCli,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    assert plan(repo, fake, "aws-prod", head, monkeypatch, tmp_path) == {
        "deploy": "true", "runs-on": json.dumps(["self-hosted", "kf-prod"])}
    assert plan(repo, fake, "aws-dev", head, monkeypatch, tmp_path)["runs-on"] == json.dumps("ubuntu-latest")


def test_plan_skips_a_commit_that_is_no_longer_the_head(repo: Path, origin: Path, fake: FakeCli,
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Racing merges: the older run must not deploy after the newer one (whose run is queued behind it)."""
    old = git(repo, "rev-parse", "HEAD").strip()
    new = push(repo, "docs/x.md", "x\n")
    assert plan(repo, fake, "aws-dev", old, monkeypatch, tmp_path)["deploy"] == "false"
    assert f"{old} is not the head of main ({new})" in capsys.readouterr().err


@pytest.mark.parametrize(("path", "deploys"), [
    ("docs/notes.md", {"aws-staging": False, "aws-prod": False}),
    ("components/k8s/inference.py", {"aws-staging": True, "aws-prod": True}),
    ("stacks/Pulumi.aws-prod.yaml", {"aws-staging": False, "aws-prod": True}),
])
def test_plan_deploys_what_changed_since_the_last_successful_deployment(
        repo: Path, origin: Path, fake: FakeCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str,
        deploys: dict[str, bool]) -> None:
    """A failed (or never approved) deployment does not count: the change is still pending, so it is deployed."""
    deployed = git(repo, "rev-parse", "HEAD").strip()
    failed = push(repo, "README.md", "failed deploy of this one\n")
    head = push(repo, path, (repo / path).read_text() + "# changed\n" if (repo / path).exists() else "new\n")
    for stack in deploys:
        fake.deployments[stack] = [(failed, "failure"), (deployed, "success")]
    assert {s: plan(repo, fake, s, head, monkeypatch, tmp_path)["deploy"] == "true" for s in deploys} == deploys


def test_plan_with_a_pinned_program_ignores_program_changes(repo: Path, origin: Path, fake: FakeCli,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pin_program(repo, "aws-prod", git(repo, "rev-parse", "HEAD").strip())
    git(repo, "push", "--quiet", "origin", "main")
    fake.deployments["aws-prod"] = [(git(repo, "rev-parse", "HEAD").strip(), "success")]
    head = push(repo, "components/k8s/inference.py", "changed\n")
    assert plan(repo, fake, "aws-prod", head, monkeypatch, tmp_path)["deploy"] == "false"
    assert ci.inputs_of(promote.cli.load_stack(repo / "stacks", "aws-prod"), repo) == ["stacks/Pulumi.aws-prod.yaml"]


def test_plan_needs_the_commit_and_the_repository(repo: Path, fake: FakeCli, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    assert run(repo, "plan", "aws-dev", "--repository", "acme/x", runner=fake) == promote.EXIT_REFUSED
    assert "plan needs --sha (a 40-hex commit, got '')" in capsys.readouterr().err
