"""Command line: promote a release, check a stack, deploy a stack, and the CI change check."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.promote import ci
from tools.promote.commands import Runner, git_root, require_committed, run_command
from tools.promote.deployed import COMMIT, PROGRAM_KEY, Served, target_note, verify_served
from tools.promote.errors import EXIT_REFUSED, Refused
from tools.promote.rules import Notes, check_order, check_static, validate_target
from tools.promote.stackfile import (
    Pins,
    StackFile,
    dropped_comments,
    load_stack,
    replace_release,
    unified_diff,
)

COMMANDS = ("check", "deploy", "plan")


def _stacks_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stacks-dir", type=Path, default=Path("stacks"), help="where the stack files are")


def promote_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.promote",
        description="Copy the verified kserve-fluid:release block of stack SRC into stack DST and print the diff. "
                    "Other commands: `check STACK`, `deploy STACK [--preview]`, `plan STACK` (CI).")
    parser.add_argument("source", metavar="SRC", help="stack to promote from, e.g. aws-dev")
    parser.add_argument("target", metavar="DST", help="stack to promote to, e.g. aws-staging")
    parser.add_argument("--yes-prod", action="store_true", help="confirm a promotion into a prod stack")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not read what SRC serves (never into prod; a branch is then not resolved)")
    parser.add_argument("--cross-cloud", action="store_true", help="allow promoting between clouds")
    parser.add_argument("--skip-stage", metavar="REASON", help="allow a step out of the promotion order, recording why")
    parser.add_argument("--message-file", type=Path, help="write the commit message (with what was verified) here")
    _stacks_dir(parser)
    return parser


def command_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m tools.promote {command}")
    parser.add_argument("stack", metavar="STACK")
    _stacks_dir(parser)
    if command == "deploy":
        parser.add_argument("--preview", action="store_true", help="`pulumi preview` only")
    if command == "plan":
        parser.add_argument("--sha", default=os.environ.get("GITHUB_SHA", ""), help="the commit to deploy")
        parser.add_argument("--repository", default=os.environ.get("GITHUB_REPOSITORY", ""), help="owner/name")
    return parser


def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    """Entry point; `runner` replaces git, gh and the Pulumi CLI (tests). Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            args = command_parser(argv[0]).parse_args(argv[1:])
            return {"check": _check, "deploy": _deploy, "plan": _plan}[argv[0]](args, runner)
        return _promote(promote_parser().parse_args(argv), runner)
    except Refused as e:
        print(f"promote: refused: {e}", file=sys.stderr)
        return EXIT_REFUSED


def _cli(runner: Runner | None, why: str) -> Runner:
    """The given runner, or the real one -- which needs the Pulumi CLI: without it nothing can be verified."""
    if runner is not None:
        return runner
    if shutil.which("pulumi") is None:
        raise Refused(f"the Pulumi CLI is not installed, so {why} cannot be verified; install it (the version in "
                      "components/versions.py, PULUMI_CLI)")
    return run_command


def _check(args: argparse.Namespace, runner: Runner | None) -> int:
    """`check STACK`: the stack serves its committed file (CI runs it after every deploy)."""
    stack = load_stack(args.stacks_dir, args.stack)
    runner = _cli(runner, f"what {stack.name} serves")
    root = git_root(args.stacks_dir, runner)
    require_committed(root, [stack.path], runner)
    print(f"promote: {verify_served(stack, runner, root).summary()}", file=sys.stderr)
    return 0


def _deploy(args: argparse.Namespace, runner: Runner | None) -> int:
    stack = load_stack(args.stacks_dir, args.stack)
    served = ci.deploy(stack, preview=args.preview, runner=_cli(runner, f"the deploy of {stack.name}"))
    if served:
        print(f"promote: {served.summary()}", file=sys.stderr)
        _step_summary(f"{served.summary()}\n")
    return 0


def _plan(args: argparse.Namespace, runner: Runner | None) -> int:
    stack = load_stack(args.stacks_dir, args.stack)
    if not COMMIT.fullmatch(args.sha) or "/" not in args.repository:
        raise Refused(f"plan needs --sha (a 40-hex commit, got {args.sha!r}) and --repository owner/name "
                      f"(got {args.repository!r})")
    result = ci.plan(stack, args.sha, args.repository, runner or run_command)
    print(f"promote: {'deploy' if result.deploy else 'skip'} {stack.name}: {result.reason}", file=sys.stderr)
    ci.write_github_output({"deploy": str(result.deploy).lower(), "runs-on": ci.runs_on(stack.name)})
    _step_summary(f"{'Deploys' if result.deploy else 'Skips'} `{stack.name}`: {result.reason}\n")
    return 0


