"""Put one immutable model version in a bucket, check it, and prune old ones.

Layout: a model lives at ``<root>/<version>/`` where ``<root>`` is ``<bucket>/<prefix>/<model>``
and ``<version>`` is the manifest digest of a local directory (64 hex) or the Hugging Face commit
(40 hex).  The manifest object ``<root>/<version>/.kserve-fluid-manifest.json`` is written
**last**: a version with a manifest is *finished* and is never changed again -- a new content is a
new directory, and nothing is ever deleted except by :func:`prune`, by hand.

:func:`upload_version` on a version that is

* **finished** with the same manifest: lists it (one request) and puts back objects that are
  missing or have the wrong size -- deleted by hand, say; with ``verify`` it also HEADs every
  object and re-uploads those whose ``sha256`` metadata or size is wrong.  Nothing else is written.
* **finished** with another manifest: refuses (:class:`VersionConflictError`).
* **unfinished** (an interrupted run): keeps the objects whose size and ``sha256`` metadata match,
  resumes multipart uploads from the parts already there (:mod:`components.model.transfer`),
  removes objects that are not part of the model, then writes the manifest.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import re
import threading
import uuid
from collections.abc import Sequence

from components.model.errors import (
    DigestMismatchError,
    InvalidArgumentError,
    VersionConflictError,
)
from components.model.manifest import MANIFEST_NAME, Manifest, ManifestEntry, Scan, scan
from components.model.stores import ObjectInfo, ObjectStore
from components.model.transfer import DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, FileUpload, Stats, Uploader

log = logging.getLogger("kserve_fluid.model")

SHA256_METADATA_KEY = "sha256"
VERSION_PATTERN = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_PROBE_PREFIX = ".kserve-fluid-write-probe-"


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """What a run did.  Paths are relative to the version directory."""

    version: str
    url: str  # scheme://bucket/<root>/<version>
    manifest_digest: str
    file_count: int
    total_bytes: int
    finished_before: bool  # the version already had its manifest
    hashed: int  # files whose bytes were read to hash them
    uploaded: list[str]
    uploaded_bytes: int
    skipped: list[str]
    removed: list[str]  # stray objects taken out of an unfinished version
    parts_sent: int
    parts_resumed: int
    bytes_resumed: int
    uploads_aborted: int


def version_prefix(root: str, version: str) -> str:
    root = root.strip("/")
    if not root:
        raise InvalidArgumentError("a model root needs a prefix: versions live at <bucket>/<prefix>/<model>/<version>/")
    if not VERSION_PATTERN.fullmatch(version):
        raise InvalidArgumentError(f"version {version!r} is neither a 40-hex commit nor a 64-hex manifest digest")
    return f"{root}/{version}"


def manifest_key(prefix: str) -> str:
    return f"{prefix.strip('/')}/{MANIFEST_NAME}"


def read_manifest(store: ObjectStore, prefix: str) -> tuple[bytes, Manifest] | None:
    """The finished version's manifest, or ``None`` if the version is not finished."""
    data = store.get_bytes(manifest_key(prefix))
    if data is None:
        return None
    try:
        return data, Manifest.from_json_bytes(data)
    except ValueError as exc:
        raise VersionConflictError(f"{store.url(manifest_key(prefix))} is not a readable manifest ({exc}); "
                                   "a finished version is never rewritten, inspect it by hand") from exc


def check_writable(store: ObjectStore, prefix: str) -> None:
    """Write and delete a probe object, so a read-only bucket fails before any model byte moves."""
    probe = f"{prefix.strip('/')}/{_PROBE_PREFIX}{uuid.uuid4().hex}"
    store.put_bytes(probe, b"", "application/octet-stream")
    store.delete([probe])


