"""HfRevision: a Hugging Face revision resolved to its commit inside Pulumi.

A 40-hex revision *is* the commit: no request is made, ever.  A branch or tag is resolved again
in ``check``, which the engine runs at every ``preview`` and ``up``, so the commit is known during
preview and the diff reports a change exactly when the branch moved; everything keyed by the
commit (the version directory, the ingest Job, the cache) follows.  The token is an input only:
it is not written to the outputs, and Pulumi keeps the input secret.
"""
from __future__ import annotations

import re
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.runtime.rpc import UNKNOWN

from components.model import hf
from components.model.errors import ModelSyncError
from components.model.portable import PortableProvider

_REPO = re.compile(r"[\w.-]+/[\w.-]+")
_OUTPUTS = ("repo", "revision", "endpoint", "commit")


class HfRevisionProvider(PortableProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = {k: v for k, v in news.items() if k != "commit"}
        repo, revision = inputs.get("repo"), inputs.get("revision")
        if UNKNOWN in (repo, revision, inputs.get("token"), inputs.get("endpoint")):
            return CheckResult(inputs, [])
        if not isinstance(repo, str) or not _REPO.fullmatch(repo):
            return CheckResult(inputs, [CheckFailure("repo", f"repo {repo!r}: must be <org>/<name>")])
        if not isinstance(revision, str) or not revision.strip():
            return CheckResult(inputs, [CheckFailure("revision", "revision: missing")])
        try:
            inputs["commit"] = hf.resolve_commit(repo, revision, token=inputs.get("token") or None,
                                                 endpoint=inputs.get("endpoint") or None)
        except ModelSyncError as exc:
            return CheckResult(inputs, [CheckFailure("revision", str(exc))])
        return CheckResult(inputs, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("repo", "revision", "endpoint") if olds.get(k) != news.get(k)]
        commit = news.get("commit")
        if not commit or commit == UNKNOWN or commit != olds.get("commit"):
            changed.append("commit")
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['repo']}@{props['revision']}", outs=self._outs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._outs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs={k: props.get(k) for k in _OUTPUTS})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing was created."""

    @staticmethod
    def _outs(props: dict[str, Any]) -> dict[str, Any]:
        commit = props.get("commit") or hf.resolve_commit(props["repo"], props["revision"],
                                                          token=props.get("token") or None,
                                                          endpoint=props.get("endpoint") or None)
        return {"repo": props["repo"], "revision": props["revision"], "endpoint": props.get("endpoint"),
                "commit": commit}


class HfRevision(pulumi.dynamic.Resource, module="model", name="HfRevision"):
    """``commit``: the 40-hex commit ``revision`` of ``hf://repo`` names now."""

    commit: pulumi.Output[str]

    def __init__(self, resource_name: str, *, repo: str, revision: str, token: pulumi.Input[str] | None = None,
                 endpoint: str | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"repo": repo, "revision": revision, "endpoint": endpoint,
                 "token": pulumi.Output.secret(token) if token is not None else None,
                 "commit": revision if hf.COMMIT.fullmatch(revision) else None}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["token"]))
        super().__init__(HfRevisionProvider(), resource_name, props, opts)
