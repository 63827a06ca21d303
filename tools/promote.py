"""Promote a release from one stack to the next: ``python -m tools.promote SRC DST``.

A *release* is the ``kserve-fluid:release`` block of a stack file (model, serving image, component
versions). Promotion copies that block, unchanged, from ``stacks/Pulumi.SRC.yaml`` into
``stacks/Pulumi.DST.yaml`` and prints the unified diff of the target file. Everything else in the
target -- its environment keys, comments, ordering and formatting -- is left byte-for-byte alone: the
block is replaced as text (re-indented if needed), and the result is re-parsed to prove that only the
release changed.

Promotion is refused (exit 2, one message saying why and what to do) when

* a stack file is missing, or source and target are the same stack;
* the clouds differ (a release may name a local model path or a cloud-specific image) -- pass
  ``--cross-cloud`` when that is intended;
* the target is staging or prod and a Hugging Face model is not pinned to a 40-hex commit sha
  (those environments serve exactly the bytes that were tested);
* the target is prod and ``--yes-prod`` was not given (``--dry-run`` needs no confirmation);
* the Pulumi CLI is available (and ``--no-verify`` not given) and the source stack's outputs do
  not show this very release deployed with a ready InferenceService. The program exports
  ``release`` (the release block as deployed), ``modelRevision`` and ``inferenceServiceReady``;
  a source file edited but not deployed, or a service that never became ready, is not promoted.

Without the Pulumi CLI the deployment cannot be checked; a warning says so and promotion continues.
Run it from the project directory (where ``Pulumi.yaml`` is), so ``pulumi stack output`` finds it.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = "kserve-fluid"
RELEASE_KEY = f"{PROJECT}:release"
ENVIRONMENT_KEY = f"{PROJECT}:environment"
CLOUD_KEY = f"{PROJECT}:cloud"
# Environments that must serve pinned bytes (mirrors components/config.py).
PINNED_ENVIRONMENTS = ("staging", "prod")
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
EXIT_REFUSED = 2

Runner = Callable[[Sequence[str]], str]
"""Runs a command (argv) and returns its stdout; raises `subprocess.CalledProcessError` on failure."""

_RELEASE_LINE = re.compile(r"^ *(?P<q>['\"]?)" + re.escape(RELEASE_KEY) + r"(?P=q)[ \t]*:(?=\s|$)")


class Refused(Exception):
    """The promotion must not happen; the message says why and what to do instead."""


@dataclass(frozen=True)
class StackFile:
    """One `stacks/Pulumi.<name>.yaml`: its exact text and its parsed config."""

    name: str
    path: Path
    text: str
    config: dict[str, Any]

    @property
    def environment(self) -> str:
        # The project default (Pulumi.yaml) when the stack does not set it.
        return str(self.config.get(ENVIRONMENT_KEY, "dev"))

    @property
    def cloud(self) -> str | None:
        return self.config.get(CLOUD_KEY)

    @property
    def release(self) -> dict[str, Any]:
        release = self.config.get(RELEASE_KEY)
        if not isinstance(release, dict):
            raise Refused(f"{self.path}: no `{RELEASE_KEY}` block (a map with model, servingImage, versions)")
        return release


def load_stack(stacks_dir: Path, name: str) -> StackFile:
    """Read a stack file, keeping its bytes exactly (line endings included) for the text edit."""
    path = stacks_dir / f"Pulumi.{name}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise Refused(f"{path}: no such stack file; stacks in {stacks_dir}: {', '.join(known) or 'none'}")
    text = path.read_bytes().decode("utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise Refused(f"{path}: not valid YAML ({e})") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise Refused(f"{path}: no `config:` map")
    return StackFile(name, path, text, config)


def release_span(lines: Sequence[str], path: Path) -> tuple[int, int, int]:
    """(first line, end line, indentation) of the release key and the lines nested under it.

    The block ends at the first non-blank line indented no deeper than the key -- the next config
    key or the `# ---- environment` comment -- and trailing blank lines stay outside it.
    """
    starts = [i for i, line in enumerate(lines) if _RELEASE_LINE.match(line)]
    if len(starts) != 1:
        raise Refused(f"{path}: expected one `{RELEASE_KEY}:` line, found {len(starts)}")
    start = starts[0]
    indent = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end, indent


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def replace_release(source: StackFile, target: StackFile) -> str:
    """The target's text with its release block replaced by the source's, all else untouched."""
    src_lines = source.text.splitlines(keepends=True)
    dst_lines = target.text.splitlines(keepends=True)
    s0, s1, s_indent = release_span(src_lines, source.path)
    d0, d1, d_indent = release_span(dst_lines, target.path)
    newline = "\r\n" if "\r\n" in target.text else "\n"
    shift = d_indent - s_indent
    block = []
    for line in src_lines[s0:s1]:
        body = line.rstrip("\r\n")
        if body.strip():
            body = " " * shift + body if shift >= 0 else body[-shift:]
        block.append(body + newline)
    new_text = "".join(dst_lines[:d0] + block + dst_lines[d1:])
    _check_only_release_changed(new_text, source, target)
    return new_text


def _check_only_release_changed(new_text: str, source: StackFile, target: StackFile) -> None:
    """Re-parse the edited file: the release must equal the source's and every other key be unchanged."""
    try:
        config = (yaml.safe_load(new_text) or {}).get("config") or {}
    except yaml.YAMLError as e:
        raise Refused(f"{target.path}: the edited file would not parse ({e}); edit the release block by hand") from None
    rest = {k: v for k, v in config.items() if k != RELEASE_KEY}
    before = {k: v for k, v in target.config.items() if k != RELEASE_KEY}
    if config.get(RELEASE_KEY) != source.release or rest != before:
        raise Refused(f"{target.path}: replacing the release block as text would change more than the release "
                      "(unusual formatting); edit it by hand")