def upload_version(
    store: ObjectStore,
    local_dir: str,
    root: str,
    *,
    version: str | None = None,
    expected_digest: str | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    part_size: int = DEFAULT_PART_SIZE,
    cache_path: str | None = None,
    rehash: bool = False,
    verify: bool = False,
    cancel: threading.Event | None = None,
) -> SyncResult:
    """Make ``<root>/<version>/`` hold the selected files of ``local_dir`` (see the module doc).

    ``version`` defaults to the manifest digest (local directories); the ingest passes the commit.
    With ``expected_digest`` a directory whose digest differs is refused before anything is sent.
    A run with nothing to do reads no model bytes and makes two requests (GET manifest, LIST).
    """
    cancel = cancel or threading.Event()
    found: Scan | None = scan(local_dir, include, exclude, cache_path=cache_path, workers=concurrency,
                              rehash=rehash, cancel=cancel)
    assert found is not None
    manifest = found.manifest
    if expected_digest and manifest.digest != expected_digest:
        raise DigestMismatchError(
            f"model source {local_dir} has digest {manifest.digest}, but the configuration pins {expected_digest}; "
            "point source at the pinned model, or set digest to the new one (python -m components.model digest DIR)")
    version = version or manifest.digest
    prefix = version_prefix(root, version)
    manifest_bytes = manifest.to_json_bytes()
    remote = read_manifest(store, prefix)
    finished = remote is not None
    if remote is not None and remote[0] != manifest_bytes:
        raise VersionConflictError(_conflict(store.url(prefix), remote[1], manifest))

    listing = store.list(prefix + "/")
    wanted = {f"{prefix}/{entry.path}": entry for entry in manifest.entries}
    stray = [] if finished else sorted(k for k in listing if k not in wanted and k != manifest_key(prefix))
    to_upload = [e for k, e in wanted.items() if k not in listing or listing[k].size != e.size]
    if verify or not finished:  # a finished version's objects are trusted unless asked to verify
        present = [e for e in manifest.entries if e not in to_upload]
        to_upload += bad_objects(store, prefix, present, concurrency)
    if finished and to_upload:
        log.warning("version %s is missing or has wrong %d object(s); putting them back", store.url(prefix),
                    len(to_upload))

    stats = Stats()
    if to_upload or stray or not finished:
        check_writable(store, prefix)
        uploads = [FileUpload(found.files[e.path].abs_path, f"{prefix}/{e.path}", e.size,
                              {SHA256_METADATA_KEY: e.sha256}, found.files[e.path].key) for e in to_upload]
        stats = Uploader(store, concurrency=concurrency, part_size=part_size, cancel=cancel).run(
            uploads, incomplete_under=prefix + "/")
        if stray:
            log.info("removing %d object(s) that are not part of unfinished version %s", len(stray), version)
            store.delete(stray)
        if not finished:
            store.put_bytes(manifest_key(prefix), manifest_bytes, "application/json")

    uploaded = sorted(e.path for e in to_upload)
    return SyncResult(
        version=version, url=store.url(prefix), manifest_digest=manifest.digest, file_count=len(manifest.entries),
        total_bytes=manifest.total_bytes, finished_before=finished, hashed=len(found.hashed), uploaded=uploaded,
        uploaded_bytes=sum(e.size for e in to_upload), skipped=sorted(set(found.files) - set(uploaded)),
        removed=[k[len(prefix) + 1:] for k in stray], parts_sent=stats.parts_sent, parts_resumed=stats.parts_resumed,
        bytes_resumed=stats.bytes_resumed, uploads_aborted=stats.uploads_aborted)


def _conflict(url: str, remote: Manifest, local: Manifest) -> str:
    theirs, ours = remote.by_path(), local.by_path()
    differ = sorted(p for p in set(theirs) | set(ours) if theirs.get(p) != ours.get(p))
    return (f"finished version {url} holds another file set ({len(differ)} path(s) differ, first {differ[0]!r}); "
            "versions are never rewritten: for a Hugging Face commit, include/exclude changed -- revert them, or "
            "remove that version first with `python -m components.model prune` (see docs/model.md)")


