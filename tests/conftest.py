"""Shared fixtures: each committed stack is run once per session under mocks and reused by every test."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import harness

STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (harness.ROOT / "stacks").glob("Pulumi.*.yaml"))


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, harness.Run]:
    return {}


@pytest.fixture(scope="session")
def stack(stack_runs):
    """stack("aws-dev") -> the recorded run of that committed stack (program errors fail the test)."""
    def get(name: str) -> harness.Run:
        if name not in stack_runs:
            stack_runs[name] = harness.run(name)
        run = stack_runs[name]
        assert run.error is None, f"{name}: {run.error!r}"
        return run
    return get


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path, monkeypatch):
    """Keep every default cache location (the uploader's hash cache) inside the test's temporary directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def _moto() -> Iterator[Any]:
    """One in-process S3 per module, reset per test: starting a mock costs ~0.1 s (boto3 session)."""
    with mock_aws() as mock:
        yield mock


@pytest.fixture
def s3(_moto, request) -> Iterator[Any]:
    """An empty S3 with the requesting module's BUCKET."""
    _moto.reset()
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=request.module.BUCKET)
    yield client
