"""What a stack actually serves, read from Pulumi, and the proof that it serves its committed release.

Verification fails closed: every fact it needs comes from `pulumi stack output` and `pulumi stack history`,
and a fact that cannot be read is a refusal, never a warning. The facts, all exported by the program
(components/outputs.py) or recorded by Pulumi for each update:

* `releaseDigest` -- the release the stack was last deployed with -- equals the committed file's
  (`components.config.Release.digest`), and `release` matches it key by key (for a readable message);
* `servedRelease` equals it too: the program reads it from the InferenceService *after* Pulumi awaited it
  Ready, and every release change rolls a new Knative revision (the release annotation on the predictor),
  so a new model revision or image that never became Ready cannot show up here;
* `servedRevision` names that Ready Knative revision and `inferenceServiceReady` is true;
* `modelRevision` is pinned: the 40-hex commit a Hugging Face branch resolved to inside Pulumi (equal to the
  file's when the file pins one), or a local model's manifest digest (equal to `release.model.digest`);
* the last update of the stack succeeded and ran from a clean checkout of a commit in this repository's
  history (Pulumi's `git.head`/`git.dirty` update metadata): a deploy from a laptop with edits proves nothing
  about any commit. When the release pins `program`, the stack ran exactly that commit.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.promote.commands import Runner, failure, is_ancestor, stack_ref
from tools.promote.errors import Refused
from tools.promote.stackfile import StackFile

COMMIT = re.compile(r"[0-9a-f]{40}")
SHA256 = re.compile(r"[0-9a-f]{64}")
PROGRAM_KEY = "program"


@dataclass(frozen=True)
class Identity:
    """The committed release as the program sees it: its digest and its canonical form."""

    digest: str
    canonical: dict[str, Any]


def identity(release: dict[str, Any], where: Path) -> Identity:
    """Validate a release with the program's own schema; the digest is the one the program annotates."""
    from pydantic import ValidationError

    from components import config

    try:
        model = config.Release.model_validate(release)
    except ValidationError as e:
        problems = [f"{config.PROJECT}:release.{config.key_path(tuple(err['loc']))}: {err['msg']}" for err in e.errors()]
        raise Refused(f"{where}: the release is not valid:\n  " + "\n  ".join(problems)) from None
    return Identity(model.digest(), model.model_dump(by_alias=True, mode="json"))


@dataclass(frozen=True)
class Served:
    """What verification proved about one stack."""

    stack: str
    digest: str
    served_revision: str
    model_revision: str  # a 40-hex commit (Hugging Face) or a manifest sha256 (local model)
    program: str  # the commit of this repository the last update ran

    def summary(self) -> str:
        return (f"{self.stack} serves release {self.digest} as Knative revision {self.served_revision} "
                f"(model revision {self.model_revision}, program {self.program[:12]})")


def _read_json(argv: list[str], what: str, runner: Runner) -> Any:
    try:
        return json.loads(runner(argv))
    except subprocess.CalledProcessError as e:
        raise Refused(f"cannot read {what} (`{' '.join(argv)}`): {failure(e)}") from None
    except FileNotFoundError:
        raise Refused(f"cannot read {what}: the Pulumi CLI is not installed") from None
    except json.JSONDecodeError as e:
        raise Refused(f"`{' '.join(argv)}` did not print JSON ({e})") from None


def read_outputs(stack: str, runner: Runner) -> dict[str, Any]:
    outputs = _read_json(["pulumi", "stack", "output", "--json", "-s", stack_ref(stack)], f"the outputs of {stack}",
                         runner)
    if not isinstance(outputs, dict) or not outputs:
        raise Refused(f"{stack} has no outputs: it was never deployed (run its deploy first)")
    return outputs


def read_last_update(stack: str, runner: Runner) -> dict[str, Any]:
    """The newest update or destroy of the stack (refreshes change no outputs and run no program)."""
    history = _read_json(["pulumi", "stack", "history", "--json", "--page-size", "10", "-s", stack_ref(stack)],
                         f"the update history of {stack}", runner)
    for entry in history if isinstance(history, list) else []:
        if isinstance(entry, dict) and entry.get("kind") != "refresh":
            return entry
    raise Refused(f"{stack} has no update in its history: it was never deployed")