def bad_objects(store: ObjectStore, prefix: str, entries: Sequence[ManifestEntry],
                concurrency: int = DEFAULT_CONCURRENCY) -> list[ManifestEntry]:
    """The entries whose object is missing, or has another size or ``sha256`` metadata (HEAD each)."""
    if not entries:
        return []
    with concurrent.futures.ThreadPoolExecutor(min(concurrency, len(entries)), thread_name_prefix="head") as pool:
        infos = list(pool.map(lambda e: store.head(f"{prefix}/{e.path}"), entries))
    return [e for e, info in zip(entries, infos, strict=True) if not _vouches(info, e)]


def _vouches(info: ObjectInfo | None, entry: ManifestEntry) -> bool:
    return info is not None and info.size == entry.size and info.metadata.get(SHA256_METADATA_KEY) == entry.sha256


def verify_version(store: ObjectStore, prefix: str) -> list[str]:
    """Problems of a finished version, one line each (empty if it is sound)."""
    remote = read_manifest(store, prefix)
    if remote is None:
        return [f"{store.url(prefix)} is not a finished version (no {MANIFEST_NAME})"]
    listing = store.list(prefix + "/")
    manifest = remote[1]
    problems = [f"{store.url(prefix + '/' + e.path)}: missing, or size/sha256 differ from the manifest"
                for e in bad_objects(store, prefix, manifest.entries)]
    known = {f"{prefix}/{e.path}" for e in manifest.entries} | {manifest_key(prefix)}
    problems += [f"{store.url(k)}: not in the manifest" for k in sorted(set(listing) - known)]
    return problems


@dataclasses.dataclass(frozen=True)
class PruneResult:
    kept: list[str]
    deleted: list[str]
    unfinished: list[str]  # versions without a manifest: never touched by prune
    deleted_objects: int


def prune(store: ObjectStore, root: str, *, keep: int, in_use: Sequence[str] = (), dry_run: bool = True) -> PruneResult:
    """Delete finished versions under ``root`` except the ``keep`` newest (by manifest time) and
    every version in ``in_use``.  Each deleted version loses its manifest first, so it is never a
    finished version with missing files; its incomplete multipart uploads are aborted too."""
    if keep < 1:
        raise InvalidArgumentError(f"--keep {keep}: must be at least 1 (name the versions in use with --in-use)")
    root = root.strip("/")
    listing = store.list(root + "/")
    objects: dict[str, list[str]] = {}
    finished: dict[str, float] = {}
    for key, info in listing.items():
        version, sep, rest = key[len(root) + 1:].partition("/")
        if not sep or not VERSION_PATTERN.fullmatch(version):
            continue
        objects.setdefault(version, []).append(key)
        if rest == MANIFEST_NAME:
            finished[version] = info.modified
    newest = sorted(finished, key=lambda v: finished[v], reverse=True)
    for version in sorted(set(in_use) - set(finished)):
        log.warning("--in-use %s: no finished version of that name under %s", version, store.url(root + "/"))
    kept = sorted(set(newest[:keep]) | (set(in_use) & set(finished)))
    doomed = sorted(set(finished) - set(kept))
    count = 0
    for version in doomed:
        keys = objects[version]
        count += len(keys)
        log.info("%s %s (%d objects)", "would delete" if dry_run else "deleting", store.url(f"{root}/{version}/"),
                 len(keys))
        if dry_run:
            continue
        store.delete([manifest_key(f"{root}/{version}")])
        store.delete(sorted(k for k in keys if not k.endswith("/" + MANIFEST_NAME)))
        for upload in store.list_uploads(f"{root}/{version}/"):
            store.abort_upload(upload.key, upload.upload_id)
    return PruneResult(kept, doomed, sorted(set(objects) - set(finished)), count)


if __name__ == "__main__":  # `python -m components.model.sync prune ...` is `python -m components.model prune ...`
    import sys

    from components.model.cli import main

    sys.exit(main())
