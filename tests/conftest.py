"""Shared fixtures: each committed stack is run once per session under mocks and reused by every test."""
from __future__ import annotations

import pytest

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
