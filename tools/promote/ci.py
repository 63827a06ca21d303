"""Deploying one stack: the change check CI runs before asking for approval, and the one deploy command.

`deploy` is the only way this project runs `pulumi preview`/`pulumi up` (CI and people alike), so every
update runs the policy pack, from a committed tree, with the program the release pins, and ends with the
same verification a promotion relies on.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.promote.commands import Runner, failure, git_root, head_commit, is_ancestor, require_committed, stack_ref
from tools.promote.deployed import COMMIT, PROGRAM_KEY, Served, verify_served
from tools.promote.errors import Refused
from tools.promote.rules import RUNNER_LABELS
from tools.promote.stackfile import StackFile

# What a stack runs besides its stack file while its release does not pin `program` (dev, and a staging or prod
# stack before its first promotion): the program itself, its dependencies and the policy pack it is deployed with.
# A pinned stack runs the program of `release.program`, so only its stack file is an input (a policy change
# applies at its next deploy).
PROGRAM_PATHS = ("Pulumi.yaml", "__main__.py", "requirements.txt", "components", "policy")


def runs_on(stack: str) -> str:
    """The `runs-on` of a stack's preview and deploy jobs, as JSON (GitHub's fromJSON)."""
    label = RUNNER_LABELS.get(stack)
    return json.dumps(["self-hosted", label] if label else "ubuntu-latest")


def inputs_of(stack: StackFile, root: Path) -> list[str]:
    """The paths whose change means the stack has something to deploy."""
    paths = [stack.path.resolve().relative_to(root.resolve()).as_posix()]
    return paths if stack.release.get(PROGRAM_KEY) else [*paths, *PROGRAM_PATHS]


@dataclass(frozen=True)
class Plan:
    deploy: bool
    reason: str


def plan(stack: StackFile, sha: str, repository: str, runner: Runner) -> Plan:
    """Should this run deploy `stack` at `sha`? Only the head of main is deployed (a newer merge has its own run,
    queued behind this one), and only when the stack's inputs changed since its last successful deployment --
    read from GitHub's deployment records, so a deploy that failed or was never approved is retried by the next
    run instead of being forgotten."""
    root = git_root(stack.path.parent, runner)
    try:
        runner(["git", "-C", str(root), "fetch", "--quiet", "origin", "main"])
        head = runner(["git", "-C", str(root), "rev-parse", "origin/main"]).strip()
    except subprocess.CalledProcessError as e:
        raise Refused(f"cannot read the head of main: {failure(e)}") from None
    if sha != head:
        return Plan(False, f"{sha} is not the head of main ({head}); the run for {head} deploys {stack.name}")
    last = last_deployed(stack.name, repository, runner)
    if last is None:
        return Plan(True, f"{stack.name} has no successful deployment from CI yet")
    if not is_ancestor(root, last, sha, runner):
        return Plan(True, f"{stack.name} was last deployed from {last}, which is not in the history of {sha}")
    changed = runner(["git", "-C", str(root), "diff", "--name-only", last, sha, "--", *inputs_of(stack, root)]).split()
    if not changed:
        return Plan(False, f"nothing {stack.name} runs changed since its last deployment ({last})")
    return Plan(True, f"changed since {stack.name}'s last deployment ({last}): {', '.join(changed)}")


def last_deployed(environment: str, repository: str, runner: Runner) -> str | None:
    """The commit of the newest deployment to `environment` that succeeded (`gh api`, the job's GITHUB_TOKEN)."""
    def api(path: str, **query: str) -> list[dict]:
        fields = [arg for key, value in {**query, "per_page": "100"}.items() for arg in ("-f", f"{key}={value}")]
        try:
            return json.loads(runner(["gh", "api", "-X", "GET", path, *fields]) or "[]")
        except subprocess.CalledProcessError as e:
            raise Refused(f"cannot read the deployments of {environment} (`gh api {path}`): {failure(e)}") from None
    for deployment in api(f"repos/{repository}/deployments", environment=environment):  # newest first
        statuses = api(f"repos/{repository}/deployments/{deployment['id']}/statuses")
        if any(status.get("state") == "success" for status in statuses):
            return str(deployment["sha"])
    return None


def write_github_output(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(f"{key}={value}\n" for key, value in values.items())


def deploy(stack: StackFile, *, preview: bool, runner: Runner) -> Served | None:
    """`pulumi preview` (preview) or `pulumi up` of a stack, with the policy pack, then (up) verification."""
    root = git_root(stack.path.parent, runner)
    program = stack.release.get(PROGRAM_KEY)
    policy = root / "policy"
    # Pulumi records `git.dirty` for the checkout the program runs from; a dirty one is refused by verification
    # later, so refuse it now. With a pinned program the program runs from a clean clone, and only the stack file
    # and the policy pack come from this checkout: they must be committed (a locally weakened pack is no check).
    require_committed(root, [stack.path, policy] if program else [], runner)
    if not (policy / ".venv").is_dir():
        raise Refused(f"the policy pack has no virtualenv ({policy / '.venv'}); every update runs it: "
                      "python -m venv policy/.venv && policy/.venv/bin/pip install -r policy/requirements.txt")
    work_dir = _program_checkout(root, str(program), runner) if program else root
    command = ["pulumi", "preview" if preview else "up", "--stack", stack_ref(stack.name), "--cwd", str(work_dir),
               "--config-file", str(stack.path.resolve()), "--policy-pack", str(policy),
               # the stacks whose data is durable whatever their own config says (docs/guardrails.md)
               "--policy-pack-config", str(policy / "enforcement.json"), "--non-interactive"]
    command += ["--diff"] if preview else ["--yes", "--message", f"deploy {stack.name} from {head_commit(root, runner)}"]
    try:
        runner(command, stream=True)
    except subprocess.CalledProcessError as e:
        raise Refused(f"`pulumi {command[1]}` of {stack.name} failed (exit code {e.returncode})") from None
    return None if preview else verify_served(stack, runner, root)


def _program_checkout(root: Path, program: str, runner: Runner) -> Path:
    """A clean clone of this repository at the pinned program commit, with its own virtualenv (a clone rather than a
    worktree: Pulumi reads `git.head` with go-git, which does not follow a worktree's shared object store)."""
    if not COMMIT.fullmatch(program):
        raise Refused(f"release.program is {program!r}, not a 40-hex commit of this repository")
    if not is_ancestor(root, program, "HEAD", runner):
        raise Refused(f"release.program {program} is not in the history of this checkout's HEAD: only reviewed "
                      "commits are deployed (fetch, or promote a commit of main)")
    work_dir = Path(tempfile.mkdtemp(prefix="kf-program-", dir=os.environ.get("RUNNER_TEMP")))
    runner(["git", "clone", "--quiet", "--no-checkout", str(root), str(work_dir)])
    runner(["git", "-C", str(work_dir), "checkout", "--quiet", "--detach", program])
    runner([sys.executable, "-m", "venv", str(work_dir / ".venv")])
    runner([str(work_dir / ".venv" / "bin" / "pip"), "install", "--quiet", "-r", str(work_dir / "requirements.txt")],
           stream=True)
    return work_dir