def _step_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)


def _promote(args: argparse.Namespace, runner: Runner | None) -> int:
    notes = Notes()
    if args.source == args.target:
        raise Refused(f"source and target are the same stack ({args.source})")
    source, target = load_stack(args.stacks_dir, args.source), load_stack(args.stacks_dir, args.target)
    git = runner or run_command
    root = git_root(args.stacks_dir, git)
    require_committed(root, [source.path, target.path], git)
    check_order(source.name, target.name, args.skip_stage, notes)
    # A dry run writes nothing, so it needs no prod confirmation: it is how the diff gets reviewed.
    check_static(source, target, yes_prod=args.yes_prod or args.dry_run, cross_cloud=args.cross_cloud,
                 verify=not args.no_verify, notes=notes)
    served = None
    if not args.no_verify:
        runner = _cli(runner, f"what {source.name} serves")
        served = verify_served(source, runner, root)
        print(f"promote: {served.summary()}", file=sys.stderr)
    pins = resolve_pins(source, target, served, notes)
    new_text = replace_release(source, target, pins)
    validate_target(target, new_text)
    if served:
        note = target_note(target, runner)
        notes.warnings += [note] if note else []
    notes.warnings += [f"the comment {c!r} in {target.name}'s release block is dropped (the block is the source's)"
                       for c in dropped_comments(target.text, new_text, target.path)]
    for warning in notes.warnings:
        print(f"promote: warning: {warning}", file=sys.stderr)
    if new_text == target.text:
        print(f"promote: {target.name} already has the release of {source.name}; nothing to do", file=sys.stderr)
        return 0
    sys.stdout.write(unified_diff(target.path, target.text, new_text))
    message = commit_message(source, target, served, notes)
    if args.message_file:
        args.message_file.write_text(message, encoding="utf-8")
    if args.dry_run:
        print(f"promote: dry run, {target.path} not written", file=sys.stderr)
        return 0
    target.path.write_bytes(new_text.encode("utf-8"))
    print(f"promote: wrote {target.path}; commit it with this message and open a pull request (merging it deploys "
          f"{target.name} behind its environment's protection):\n\n{message}", file=sys.stderr)
    return 0


def resolve_pins(source: StackFile, target: StackFile, served: Served | None, notes: Notes) -> Pins:
    """What the promotion writes besides the copied block: the promoted thing is what the source *served*.

    A dev release may track a branch (or a local directory without a digest); the target gets the commit
    (or manifest digest) the source resolved inside Pulumi and served, read from its verified outputs. A staging
    or prod target also runs the program the source ran: unless the source's release pins `program` already
    (then it is copied, and verification proved the source ran exactly that commit), it gets the commit the
    source's last update was deployed from (Pulumi's `git.head`). Without verification there is nothing to
    resolve from, so a pinned target refuses.
    """
    pins: dict[tuple[str, ...], str] = {}
    model = source.release.get("model") or {}
    hugging_face = str(model.get("source", "")).startswith("hf://")
    path = ("model", "revision") if hugging_face else ("model", "digest")
    current = model.get(path[-1])
    if not (COMMIT.fullmatch(str(current)) if hugging_face else current):
        if served:
            pins[path] = served.model_revision
            notes.record.append(f"release.{'.'.join(path)}: {current!r} in {source.name}, resolved to "
                                f"{served.model_revision}, the one it served")
        elif target.pinned:
            raise Refused(f"{source.name}'s release.{'.'.join(path)} is {current!r}, not pinned; {target.name} serves "
                          f"pinned bytes, and only a verified promotion can pin what {source.name} served (output "
                          "modelRevision): drop --no-verify")
    # `program:` with no value is unset too (the schema's None): it is resolved like an absent key.
    if target.pinned and source.release.get(PROGRAM_KEY) is None:
        if not served:
            raise Refused(f"{source.name}'s release does not pin release.{PROGRAM_KEY}; {target.name} runs the program "
                          f"commit its release pins, and only a verified promotion can read which commit {source.name} "
                          "was deployed from: drop --no-verify")
        pins[(PROGRAM_KEY,)] = served.program
        notes.record.append(f"release.{PROGRAM_KEY}: {served.program}, the commit {source.name} was deployed from")
    return pins


def commit_message(source: StackFile, target: StackFile, served: Served | None, notes: Notes) -> str:
    """The commit message a promotion is recorded with: what was verified, what was resolved, what was skipped."""
    lines = [f"promote: release of {source.name} to {target.name}", ""]
    lines.append(f"Verified: {served.summary()}." if served else
                 f"Not verified (--no-verify): nothing proves {source.name} serves this release.")
    lines += notes.record
    return "\n".join(lines) + "\n"
