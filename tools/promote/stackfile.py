"""The stack file as text: where its release block is, and how to replace it without touching anything else.

A promotion must not reformat the target: `pulumi config set` re-sorts keys and other tools rewrite
comments, so a YAML round trip would turn a one-block change into a whole-file diff that nobody can review.
The block is therefore replaced as text (re-indented to the target's indentation), the few values the
promotion resolves (a branch to its commit, a local model to its digest) are set line by line, and the
result is parsed again to prove that the release -- and only the release -- changed.
"""
from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.promote.errors import Refused

PROJECT = "kserve-fluid"
RELEASE_KEY = f"{PROJECT}:release"
ENVIRONMENT_KEY = f"{PROJECT}:environment"
CLOUD_KEY = f"{PROJECT}:cloud"
# components.config.Settings.pinned; kept here so the CI change check runs with PyYAML alone (tested equal)
PINNED_ENVIRONMENTS = ("staging", "prod")

_RELEASE_LINE = re.compile(r"^ *(?P<q>['\"]?)" + re.escape(RELEASE_KEY) + r"(?P=q)[ \t]*:(?=\s|$)")
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<q>['\"]?)(?P<key>[A-Za-z0-9_.-]+)(?P=q)[ \t]*:(?P<rest>.*)$")

Pins = Mapping[tuple[str, ...], str]
"""Values a promotion sets in the copied block, by key path below the release: {("model", "revision"): sha}."""


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
    def pinned(self) -> bool:
        return self.environment in PINNED_ENVIRONMENTS

    @property
    def cloud(self) -> str | None:
        return self.config.get(CLOUD_KEY)

    @property
    def release(self) -> dict[str, Any]:
        release = self.config.get(RELEASE_KEY)
        if not isinstance(release, dict):
            raise Refused(f"{self.path}: no `{RELEASE_KEY}` block (a map with model, servingImage, versions)")
        return release

    def settings_input(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments of `components.config.build_settings` for this file's config (or another config
        for this stack), split the way `components.config.load` splits what the engine passes."""
        from components.config import SECRET_KEYS

        own: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for full, value in (self.config if config is None else config).items():
            namespace, _, key = str(full).partition(":")
            if namespace == PROJECT:
                own[key] = value
            else:
                others[full] = value
        # A secret is a `{secure: ...}` map the program decrypts; its presence is what validation needs.
        secrets = {key: "<secret>" for key in SECRET_KEYS if own.pop(key, None) not in (None, "")}
        cloud = own.get("cloud")
        region = others.get(f"{cloud}:region") if cloud in ("aws", "alicloud") else None
        return {"raw": own, "stack": self.name, "region": region, "secrets": secrets, "provider_config": others}


def stack_path(stacks_dir: Path, name: str) -> Path:
    return stacks_dir / f"Pulumi.{name}.yaml"


def load_stack(stacks_dir: Path, name: str) -> StackFile:
    """Read a stack file, keeping its bytes exactly (line endings included) for the text edit."""
    path = stack_path(stacks_dir, name)
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise Refused(f"{path}: no such stack file; stacks in {stacks_dir}: {', '.join(known) or 'none'}")
    text = path.read_bytes().decode("utf-8")
    config = parse_config(text, path)
    return StackFile(name, path, text, config)


def parse_config(text: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise Refused(f"{path}: not valid YAML ({e})") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise Refused(f"{path}: no `config:` map")
    return config


def release_span(lines: Sequence[str], path: Path) -> tuple[int, int, int]:
    """(first line, end line, indentation) of the release key and the lines nested under it.

    The block ends at the first non-blank line indented no deeper than the key -- the next config
    key or the `# ---- environment` comment -- and trailing blank lines stay outside it.
    """
    starts = [i for i, line in enumerate(lines) if _RELEASE_LINE.match(line)]
    if len(starts) != 1:
        raise Refused(f"{path}: expected one `{RELEASE_KEY}:` line, found {len(starts)}")
    start = starts[0]
    end = _block_end(lines, start, len(lines))
    return start, end, _indent(lines[start])


def _block_end(lines: Sequence[str], start: int, stop: int) -> int:
    """End of the entry whose key is on line `start`: up to the next line no deeper than the key."""
    indent = _indent(lines[start])
    end = start + 1
    while end < stop and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def comment_of(line: str) -> str | None:
    """The `# ...` comment of a YAML line, if any (a `#` inside quotes or glued to a value is not one)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[i:].rstrip("\r\n")
    return None


def expected_release(release: Mapping[str, Any], pins: Pins) -> dict[str, Any]:
    """The release a promotion writes: the source's, with the resolved values set."""
    out = copy.deepcopy(dict(release))
    for path, value in pins.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def replace_release(source: StackFile, target: StackFile, pins: Pins | None = None) -> str:
    """The target's text with its release block replaced by the source's (plus `pins`), all else untouched."""
    pins = pins or {}
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
        block.append(body)
    for path, value in pins.items():
        block = _set_key(block, path, value, source.path)
    new_text = "".join(dst_lines[:d0] + [line + newline for line in block] + dst_lines[d1:])
    _check_only_release_changed(new_text, expected_release(source.release, pins), target)
    return new_text


def _set_key(block: list[str], path: tuple[str, ...], value: str, where: Path) -> list[str]:
    """Set `path` (below the block's key line) to a scalar, replacing its line(s) or adding one at the end of its map.

    Only block-style maps are edited; a flow-style map (`model: {name: x, ...}`) on the way is refused, since
    rewriting it would mean re-serialising YAML, which this module avoids.
    """
    lo, hi = 0, len(block)
    for depth, key in enumerate(path):
        inline = _value_after_key(block[lo], release=depth == 0)
        if inline is None or (inline.strip() and not inline.strip().startswith("#")):
            dotted = ".".join(("release", *path[:depth]))
            raise Refused(f"{where}: `{dotted}` is not a block-style map, so `release.{'.'.join(path)}` cannot be set "
                          f"as text; write it as one key per line, or set it to {value} by hand")
        children = [i for i in range(lo + 1, hi) if block[i].strip() and not block[i].lstrip().startswith("#")]
        child_indent = _indent(block[children[0]]) if children else _indent(block[lo]) + 2
        found = next((i for i in children if _indent(block[i]) == child_indent
                      and (m := _KEY_LINE.match(block[i])) and m["key"] == key), None)
        last = depth == len(path) - 1
        if found is None:
            if not last:
                raise Refused(f"{where}: the release has no `{'.'.join(path[:depth + 1])}` map to set "
                              f"`release.{'.'.join(path)}` in")
            end = max(children) + 1 if children else lo + 1
            return [*block[:end], " " * child_indent + f"{key}: {_scalar(value)}", *block[end:]]
        end = _block_end(block, found, hi)
        if last:
            return [*block[:found], " " * child_indent + f"{key}: {_scalar(value)}", *block[end:]]
        lo, hi = found, end
    raise AssertionError("empty key path")


def _value_after_key(line: str, *, release: bool) -> str | None:
    """What follows `key:` on a line (empty for a block-style map), or None if the line is not a key."""
    match = (_RELEASE_LINE if release else _KEY_LINE).match(line)
    if match is None:
        return None
    return line[match.end():] if release else match["rest"]


def _scalar(value: str) -> str:
    """A plain YAML scalar when it reads back as the same string (a 40-hex sha does), else a quoted one."""
    return value if yaml.safe_load(value) == value else json.dumps(value)


def _check_only_release_changed(new_text: str, release: dict[str, Any], target: StackFile) -> None:
    """Re-parse the edited file: the release must be the promoted one and every other key unchanged."""
    try:
        config = (yaml.safe_load(new_text) or {}).get("config") or {}
    except yaml.YAMLError as e:
        raise Refused(f"{target.path}: the edited file would not parse ({e}); edit the release block by hand") from None
    rest = {k: v for k, v in config.items() if k != RELEASE_KEY}
    before = {k: v for k, v in target.config.items() if k != RELEASE_KEY}
    if config.get(RELEASE_KEY) != release or rest != before:
        raise Refused(f"{target.path}: replacing the release block as text would change more than the release "
                      "(unusual formatting); edit it by hand")


def dropped_comments(old_text: str, new_text: str, path: Path) -> list[str]:
    """Comments inside the old release block that the new block no longer carries (they would vanish silently)."""
    def comments(text: str) -> list[str]:
        lines = text.splitlines()
        start, end, _ = release_span(lines, path)
        return [c.strip() for line in lines[start:end] if (c := comment_of(line))]
    kept = set(comments(new_text))
    return [c for c in comments(old_text) if c not in kept]


def unified_diff(path: Path, old: str, new: str) -> str:
    """A unified diff; relative paths get git's a/ b/ prefixes, so `git apply` takes it from the project root."""
    name = path.as_posix()
    before, after = (name, name) if path.is_absolute() else (f"a/{name}", f"b/{name}")
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=before, tofile=after))
