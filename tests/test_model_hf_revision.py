"""HfRevision: a branch is resolved at every check (preview and up) against a Hub on loopback; a
commit makes no request; the token stays out of the outputs."""
from __future__ import annotations

import pytest

from components.model.hf_revision import HfRevision, HfRevisionProvider
from tests import harness
from tests.test_model_fakes import FakeHub, HubRepo

A, B = "a" * 40, "b" * 40


@pytest.fixture
def hub():
    repos = {"org/model": HubRepo({"config.json": b"{}"}, commit=A, branches={"main": A}),
             "org/gated": HubRepo({"config.json": b"{}"}, commit=A, branches={"main": A}, gated=True)}
    with FakeHub(repos) as server:
        yield server


def props(hub, **overrides):
    return {"repo": "org/model", "revision": "main", "endpoint": hub.url, "token": None, **overrides}


def test_a_commit_makes_no_request(hub):
    result = HfRevisionProvider().check({}, props(hub, revision=B, endpoint="http://127.0.0.1:9"))
    assert result.failures == [] and result.inputs["commit"] == B and hub.requests == []


def test_a_branch_is_resolved_and_a_moved_branch_is_a_change(hub):
    provider = HfRevisionProvider()
    first = provider.check({}, props(hub)).inputs
    outs = provider.create(first).outs
    assert outs == {"repo": "org/model", "revision": "main", "endpoint": hub.url, "commit": A}
    assert provider.diff("id", outs, provider.check(outs, props(hub)).inputs).changes is False

    hub.repos["org/model"].branches["main"] = hub.repos["org/model"].commit = B
    moved = provider.check(outs, props(hub)).inputs
    assert moved["commit"] == B and provider.diff("id", outs, moved).changes is True
    assert provider.update("id", outs, moved).outs["commit"] == B


def test_gated_metadata_resolves_and_hub_errors_are_one_line_check_failures(hub):
    provider = HfRevisionProvider()
    assert provider.check({}, props(hub, repo="org/gated")).inputs["commit"] == A  # the Hub serves its metadata
    (missing,) = provider.check({}, props(hub, repo="org/none")).failures
    assert missing.reason.startswith("repository hf://org/none not found, or private and no token is set")
    (bad_rev,) = provider.check({}, props(hub, revision="nope")).failures
    assert bad_rev.reason == "revision 'nope' not found in hf://org/model"
    (bad_repo,) = provider.check({}, props(hub, repo="not a repo")).failures
    assert bad_repo.property == "repo"


def test_the_token_is_a_secret_input_and_not_an_output(hub):
    provider = HfRevisionProvider()
    assert "token" not in provider.create(provider.check({}, props(hub, token="hf_x")).inputs).outs
    run = harness.run("aws-dev", config={},
                      program=lambda: HfRevision("rev", repo="org/model", revision=A, token="hf_secret"))
    assert run.error is None
    registered = run.one("pulumi-python:dynamic/model:HfRevision")
    assert isinstance(registered.inputs["token"], harness.Secret)
    assert registered.plain["commit"] == A  # known before anything runs
