"""The repository's front door stays true: README, CI, Pulumi.yaml and the stack files agree with the code."""
from __future__ import annotations

import re

import yaml

from components import config
from tests.harness import ROOT

README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = ci[-1]
    assert command == ".venv/bin/python -m pytest -q"
    assert f"\n{command}\n" in README


def test_pulumi_yaml_declares_every_key_and_uses_stacks_dir():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["stackConfigDir"] == "stacks"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    declared = {k.split(":", 1)[1] for k in project["config"]}
    assert declared == {"cloud", "environment", *config.SECTIONS, *config.SECRET_KEYS}
    assert all(project["config"][f"kserve-fluid:{k}"].get("secret") for k in config.SECRET_KEYS)


def _aliases(model, prefix=""):
    for name, field in model.model_fields.items():
        alias = field.alias or name
        inner = [a for a in getattr(field.annotation, "__args__", (field.annotation,))
                 if isinstance(a, type) and issubclass(a, config.BaseModel)]
        if inner:
            yield from _aliases(inner[0], f"{prefix}{alias}.")
        else:
            yield f"{prefix}{alias}"


def test_readme_documents_every_config_key():
    sections = {"release": config.Release, "cluster": config.ClusterSettings, "bucket": config.BucketSettings,
                "cache": config.CacheSettings, "inference": config.InferenceSettings,
                "platform": config.PlatformSettings, "endpoint": config.EndpointSettings}
    words = set(re.findall(r"[A-Za-z][\w.]*", README))
    for section, model in sections.items():
        for key in _aliases(model):
            leaf = key.rsplit(".", 1)[-1]
            assert f"{section}.{key}" in README or leaf in words, f"README misses {section}.{key}"
    for key in _aliases(config.NodePoolSettings):
        assert f"*.{key}" in README or f"cachePool.{key}" in README or key in words, f"README misses pool {key}"


def test_every_stack_file_starts_with_the_release_block():
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        keys = list(yaml.safe_load(path.read_text())["config"])
        assert keys[0] == "kserve-fluid:release", path.name
        assert "# ---- release" in path.read_text() and "# ---- environment" in path.read_text()
        assert "secure:" not in path.read_text(), f"{path.name} commits a secret"
