"""Pulumi dynamic resource that uploads a model directory to a bucket during ``pulumi up``.

The heavy lifting is :func:`components.model.sync.sync_directory`; this module only maps it onto
the resource lifecycle:

* ``diff`` recomputes the local manifest digest through the size/mtime cache -- no model bytes are
  read unless files changed -- and compares it with the digest recorded at the last upload, so a
  no-op ``pulumi up`` is fast and touches neither the files nor the bucket.
* ``create``/``update`` run the incremental sync.  The engine calls them only during ``pulumi up``:
  dynamic providers do not take part in preview, so ``pulumi preview`` never uploads (it runs only
  ``check`` and ``diff``, which read local files and nothing else).
* ``read`` (``pulumi refresh``) fetches the bucket's manifest, so objects changed behind Pulumi's
  back show up as a digest change and the next ``up`` re-syncs.
* ``delete`` leaves the objects in the bucket: a model is data, and ``pulumi destroy`` or a
  changed URL must never delete it.

Credentials are those of the user running Pulumi (the standard AWS or Alibaba Cloud environment);
the provider process inherits them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from components.model.sync import (
    DEFAULT_CONCURRENCY,
    InvalidURLError,
    SyncResult,
    local_manifest,
    manifest_object_key,
    parse_store_url,
    store_for_url,
    sync_directory,
)

# Inputs whose change means the bucket content must be brought in line again.  The content of
# source_dir counts through the manifest digest, not its spelling; region, endpoint and
# concurrency only say how to get there.
_CONTENT_INPUTS = ("url", "delete_removed", "include", "exclude")


class ModelUploadProvider(ResourceProvider):
    """CRUD for :class:`ModelUpload`; see the module docstring for what each operation does."""

    # Nothing secret is captured in the provider, so its serialized form need not be a secret.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = dict(news)
        inputs.setdefault("delete_removed", True)
        inputs.setdefault("concurrency", DEFAULT_CONCURRENCY)
        failures: list[CheckFailure] = []
        url = inputs.get("url")
        if url != UNKNOWN:
            try:
                parse_store_url(str(url))
            except InvalidURLError as exc:
                failures.append(CheckFailure("url", str(exc)))
        source_dir = inputs.get("source_dir")
        if source_dir != UNKNOWN and not os.path.isdir(str(source_dir)):
            failures.append(CheckFailure("source_dir", f"model source directory {source_dir} does not exist"))
        concurrency = inputs["concurrency"]
        # Numbers cross the engine as doubles: 8 arrives as 8.0.
        if concurrency != UNKNOWN and (not float(concurrency).is_integer() or concurrency < 1):
            failures.append(CheckFailure("concurrency", "concurrency must be a positive integer"))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if any(news.get(name) == UNKNOWN for name in (*_CONTENT_INPUTS, "source_dir")):
            return DiffResult(changes=True, replaces=["url"] if news.get("url") == UNKNOWN else [])
        changed = [name for name in _CONTENT_INPUTS if olds.get(name) != news.get(name)]
        digest = local_manifest(news["source_dir"], news.get("include"), news.get("exclude")).digest
        if digest != olds.get("manifest_digest"):
            changed.append("manifest_digest")
        return DiffResult(
            changes=bool(changed),
            replaces=["url"] if "url" in changed else [],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["url"], outs={**props, **self._sync(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **self._sync(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        store, prefix = store_for_url(props["url"], region=props.get("region"), endpoint=props.get("endpoint"))
        with store:
            manifest_bytes = store.get_bytes(manifest_object_key(prefix))
        digest = hashlib.sha256(manifest_bytes).hexdigest() if manifest_bytes is not None else ""
        return ReadResult(id_=id_, outs={**props, "manifest_digest": digest})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Keep the model objects: destroying the stack must not delete model data."""

    @staticmethod
    def _sync(props: dict[str, Any]) -> dict[str, Any]:
        concurrency = int(props.get("concurrency") or DEFAULT_CONCURRENCY)
        store, prefix = store_for_url(
            props["url"], region=props.get("region"), endpoint=props.get("endpoint"), concurrency=concurrency
        )
        with store:
            result: SyncResult = sync_directory(
                store,
                props["source_dir"],
                prefix,
                delete_removed=bool(props.get("delete_removed", True)),
                include=props.get("include"),
                exclude=props.get("exclude"),
                concurrency=concurrency,
            )
            manifest_url = store.url(result.manifest_key)
        pulumi.log.info(
            f"model {manifest_url}: {len(result.uploaded)} file(s) uploaded ({result.uploaded_bytes} bytes), "
            f"{len(result.skipped)} unchanged, {len(result.deleted)} deleted"
        )
        return {
            "manifest_digest": result.manifest_digest,
            "file_count": result.file_count,
            "total_bytes": result.total_bytes,
            "manifest_url": manifest_url,
        }


class ModelUpload(pulumi.dynamic.Resource, module="model", name="ModelUpload"):
    """A model directory mirrored to ``s3://`` or ``oss://``, uploaded during ``pulumi up``.

    Only changed files are uploaded; ``manifest_digest`` (sha256 of the manifest object at
    ``manifest_url``) changes exactly when the model content changes, so dependent resources can
    use it as their re-run key.  Nothing is uploaded during ``pulumi preview``.

    Destroying this resource (or replacing it with another URL) never deletes the uploaded
    objects: remove them with the cloud's own tools if you really mean to.
    """

    manifest_digest: pulumi.Output[str]
    file_count: pulumi.Output[int]
    total_bytes: pulumi.Output[int]
    manifest_url: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        source_dir: pulumi.Input[str],
        region: pulumi.Input[str] | None = None,
        endpoint: pulumi.Input[str] | None = None,
        delete_removed: pulumi.Input[bool] = True,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param url: ``s3://bucket/prefix`` or ``oss://bucket/prefix`` (a non-empty prefix is
            required while ``delete_removed`` is true).
        :param source_dir: local model directory, relative to the Pulumi program directory or
            absolute.
        :param region: bucket region (required for OSS unless ``endpoint`` names it).
        :param endpoint: S3-compatible endpoint URL, or an OSS endpoint.
        :param delete_removed: delete objects under the prefix that are not in the model.
        :param include: fnmatch patterns of relative paths to upload (default: all).
        :param exclude: fnmatch patterns of relative paths to skip, e.g. ``["original/*"]``.
        :param concurrency: files and parts transferred in parallel.
        """
        props: dict[str, Any] = {
            "url": url,
            "source_dir": source_dir,
            "region": region,
            "endpoint": endpoint,
            "delete_removed": delete_removed,
            "include": list(include) if include is not None else None,
            "exclude": list(exclude) if exclude is not None else None,
            "concurrency": concurrency,
            "manifest_digest": None,
            "file_count": None,
            "total_bytes": None,
            "manifest_url": None,
        }
        super().__init__(ModelUploadProvider(), resource_name, props, opts)