def check_rules(source: StackFile, target: StackFile, *, yes_prod: bool, cross_cloud: bool) -> None:
    """The static refusals: clouds, pinned revisions, prod confirmation."""
    if source.cloud != target.cloud and not cross_cloud:
        raise Refused(f"{source.name} runs on {source.cloud!r} and {target.name} on {target.cloud!r}; a release can "
                      "name a local model path or a cloud-specific image, so pass --cross-cloud if this is intended")
    model = source.release.get("model") or {}
    model_source = str(model.get("source", ""))
    revision = model.get("revision")
    if (target.environment in PINNED_ENVIRONMENTS and model_source.startswith("hf://")
            and not COMMIT_SHA.fullmatch(str(revision or ""))):
        raise Refused(f"{target.name} is {target.environment} and serves pinned bytes, but the release's model "
                      f"{model_source} has revision {revision!r}, not a 40-hex commit sha; pin the commit in "
                      f"{source.path} (the one {source.name} ingested: `pulumi stack output modelRevision -s "
                      f"{source.name}`), deploy {source.name}, then promote")
    if target.environment == "prod" and not yes_prod:
        raise Refused(f"{target.name} is a prod stack; review the diff (--dry-run) and confirm with --yes-prod")


def verify_deployed(source: StackFile, runner: Runner) -> str:
    """Check the source stack's outputs show its file's release deployed and ready; return a summary."""
    argv = ["pulumi", "stack", "output", "--json", "-s", source.name]
    try:
        outputs = json.loads(runner(argv))
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or "").strip() or f"exit code {e.returncode}"
        raise Refused(f"cannot read the outputs of {source.name} (`{' '.join(argv)}`): {detail}; "
                      "use --no-verify only if you checked the deployment yourself") from None
    except json.JSONDecodeError as e:
        raise Refused(f"`{' '.join(argv)}` did not print JSON ({e})") from None
    deployed = outputs.get("release") if isinstance(outputs, dict) else None
    if not isinstance(deployed, dict):
        raise Refused(f"{source.name} exports no `release` output: it was not deployed with this program; "
                      f"run `pulumi up -s {source.name}` first")
    differences = _differences(_normalize(source.release), _normalize(deployed))
    if differences:
        raise Refused(f"{source.path} is not what {source.name} runs ({'; '.join(differences)}); "
                      f"deploy it (`pulumi up -s {source.name}`) and check it before promoting")
    if outputs.get("inferenceServiceReady") is not True:
        raise Refused(f"{source.name} deployed this release but its InferenceService is not ready "
                      f"(inferenceServiceReady = {outputs.get('inferenceServiceReady')!r}); promote a release "
                      "that serves")
    revision = outputs.get("modelRevision")
    return f"{source.name} serves this release{f' (model revision {revision})' if revision else ''}, ready"


