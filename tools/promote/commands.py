"""How the tool runs git, gh and pulumi: one injectable runner, so tests drive every path without a cloud."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tools.promote.errors import Refused


class Runner(Protocol):
    """Runs argv and returns its stdout (`stream=True`: output goes to the terminal, returns "");
    raises `subprocess.CalledProcessError` (with stderr when captured) on a non-zero exit."""

    def __call__(self, argv: Sequence[str], stream: bool = False) -> str: ...


def run_command(argv: Sequence[str], stream: bool = False) -> str:
    """The real runner."""
    if stream:
        subprocess.run(list(argv), check=True)
        return ""
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def failure(e: subprocess.CalledProcessError) -> str:
    return (e.stderr or "").strip() or f"exit code {e.returncode}"


def stack_ref(name: str) -> str:
    """`-s` argument: `PULUMI_ORG/<stack>` when PULUMI_ORG is set (CI), else the name (the CLI's default org)."""
    org = os.environ.get("PULUMI_ORG", "").strip()
    return f"{org}/{name}" if org else name


# ---- git ---------------------------------------------------------------------------------------------------


def git_root(path: Path, runner: Runner) -> Path:
    """The checkout `path` is in; promotion and deploys only work on committed files, so no checkout is a refusal."""
    try:
        return Path(runner(["git", "-C", str(path), "rev-parse", "--show-toplevel"]).strip())
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        detail = failure(e) if isinstance(e, subprocess.CalledProcessError) else "git is not installed"
        raise Refused(f"{path} is not in a git checkout ({detail}); promotions and deploys use committed "
                      "stack files only") from None


def require_committed(root: Path, paths: Sequence[Path], runner: Runner) -> None:
    """Refuse when any of `paths` (none: the whole checkout) differs from HEAD: modified, staged, untracked, deleted.

    The file on disk is what gets copied or deployed, and a reviewer only sees what is committed: an
    uncommitted source release could be promoted without ever being in a commit, and an uncommitted edit
    of the target would ride along in the promotion commit unseen.
    """
    # --no-optional-locks: a status check must not rewrite the index of a checkout others are working in.
    argv = ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain", "--untracked-files=all", "--",
            *map(str, paths)]
    changed = runner(argv).strip()
    if changed:
        raise Refused(f"uncommitted changes ({'; '.join(line.strip() for line in changed.splitlines())}); commit or "
                      "stash them first: only committed files are promoted or deployed")


def head_commit(root: Path, runner: Runner) -> str:
    return runner(["git", "-C", str(root), "rev-parse", "HEAD"]).strip()


def is_ancestor(root: Path, commit: str, of: str, runner: Runner) -> bool | None:
    """Whether `commit` is `of` or in its history; None when git does not know `commit` (not fetched)."""
    try:
        runner(["git", "-C", str(root), "merge-base", "--is-ancestor", commit, of])
        return True
    except subprocess.CalledProcessError as e:
        return False if e.returncode == 1 else None
