"""Generate the configuration reference and Pulumi.yaml's declarations from the schema in components.config.

    python -m components.configdocs          # rewrite docs/configuration.md and Pulumi.yaml's config block
    python -m components.configdocs --check  # exit 1 if either is out of date (the tests run this)

Every project key is declared with a default, because the Pulumi CLI refuses to start a stack that lacks a
declared key with neither `default` nor `value` (pulumi/pulumi pkg/workspace/config.go, mergeConfig). Maps
are `type: object` (CLI >= 3.186) with `{}`; secrets are `secret: true` with `""`, so the CLI also refuses a
stack that sets one in plain text. The program itself validates every value (components.config).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from components import config

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"
PROJECT_FILE = ROOT / "Pulumi.yaml"
SECRETS = {
    "kubeconfig": "cloud existing: kubeconfig of the cluster; unset: the ambient KUBECONFIG.",
    "hfToken": "Hugging Face token for gated or private models.",
    "storageAccessKeyId": "cache.credentials static: object-store access key id.",
    "storageSecretAccessKey": "cache.credentials static: object-store secret key.",
}
SCALARS = {
    "cloud": "Where the cluster comes from: aws (EKS, created), alicloud (ACK, created) or existing (your cluster).",
    "environment": config.Settings.model_fields["environment"].description,
}
SECTION_TITLES = {"systemPool": "node pools (systemPool, gpuPool, cachePool)", "gpuPool": None, "cachePool": None}


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        inner = config._model_of(field.annotation)
        if inner is not None and "tuple" not in str(field.annotation):
            rows += _rows(inner, key)
            continue
        if inner is not None:  # a list of models (cache.levels)
            rows.append((f"{key}[]", "list", _default(field), field.description or ""))
            rows += _rows(inner, f"{key}[]")
            continue
        rows.append((key, _type(field.annotation), _default(field), field.description or ""))
    return rows


def _type(annotation: Any) -> str:
    """A Python annotation in the words of the stack file."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args if a != "") or "string"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "map"
    return {str: "string", int: "integer", float: "number", bool: "bool"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: Any) -> str:
    import json

    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel) or (isinstance(value, tuple) and value and isinstance(value[0], BaseModel)):
        return "see below"
    if value is None:
        return "unset"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"


def reference() -> str:
    lines = ["# Configuration reference", "",
             "Generated from `components/config.py` by `python -m components.configdocs`; do not edit by hand.", "",
             "Every key lives under the project namespace `kserve-fluid:`. Structured keys are YAML maps in the stack",
             "file (`pulumi config set --path 'kserve-fluid:gpuPool.maxSize' 2` edits one field). Defaults come from",
             "the field, then the cloud (`components/<cloud>/defaults.py`), then the environment; the stack's values",
             "win. Invalid values stop the program before anything is created, one line per problem.", "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    for key, text in SCALARS.items():
        lines.append(f"| `{key}` | string | {'required' if key == 'cloud' else '`dev`'} | {text} |")
    lines.append("| `aws:region` / `alicloud:region` | string | provider default | the cloud region (checked against the cloud's list) |")
    for section, model in config.SECTION_MODELS.items():
        if section in ("gpuPool", "cachePool"):
            continue
        title = SECTION_TITLES.get(section, section)
        lines.append(f"| **{title}** | | | |")
        prefix = "<pool>" if section == "systemPool" else section
        for key, *cells in _rows(model, prefix):
            typ, default, text = (cell.replace("|", r"\|") for cell in cells)
            lines.append(f"| `{key}` | {typ} | {default} | {text} |")
    lines.append("| **secrets** (`pulumi config set --secret`) | | | |")
    for key, text in SECRETS.items():
        lines.append(f"| `{key}` | string | none | {text} |")
    lines += ["", "Cloud defaults (`components/<cloud>/defaults.py`):", ""]
    from components.clouds import CLOUDS

    for name, cloud in CLOUDS.items():
        lines.append(f"- **{name}**: `{yaml.safe_dump(cloud.defaults, default_flow_style=True).strip()}`")
    lines += ["", "Environment defaults:", ""]
    for name, defaults in config.ENVIRONMENT_DEFAULTS.items():
        lines.append(f"- **{name}**: `{yaml.safe_dump(defaults, default_flow_style=True).strip()}`")
    return "\n".join(lines) + "\n"


def declarations() -> dict[str, Any]:
    decls: dict[str, Any] = {
        f"{config.PROJECT}:cloud": {"type": "string", "default": "", "description": SCALARS["cloud"]},
        f"{config.PROJECT}:environment": {"type": "string", "default": "dev", "description": SCALARS["environment"]},
    }
    for section in config.SECTIONS:
        decls[f"{config.PROJECT}:{section}"] = {
            "type": "object", "default": {},
            "description": f"{config.SECTION_MODELS[section].__doc__ or section} See docs/configuration.md.".strip()}
    for key, text in SECRETS.items():
        decls[f"{config.PROJECT}:{key}"] = {"type": "string", "secret": True, "default": "", "description": text}
    return decls


def project_file() -> str:
    text = PROJECT_FILE.read_text()
    head = text[: text.index("config:\n")].split("# Config declarations")[0]
    head += ("# Config declarations: generated by `python -m components.configdocs` from components/config.py.\n"
             "# Every key has a default (the CLI refuses a stack missing a declared key without one); the program\n"
             "# validates every value and reports each problem on one line.\n")
    block = yaml.safe_dump({"config": declarations()}, sort_keys=False, width=120, allow_unicode=True)
    return head + block


def main(argv: list[str]) -> int:
    wanted = {REFERENCE: reference(), PROJECT_FILE: project_file()}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python -m components.configdocs", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
