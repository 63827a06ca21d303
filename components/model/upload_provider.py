"""Pulumi dynamic resources for model versions: ``ModelUpload`` (a local directory, uploaded from the
deployer's machine during ``pulumi up``) and ``VersionManifest`` (reads a finished version's
manifest back, e.g. after the in-cluster ingest).

``ModelUpload`` in each phase:

* ``check`` (preview and up) works out the version *without reading model bytes*: the pinned
  ``expected_digest`` if there is one (then the directory need not even exist, so CI can preview a
  staging/prod stack), else the digest the local hash cache vouches for.  When the cache cannot
  vouch for every file (a fresh machine), the version is left unknown and the diff reports a
  change; the directory is hashed at ``up``, never during ``preview``.
* ``create``/``update`` (up only) upload ``<root>/<digest>/`` (:func:`components.model.sync.
  upload_version`): resumable, a no-op when that version is already finished.
* ``read`` (refresh) reads the version's manifest: a version deleted behind Pulumi's back shows
  up as a change, and the next ``up`` uploads it again.
* ``delete`` keeps every object: a model is data (``python -m components.model prune`` removes
  old versions, by hand).

Credentials are those of the user running Pulumi; the provider process inherits them.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.runtime.rpc import UNKNOWN

from components.model.errors import ModelSyncError
from components.model.manifest import scan
from components.model.portable import PortableProvider
from components.model.stores import parse_store_url, store_for_url
from components.model.sync import SyncResult, manifest_key, upload_version
from components.model.transfer import DEFAULT_CONCURRENCY

_DIGEST = re.compile(r"[0-9a-f]{64}")
# Inputs whose change means another version must be in the bucket.  The directory counts through
# its digest, not its spelling; region, endpoint and concurrency only say how to get there.
_CONTENT_INPUTS = ("root_url", "include", "exclude", "expected_digest")


def _store(props: dict[str, Any], url: str):
    return store_for_url(url, region=props.get("region"), endpoint=props.get("endpoint"),
                         concurrency=int(props.get("concurrency") or DEFAULT_CONCURRENCY))


class ModelUploadProvider(PortableProvider):
    """CRUD for :class:`ModelUpload`; see the module docstring."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = {k: v for k, v in news.items() if k not in ("digest", "version", "url")}
        inputs.setdefault("concurrency", DEFAULT_CONCURRENCY)
        failures: list[CheckFailure] = []
        root = inputs.get("root_url")
        if root != UNKNOWN:
            try:
                parse_store_url(str(root))
            except ModelSyncError as exc:
                failures.append(CheckFailure("root_url", str(exc)))
        concurrency = inputs["concurrency"]
        # Numbers cross the engine as doubles: 8 arrives as 8.0.
        if concurrency != UNKNOWN and (not float(concurrency).is_integer() or not 1 <= concurrency <= 64):
            failures.append(CheckFailure("concurrency", f"concurrency {concurrency}: must be an integer from 1 to 64"))
        expected = inputs.get("expected_digest")
        if expected and expected != UNKNOWN and not _DIGEST.fullmatch(str(expected)):
            failures.append(CheckFailure("expected_digest", f"digest {expected!r}: must be 64 lowercase hex"))
        digest = expected if expected and expected != UNKNOWN else None
        if digest is None and UNKNOWN not in (inputs.get("source_dir"), inputs.get("include"), inputs.get("exclude")):
            try:
                found = scan(inputs["source_dir"], inputs.get("include"), inputs.get("exclude"), hash_missing=False)
                digest = found.manifest.digest if found else None
            except ModelSyncError as exc:
                failures.append(CheckFailure("source_dir", str(exc)))
        if digest and root != UNKNOWN and not failures:
            inputs |= {"digest": digest, "version": digest, "url": f"{str(root).rstrip('/')}/{digest}"}
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if any(news.get(name) == UNKNOWN for name in _CONTENT_INPUTS):
            return DiffResult(changes=True, replaces=["root_url"] if news.get("root_url") == UNKNOWN else [])
        changed = [name for name in _CONTENT_INPUTS if olds.get(name) != news.get(name)]
        if not news.get("digest") or news.get("digest") != olds.get("digest"):
            changed.append("digest")  # unknown until hashed at up, or another content
        return DiffResult(changes=bool(changed), replaces=["root_url"] if "root_url" in changed else [],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._upload(props)
        return CreateResult(id_=str(props["root_url"]), outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._upload(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        digest = _manifest_digest(props, props["url"]) if props.get("url") else ""
        return ReadResult(id_=id_, outs={**props, "digest": digest or ""})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Keep the model objects: destroying the stack must not delete model data."""

    @staticmethod
    def _upload(props: dict[str, Any]) -> dict[str, Any]:
        store, root = _store(props, str(props["root_url"]))
        with store:
            result: SyncResult = upload_version(
                store, props["source_dir"], root, expected_digest=props.get("expected_digest") or None,
                include=props.get("include"), exclude=props.get("exclude"),
                concurrency=int(props.get("concurrency") or DEFAULT_CONCURRENCY))
        pulumi.log.info(
            f"model {result.url}: {len(result.uploaded)} file(s) uploaded ({result.uploaded_bytes} bytes, "
            f"{result.parts_resumed} part(s) resumed), {len(result.skipped)} already there, {result.hashed} hashed")
        return {**props, "digest": result.manifest_digest, "version": result.version,
                "url": f"{str(props['root_url']).rstrip('/')}/{result.version}", "file_count": result.file_count,
                "total_bytes": result.total_bytes}


def _manifest_digest(props: dict[str, Any], url: str) -> str | None:
    store, prefix = _store(props, url)
    with store:
        data = store.get_bytes(manifest_key(prefix))
    return hashlib.sha256(data).hexdigest() if data is not None else None


class ModelUpload(pulumi.dynamic.Resource, module="model", name="ModelUpload"):
    """A local model directory as the immutable version ``<root_url>/<digest>/``, uploaded during
    ``pulumi up``.  ``digest`` (= ``version``) changes exactly when the selected files do."""

    digest: pulumi.Output[str]
    version: pulumi.Output[str]
    url: pulumi.Output[str]
    file_count: pulumi.Output[int]
    total_bytes: pulumi.Output[int]

    def __init__(self, resource_name: str, *, root_url: pulumi.Input[str], source_dir: str,
                 expected_digest: str | None = None, region: pulumi.Input[str] | None = None,
                 endpoint: pulumi.Input[str] | None = None, include: Sequence[str] | None = None,
                 exclude: Sequence[str] | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        """
        :param root_url: ``s3://bucket/prefix/model`` or ``oss://...``; versions go below it.
        :param source_dir: the model directory (absolute, or relative to the program directory).
        :param expected_digest: the pinned digest; a directory with another digest is refused.
        :param endpoint: https endpoint reachable from this machine (OSS: the public one).
        """
        known = pulumi.Output.from_input(root_url).apply(lambda r: f"{r.rstrip('/')}/{expected_digest}")
        props: dict[str, Any] = {
            "root_url": root_url, "source_dir": source_dir, "expected_digest": expected_digest, "region": region,
            "endpoint": endpoint, "include": list(include) if include is not None else None,
            "exclude": list(exclude) if exclude is not None else None, "concurrency": concurrency,
            # Known before anything runs when the digest is pinned; else computed by check/up.
            "digest": expected_digest, "version": expected_digest, "url": known if expected_digest else None,
            "file_count": None, "total_bytes": None,
        }
        super().__init__(ModelUploadProvider(), resource_name, props, opts)


class VersionManifestProvider(PortableProvider):
    """Reads ``<url>/.kserve-fluid-manifest.json`` of a finished version (create and refresh)."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        moved = news.get("url") == UNKNOWN or news.get("url") != olds.get("url")
        return DiffResult(changes=moved, replaces=["url"] if moved else [], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        digest = _manifest_digest(props, props["url"])
        if digest is None:
            raise ModelSyncError(f"{props['url']} has no manifest: the ingest did not finish this version")
        return CreateResult(id_=str(props["url"]), outs={**props, "digest": digest})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs={**props, "digest": _manifest_digest(props, props["url"]) or ""})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Reading leaves nothing to delete."""


class VersionManifest(pulumi.dynamic.Resource, module="model", name="VersionManifest"):
    """The digest of the finished version at ``url`` (sha256 of its manifest object), read with the
    deployer's credentials over HTTPS once whatever writes the version is done."""

    digest: pulumi.Output[str]

    def __init__(self, resource_name: str, *, url: pulumi.Input[str], region: pulumi.Input[str] | None = None,
                 endpoint: pulumi.Input[str] | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VersionManifestProvider(), resource_name,
                         {"url": url, "region": region, "endpoint": endpoint, "digest": None}, opts)