def verify_served(stack: StackFile, runner: Runner, repo: Path) -> Served:
    """Prove that `stack` serves the release of its committed file, or refuse with every reason found."""
    expected = identity(stack.release, stack.path)
    outputs = read_outputs(stack.name, runner)
    update = read_last_update(stack.name, runner)
    problems = [
        *_release_problems(stack, expected, outputs),
        *_model_problems(stack, outputs),
        *_update_problems(stack, update, repo, runner),
    ]
    if problems:
        raise Refused(f"{stack.name} does not prove it serves {stack.path}:\n  " + "\n  ".join(problems))
    environment = update.get("environment") or {}
    return Served(stack.name, expected.digest, str(outputs["servedRevision"]), str(outputs["modelRevision"]),
                  str(environment.get("git.head")))


def _release_problems(stack: StackFile, expected: Identity, outputs: dict[str, Any]) -> list[str]:
    problems = []
    deployed = outputs.get("release")
    if not isinstance(deployed, dict):
        problems.append("no `release` output: deployed by an older program; deploy it again")
    else:
        problems += [f"{d}: deploy the file" for d in _differences(_normalize(expected.canonical), _normalize(deployed))]
    if outputs.get("releaseDigest") != expected.digest:
        problems.append(f"releaseDigest is {outputs.get('releaseDigest')!r}, the file's release is {expected.digest!r}: "
                        "the file is not what was last deployed")
    if outputs.get("servedRelease") != expected.digest:
        problems.append(f"servedRelease is {outputs.get('servedRelease')!r}, not {expected.digest!r}: no InferenceService "
                        "revision with this release has been Ready (a rollout that failed or never finished)")
    if not isinstance(outputs.get("servedRevision"), str) or not outputs["servedRevision"]:
        problems.append(f"servedRevision is {outputs.get('servedRevision')!r}: no Ready Knative revision")
    if outputs.get("inferenceServiceReady") is not True:
        problems.append(f"inferenceServiceReady is {outputs.get('inferenceServiceReady')!r}, not true")
    image = expected.canonical["servingImage"]
    if outputs.get("servingImage") != image:
        problems.append(f"servingImage is {outputs.get('servingImage')!r}, the file says {image!r}")
    return problems


def _model_problems(stack: StackFile, outputs: dict[str, Any]) -> list[str]:
    model = stack.release.get("model") or {}
    revision, served = model.get("revision"), outputs.get("modelRevision")
    if str(model.get("source", "")).startswith("hf://"):
        if not isinstance(served, str) or not COMMIT.fullmatch(served):
            return [f"modelRevision is {served!r}, not the 40-hex commit the branch resolved to"]
        if COMMIT.fullmatch(str(revision)) and served != revision:
            return [f"modelRevision is {served}, the file pins {revision}"]
        return []
    if not isinstance(served, str) or not SHA256.fullmatch(served):
        return [f"modelRevision is {served!r}, not the sha256 manifest digest of the uploaded model"]
    if model.get("digest") not in (None, served):
        return [f"modelRevision is {served}, the file pins release.model.digest {model.get('digest')}"]
    return []


def _update_problems(stack: StackFile, update: dict[str, Any], repo: Path, runner: Runner) -> list[str]:
    kind, result = update.get("kind"), update.get("result")
    if kind != "update" or result != "succeeded":
        return [f"its last operation is a {kind} that is {result}: the outputs may not describe what runs; "
                "deploy it again"]
    environment = update.get("environment") or {}
    head, dirty = environment.get("git.head"), environment.get("git.dirty")
    if not isinstance(head, str) or not COMMIT.fullmatch(head):
        return ["its last update records no git commit (git.head): it was not deployed from a checkout"]
    if dirty != "false":
        return [f"its last update ran from a checkout with uncommitted changes (git.dirty = {dirty!r}) at {head}; "
                "deploy it from a commit (the deploy workflow)"]
    pinned = stack.release.get(PROGRAM_KEY)
    if pinned is not None and head != pinned:
        return [f"its last update ran the program at {head}, the release pins program {pinned}"]
    known = is_ancestor(repo, head, "HEAD", runner)
    if not known:
        return [f"its last update ran commit {head}, which is {'unknown to' if known is None else 'not in the history of'} "
                "this checkout's HEAD (fetch, or deploy a reviewed commit)"]
    return []


def target_note(stack: StackFile, runner: Runner) -> str | None:
    """Advisory: say when the target runs something else than its committed file (a merged, undeployed change
    would be deployed together with this promotion), or could not be read at all."""
    try:
        outputs = read_outputs(stack.name, runner)
        digest = identity(stack.release, stack.path).digest
    except Refused as e:
        return f"{stack.name} could not be checked ({e}); its first deploy will apply the whole file"
    if outputs.get("servedRelease") != digest:
        return (f"{stack.name} does not serve its committed release (servedRelease {outputs.get('servedRelease')!r}, "
                f"file {digest!r}): its next deploy also applies that earlier, undeployed change")
    return None


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