def _normalize(value: Any) -> Any:
    """Comparable form: absent, null and empty values are the same; 15 equals 15.0; tuples are lists."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _differences(in_file: Any, deployed: Any, path: str = "release") -> list[str]:
    """Human-readable `key: file X, deployed Y` lines for every leaf that differs."""
    if isinstance(in_file, dict) and isinstance(deployed, dict):
        return [d for key in sorted(set(in_file) | set(deployed))
                for d in _differences(in_file.get(key), deployed.get(key), f"{path}.{key}")]
    if in_file != deployed:
        return [f"{path}: file {in_file!r}, deployed {deployed!r}"]
    return []


def unified_diff(path: Path, old: str, new: str) -> str:
    """A unified diff; relative paths get git's a/ b/ prefixes, so `git apply` takes it from the project root."""
    name = path.as_posix()
    before, after = (name, name) if path.is_absolute() else (f"a/{name}", f"b/{name}")
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=before, tofile=after))


def pulumi_cli(argv: Sequence[str]) -> str:
    """The real runner: run the command, return stdout, raise CalledProcessError (with stderr) on failure."""
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.promote",
        description="Copy the kserve-fluid:release block of stack SRC into stack DST and print the diff.")
    parser.add_argument("source", metavar="SRC", help="stack to promote from, e.g. aws-dev")
    parser.add_argument("target", metavar="DST", help="stack to promote to, e.g. aws-staging")
    parser.add_argument("--yes-prod", action="store_true", help="confirm a promotion into a prod stack")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument("--stacks-dir", type=Path, default=Path("stacks"), help="where the stack files are")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not check the source deployment through `pulumi stack output`")
    parser.add_argument("--cross-cloud", action="store_true", help="allow promoting between clouds")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    """Entry point; `runner` replaces the Pulumi CLI (tests). Returns the exit code."""
    args = parse_args(argv)
    try:
        if args.source == args.target:
            raise Refused(f"source and target are the same stack ({args.source})")
        source = load_stack(args.stacks_dir, args.source)
        target = load_stack(args.stacks_dir, args.target)
        # A dry run writes nothing, so it needs no prod confirmation: it is how the diff gets reviewed.
        check_rules(source, target, yes_prod=args.yes_prod or args.dry_run, cross_cloud=args.cross_cloud)
        if not args.no_verify:
            runner = runner or (pulumi_cli if shutil.which("pulumi") else None)
            if runner is None:
                print(f"promote: warning: the Pulumi CLI is not installed, so the deployment of {source.name} "
                      "could not be verified", file=sys.stderr)
            else:
                print(f"promote: {verify_deployed(source, runner)}", file=sys.stderr)
        new_text = replace_release(source, target)
    except Refused as e:
        print(f"promote: refused: {e}", file=sys.stderr)
        return EXIT_REFUSED
    if new_text == target.text:
        print(f"promote: {target.name} already has the release of {source.name}; nothing to do", file=sys.stderr)
        return 0
    sys.stdout.write(unified_diff(target.path, target.text, new_text))
    if args.dry_run:
        print(f"promote: dry run, {target.path} not written", file=sys.stderr)
    else:
        target.path.write_bytes(new_text.encode("utf-8"))
        print(f"promote: wrote {target.path}; review, commit and deploy with `pulumi up -s {target.name}`",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
