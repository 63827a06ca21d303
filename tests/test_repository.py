"""The repository keeps its shape: CI runs the README's command, the layers import only downwards, every cloud
folder provides what README's "Adding a cloud" says, and the front door links what it promises."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from components.clouds import CLOUDS
from tests.harness import ROOT

README = (ROOT / "README.md").read_text()
CLOUD_SDKS = ("pulumi_aws", "pulumi_alicloud", "pulumi_eks", "boto3", "oss2")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_ci_runs_the_readme_test_command():
    command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert command == ".venv/bin/python -m pytest -q"
    assert f"\n{command}\n" in README


@pytest.mark.parametrize("path", sorted((ROOT / "components" / "k8s").glob("*.py")), ids=lambda p: p.name)
def test_the_kubernetes_layer_knows_no_cloud(path):
    bad = {m for m in imports(path) if m.startswith(("components.aws", "components.alicloud", "components.existing", *CLOUD_SDKS))}
    assert not bad, f"{path.name} imports {bad}"


def test_the_seam_and_the_config_import_no_cloud_sdk():
    for name in ("foundation.py", "config.py", "checks.py", "names.py", "outputs.py", "clouds.py", "cloud.py", "versions.py"):
        bad = {m for m in imports(ROOT / "components" / name) if m.startswith(CLOUD_SDKS)}
        assert not bad, f"{name} imports {bad}"


def test_validation_loads_no_cloud_sdk():
    """Bad config fails before any provider SDK is imported (the clouds' defaults are SDK-free)."""
    probe = "import sys, components.config, components.clouds; print(sorted(m for m in sys.modules if m.startswith(('pulumi_aws', 'pulumi_alicloud', 'pulumi_eks'))))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_every_cloud_folder_provides_what_adding_a_cloud_lists(name):
    cloud = CLOUDS[name]
    folder = ROOT / "components" / name
    assert (folder / "defaults.py").exists() and (folder / "foundation.py").exists()
    module, function = cloud.builder.split(":")
    assert module == f"components.{name}.foundation" and callable(getattr(importlib.import_module(module), function))
    assert cloud.validate.__module__ == f"components.{name}.defaults"
    registry = (ROOT / "components" / "clouds.py").read_text()
    assert f"components.{name}.defaults import CLOUD" in registry
    assert f"`components/{name}/`" in README or name == "existing"


def test_the_readme_is_the_front_door():
    for section in ("## What it builds", "## Prerequisites", "## Quick start", "## Configuration", "## Outputs",
                    "## What it costs", "## Promotion", "## Day 2", "## Cleanup", "## Troubleshooting", "## Adding a cloud"):
        assert section in README, section
    for doc in ("docs/configuration.md", "docs/upstream-facts.md", "docs/coldstart.md", "docs/model.md",
                "docs/promotion.md", "docs/guardrails.md", "LICENSE"):
        assert doc in README and (ROOT / doc).exists(), doc


def test_main_only_composes():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not defined, "__main__.py defines logic; it belongs in components/"


def test_the_package_ships_every_component_module():
    """`pip install` of this repository gives another program every module under components/ (pyproject.toml)."""
    import tomllib

    from setuptools import find_packages

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = project["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=found["include"]))
    folders = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "components").rglob("*.py")}
    assert folders <= packages, f"folders without __init__.py are left out of the wheel: {folders - packages}"
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_the_code_passes_the_linter():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_states_the_pinned_versions():
    from components import versions

    for key, chart in versions.CHARTS.items():
        assert f"| {chart.version}" in README or f"{chart.version}," in README, f"README misses {key} {chart.version}"
    assert versions.SERVING_IMAGE in README and versions.KNATIVE_SERVING in README


def test_the_readme_lists_every_guardrail_with_what_it_enforces():
    from policy import rules

    for guardrail in (*rules.GUARDRAILS, *rules.STACK_GUARDRAILS):
        assert f"| `{guardrail.name}` | {guardrail.description} |" in README, guardrail.name
