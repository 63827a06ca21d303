"""Upload a model directory to S3 or Alibaba Cloud OSS incrementally, with a manifest.

The uploader keeps a bucket prefix identical to a local model directory:

* Only files whose content changed are uploaded again.  What is in the bucket is described by a
  manifest object, ``<prefix>/.kserve-fluid-manifest.json`` (path, size and sha256 of every file),
  and the decision is made by comparing the local manifest with that one -- remote objects are
  never re-hashed.  One listing of the prefix finds objects to delete and the files an
  interrupted run had already uploaded (recognised by their ``sha256`` metadata).
* The local manifest is cheap: a cache of (size, mtime, sha256) per file, kept outside the model
  directory, means a file is hashed again only when its size or mtime changed, so a run with
  nothing to do reads no model bytes.
* The sha256 of the manifest object (``SyncResult.manifest_digest``) identifies the model version;
  downstream steps use it as their re-run key.
* Files and multipart parts are transferred in parallel.  Parts are streamed from disk, never read
  whole into memory, and files above 5 GB (the single-PUT limit of S3 and OSS) go multipart with a
  part size raised as needed to stay within 10,000 parts.
* Every failure that can be detected up front -- missing or empty directory, unreadable file,
  missing bucket, missing credentials, bucket not writable -- raises a specific
  :class:`ModelSyncError` subclass naming the path or bucket before any model byte is written.

This file must stay self-contained: it is also mounted from a ConfigMap into an in-cluster Job and
run as ``python sync.py <local_dir> <url>``.  It imports only the standard library, plus boto3 for
``s3://`` and oss2 (and, for RRSA, alibabacloud_credentials) for ``oss://``, both imported lazily so
an image needs only the SDK of the cloud it talks to.

Command line::

    python -m components.model.sync <local_dir> s3://bucket/prefix [--region R] [--endpoint URL]
        [--no-delete] [--include GLOB]... [--exclude GLOB]... [--concurrency N]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import logging
import os
import re
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, Self

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_EXCLUDE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "DEFAULT_PART_SIZE",
    "MANIFEST_NAME",
    "BucketAccessError",
    "BucketNotFoundError",
    "BucketNotWritableError",
    "EmptySourceError",
    "InvalidURLError",
    "Manifest",
    "ManifestEntry",
    "ModelSyncError",
    "ObjectInfo",
    "ObjectStore",
    "OssStore",
    "S3Store",
    "SourceChangedError",
    "SourceDirectoryError",
    "SyncResult",
    "UnreadableFileError",
    "default_cache_path",
    "local_manifest",
    "main",
    "manifest_object_key",
    "parse_store_url",
    "store_for_url",
    "sync_directory",
]

log = logging.getLogger("kserve_fluid.model_sync")

MiB = 1024 * 1024

#: Name of the manifest object written at ``<prefix>/MANIFEST_NAME``.  Its sha256 is the model's
#: manifest digest, so ``sha256sum`` of the downloaded object verifies a recorded digest.
MANIFEST_NAME = ".kserve-fluid-manifest.json"
MANIFEST_VERSION = 1

#: Never model content: VCS metadata of a cloned repository and the download metadata that
#: ``huggingface-cli download --local-dir`` leaves beside the files.  Always excluded.
DEFAULT_EXCLUDE: tuple[str, ...] = (".git/*", ".cache/huggingface/*")

DEFAULT_CONCURRENCY = 8
#: Files at or above this size are uploaded in parts (a 5 GiB shard makes 320).  Bigger parts cost
#: more to retry and give less parallelism on few files; memory does not depend on the part size,
#: because parts are streamed from disk.
DEFAULT_MULTIPART_THRESHOLD = 16 * MiB
DEFAULT_PART_SIZE = 16 * MiB

_HASH_CHUNK_SIZE = 8 * MiB
_CACHE_VERSION = 1
_SHA256_METADATA_KEY = "sha256"
_PROBE_PREFIX = ".kserve-fluid-write-probe-"
_DELETE_BATCH = 1000  # the per-request maximum of both S3 DeleteObjects and OSS DeleteMultipleObjects

_NOT_FOUND_CODES = frozenset({"NoSuchBucket"})
_DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
    }
)


# --------------------------------------------------------------------------------------- errors


class ModelSyncError(Exception):
    """Base class of every error the uploader reports on purpose (the CLI prints these without a
    traceback)."""


class InvalidURLError(ModelSyncError, ValueError):
    """The bucket URL or the store options cannot be used."""


class SourceDirectoryError(ModelSyncError):
    """The model source directory does not exist or is not a directory."""


class EmptySourceError(SourceDirectoryError):
    """The model source directory holds no file to upload (after include/exclude)."""


class UnreadableFileError(ModelSyncError):
    """A file of the model cannot be read (permissions, broken symlink, not a regular file)."""


class SourceChangedError(ModelSyncError):
    """A file changed while it was being uploaded, so the manifest would not describe it."""


class BucketAccessError(ModelSyncError):
    """The bucket cannot be used: no credentials, access denied or another service error."""


class BucketNotFoundError(BucketAccessError):
    """The bucket does not exist."""


class BucketNotWritableError(BucketAccessError):
    """The bucket exists but the credentials cannot write to it."""


# ------------------------------------------------------------------------------------- manifest


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One file of a model: its path relative to the model root (``/``-separated)."""

    path: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """The files of a model, sorted by path.  Its JSON form is canonical (sorted keys, fixed
    layout), so equal manifests have equal bytes and hence equal digests."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def of(cls, entries: Sequence[ManifestEntry]) -> Manifest:
        return cls(tuple(sorted(entries, key=lambda entry: entry.path)))

    def to_json_bytes(self) -> bytes:
        document = {
            "version": MANIFEST_VERSION,
            "files": [dataclasses.asdict(entry) for entry in self.entries],
        }
        return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Manifest:
        """Parse a manifest; raises ``ValueError`` if it is not one this version understands."""
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION:
            raise ValueError(f"not a version {MANIFEST_VERSION} manifest")
        entries = []
        for item in document["files"]:
            entries.append(ManifestEntry(path=str(item["path"]), size=int(item["size"]), sha256=str(item["sha256"])))
        return cls.of(entries)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON: the identity of this model version."""
        return hashlib.sha256(self.to_json_bytes()).hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {entry.path: entry for entry in self.entries}


# ------------------------------------------------------------------------- local scan and cache


@dataclasses.dataclass(frozen=True)
class _LocalFile:
    abs_path: str
    size: int
    mtime_ns: int
    sha256: str


def default_cache_path(local_dir: str) -> str:
    """Where the (size, mtime, sha256) cache of ``local_dir`` lives by default.

    It is kept under ``$XDG_CACHE_HOME`` (``~/.cache``), never inside the model directory, which
    may be read-only and whose content is what gets uploaded.
    """
    key = hashlib.sha256(os.path.realpath(local_dir).encode()).hexdigest()[:24]
    return os.path.join(_cache_home(), "manifests", key + ".json")


def _cache_home() -> str:
    """``$XDG_CACHE_HOME/kserve-fluid`` (``~/.cache/kserve-fluid``): the uploader's local state."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kserve-fluid")


def local_manifest(
    local_dir: str,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    cache_path: str | None = None,
    *,
    workers: int | None = None,
) -> Manifest:
    """Manifest of ``local_dir``, hashing only files whose size or mtime changed since the cache
    was written (``cache_path``, default :func:`default_cache_path`).

    ``include``/``exclude`` are :mod:`fnmatch` patterns matched against the ``/``-separated path
    relative to ``local_dir``; ``*`` also matches ``/``, so ``original/*`` skips a whole
    subdirectory.  With ``include``, only matching files are taken; :data:`DEFAULT_EXCLUDE` is
    always excluded.  Symlinks are followed (Hugging Face snapshots are symlinks to blobs).
    """
    manifest, _ = _scan(local_dir, include, exclude, cache_path, workers)
    return manifest


def _scan(
    local_dir: str,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    cache_path: str | None,
    workers: int | None,
) -> tuple[Manifest, dict[str, _LocalFile]]:
    if not os.path.exists(local_dir):
        raise SourceDirectoryError(f"model source directory {local_dir} does not exist")
    if not os.path.isdir(local_dir):
        raise SourceDirectoryError(f"model source {local_dir} is not a directory")

    excludes = tuple(DEFAULT_EXCLUDE) + tuple(exclude or ())
    stats: dict[str, tuple[str, os.stat_result]] = {}
    for rel_path, abs_path in _walk_files(local_dir):
        if rel_path == MANIFEST_NAME or not _selected(rel_path, include, excludes):
            continue
        try:
            st = os.stat(abs_path)
        except OSError as exc:
            raise UnreadableFileError(f"cannot read model file {abs_path}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(f"model file {abs_path} is not a regular file")
        stats[rel_path] = (abs_path, st)
    if not stats:
        filtered = " matching the include/exclude patterns" if include or exclude else ""
        raise EmptySourceError(f"model source directory {local_dir} contains no files{filtered}")

    cache_file = cache_path or default_cache_path(local_dir)
    cached = _load_cache(cache_file)
    hashes: dict[str, str] = {}
    to_hash: list[str] = []
    for rel_path, (_, st) in stats.items():
        hit = cached.get(rel_path)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            hashes[rel_path] = hit[2]
        else:
            to_hash.append(rel_path)
    if to_hash:
        log.info("hashing %d changed or new file(s) under %s", len(to_hash), local_dir)
        # hashlib releases the GIL on large buffers, so threads hash on several cores; more
        # threads than cores only add contention.
        cpus = os.cpu_count() or 1
        n_workers = max(1, min(workers or cpus, cpus, len(to_hash)))
        with concurrent.futures.ThreadPoolExecutor(n_workers, thread_name_prefix="hash") as pool:
            for rel_path, digest in zip(to_hash, pool.map(lambda p: _sha256_file(stats[p][0]), to_hash)):
                hashes[rel_path] = digest

    files = {
        rel_path: _LocalFile(abs_path, st.st_size, st.st_mtime_ns, hashes[rel_path])
        for rel_path, (abs_path, st) in stats.items()
    }
    fresh_cache = {rel: (f.size, f.mtime_ns, f.sha256) for rel, f in files.items()}
    if fresh_cache != cached:
        _save_cache(cache_file, local_dir, fresh_cache)
    manifest = Manifest.of([ManifestEntry(rel, f.size, f.sha256) for rel, f in files.items()])
    return manifest, files


def _walk_files(root: str) -> Iterator[tuple[str, str]]:
    """Yield ``(relative posix path, path)`` of every non-directory entry below ``root``.

    Directory symlinks are followed, except into one of their own ancestors (a cycle)."""
    root_st = os.stat(root)
    stack: list[tuple[str, str, frozenset]] = [("", root, frozenset({(root_st.st_dev, root_st.st_ino)}))]
    while stack:
        rel_dir, abs_dir, ancestors = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except OSError as exc:
            raise UnreadableFileError(f"cannot list model directory {abs_dir}: {exc.strerror}") from exc
        for entry in entries:
            rel_path = rel_dir + "/" + entry.name if rel_dir else entry.name
            if entry.is_dir(follow_symlinks=True):
                st = entry.stat(follow_symlinks=True)
                ident = (st.st_dev, st.st_ino)
                if ident in ancestors:
                    log.warning("skipping %s: symlink loop", entry.path)
                    continue
                stack.append((rel_path, entry.path, ancestors | {ident}))
            else:
                yield rel_path, entry.path


def _selected(rel_path: str, include: Sequence[str] | None, exclude: Sequence[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(rel_path, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(rel_path, pattern) for pattern in exclude)


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_HASH_CHUNK_SIZE)
    view = memoryview(buffer)
    try:
        with open(path, "rb") as f:
            while True:
                n = f.readinto(buffer)
                if not n:
                    break
                digest.update(view[:n])
    except OSError as exc:
        raise UnreadableFileError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


_CacheEntries = dict[str, tuple[int, int, str]]


def _load_cache(cache_file: str) -> _CacheEntries:
    try:
        with open(cache_file, "rb") as f:
            document = json.load(f)
        if document.get("version") != _CACHE_VERSION:
            return {}
        return {rel: (int(v[0]), int(v[1]), str(v[2])) for rel, v in document["files"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("ignoring unusable manifest cache %s: %s", cache_file, exc)
        return {}


def _save_cache(cache_file: str, local_dir: str, entries: _CacheEntries) -> None:
    """Write the cache atomically.  It is only an optimisation: failing to write it (read-only
    home in a container, say) costs a re-hash next time, so it is a warning, not an error."""
    document = {
        "version": _CACHE_VERSION,
        "source": os.path.realpath(local_dir),
        "files": {rel: list(value) for rel, value in sorted(entries.items())},
    }
    cache_dir = os.path.dirname(os.path.abspath(cache_file))
    try:
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(document, f)
            os.replace(tmp_path, cache_file)
        except BaseException:
            os.unlink(tmp_path)
            raise
    except OSError as exc:
        log.warning("cannot write manifest cache %s (%s); files will be hashed again next run", cache_file, exc)


# ---------------------------------------------------------------------------------------- stores


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD tells: the size and the user metadata (names without the x-amz-meta- or
    x-oss-meta- prefix)."""

    size: int
    metadata: Mapping[str, str]


class ObjectStore(Protocol):
    """The few bucket operations the sync needs.  Keys are full object keys.

    Implementations translate service errors into :class:`BucketAccessError` subclasses whose
    message names the bucket, and transfer a file's multipart parts in parallel."""

    def url(self, key: str) -> str:
        """``scheme://bucket/key``, for messages and outputs."""

    def get_bytes(self, key: str) -> bytes | None:
        """A small object's content, or ``None`` if there is no such key."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Write a small object."""

    def list(self, prefix: str) -> dict[str, int]:
        """Key -> size of every object whose key starts with ``prefix``."""

    def head(self, key: str) -> ObjectInfo | None:
        """Size and user metadata of an object, or ``None`` if there is no such key."""

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects (in batches)."""

    def upload_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None:
        """Upload a local file of any size, streaming it, multipart above the threshold."""

    def close(self) -> None:
        """Release thread pools and connections."""


def _access_error(url: str, action: str, code: str, message: str, writing: bool) -> BucketAccessError:
    bucket = "/".join(url.split("/", 3)[:3])  # "s3://bucket/key" -> "s3://bucket"
    if code in _NOT_FOUND_CODES:
        return BucketNotFoundError(f"bucket {bucket} does not exist ({action} {url})")
    if writing and code in _DENIED_CODES:
        return BucketNotWritableError(
            f"bucket {bucket} is not writable with the current credentials ({code} when trying to {action} {url})"
        )
    return BucketAccessError(f"cannot {action} {url}: {code} {message}")


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Store:
    """What both stores share: ``scheme://bucket/key`` URLs and use as a context manager."""

    scheme: str
    bucket: str

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class S3Store(_Store):
    """Amazon S3 or any S3-compatible endpoint (MinIO, Ceph, moto), through boto3.

    All multipart parts of all files go through one shared s3transfer ``TransferManager``, so at
    most ``concurrency`` requests are in flight however many files are uploading.  s3transfer
    streams each part from disk and raises the part size when a file would need more than 10,000
    parts (and caps it at S3's 5 GiB part limit).
    """

    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        client: Any = None,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig, create_transfer_manager
        from botocore.config import Config

        self.bucket = bucket
        # The pool is sized for the transfer threads plus the sync's own small requests.
        self._client = client or boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(max_pool_connections=2 * concurrency, retries={"mode": "standard", "max_attempts": 5}),
        )
        self._transfer = create_transfer_manager(
            self._client,
            TransferConfig(
                multipart_threshold=multipart_threshold,
                multipart_chunksize=part_size,
                max_concurrency=concurrency,
                # The CRT client ignores these limits; the classic one honours them everywhere.
                preferred_transfer_client="classic",
            ),
        )

    @contextlib.contextmanager
    def _errors(self, action: str, key: str, writing: bool = False) -> Iterator[None]:
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        try:
            yield
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise BucketAccessError(
                f"cannot {action} {self.url(key)}: no usable AWS credentials ({exc}); set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role"
            ) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise _access_error(
                self.url(key), action, str(error.get("Code", "")), str(error.get("Message", "")), writing
            ) from exc

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors("read", key):
            try:
                return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                    return None
                raise

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("write", key, writing=True):
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def list(self, prefix: str) -> dict[str, int]:
        objects: dict[str, int] = {}
        with self._errors("list", prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", ()):
                    objects[item["Key"]] = int(item["Size"])
        return objects

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        with self._errors("read", key):
            try:
                response = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return ObjectInfo(int(response["ContentLength"]), dict(response.get("Metadata", {})))

    def delete(self, keys: Sequence[str]) -> None:
        for batch in _batches(keys, _DELETE_BATCH):
            with self._errors("delete", batch[0], writing=True):
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise _access_error(
                    self.url(first.get("Key", "")), "delete", first.get("Code", ""), first.get("Message", ""), True
                )

    def upload_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None:
        self._transfer.upload(path, self.bucket, key, extra_args={"Metadata": dict(metadata)}).result()

    def close(self) -> None:
        self._transfer.shutdown()


_OSS_STATIC_ENV = (
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"),
    ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "ALICLOUD_SECURITY_TOKEN"),  # pulumi-alicloud's names
    ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),  # oss2's names
)
_RRSA_ENV = ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
_OSS_ENDPOINT_REGION = re.compile(r"oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com")


class _RrsaCredentialsProvider:
    """oss2 credentials provider for keyless pods (ACK RRSA): exchanges the projected OIDC token
    for STS credentials with alibabacloud_credentials, which caches and refreshes them."""

    def __init__(self, region: str) -> None:
        try:
            from alibabacloud_credentials.provider import OIDCRoleArnCredentialsProvider
        except ImportError as exc:
            raise BucketAccessError(
                f"RRSA credentials ({', '.join(_RRSA_ENV)}) need the alibabacloud_credentials package"
            ) from exc
        role_arn, provider_arn, token_file = (os.environ[name] for name in _RRSA_ENV)
        self._provider = OIDCRoleArnCredentialsProvider(
            role_arn=role_arn,
            oidc_provider_arn=provider_arn,
            oidc_token_file_path=token_file,
            role_session_name="kserve-fluid-model-sync",
            sts_region_id=region,
        )

    def get_credentials(self) -> Any:
        from oss2.credentials import Credentials

        credentials = self._provider.get_credentials()
        return Credentials(
            credentials.get_access_key_id(), credentials.get_access_key_secret(), credentials.get_security_token()
        )


def _oss_credentials_provider(region: str) -> Any:
    """Static keys from the environment (three common naming schemes), else RRSA."""
    from oss2.credentials import StaticCredentialsProvider

    for id_var, secret_var, token_var in _OSS_STATIC_ENV:
        key_id, secret = os.environ.get(id_var), os.environ.get(secret_var)
        if key_id and secret:
            return StaticCredentialsProvider(key_id, secret, os.environ.get(token_var) or "")
    if all(os.environ.get(name) for name in _RRSA_ENV):
        return _RrsaCredentialsProvider(region)
    raise BucketAccessError(
        "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET (or "
        f"ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY), or run in a pod with RRSA ({', '.join(_RRSA_ENV)})"
    )


class OssStore(_Store):
    """Alibaba Cloud OSS through oss2 (imported lazily), signed with V4.

    Large files use ``oss2.resumable_upload``: parts are streamed from disk by ``part_threads``
    threads per file, the part size is raised to stay within 10,000 parts, and an interrupted
    upload resumes from its finished parts (checkpoints under ``resume_dir``).  With ``concurrency``
    files in flight, at most ``concurrency * part_threads`` requests run at once.  ``close`` has
    nothing to release: oss2 ends its part threads with each upload.
    """

    scheme = "oss"

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        part_threads: int = 4,
        resume_dir: str | None = None,
        oss_bucket: Any = None,
    ) -> None:
        import oss2

        self.bucket = bucket
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._part_threads = part_threads
        self._resume_store = oss2.ResumableStore(root=resume_dir or _cache_home())
        if oss_bucket is not None:
            self._bucket = oss_bucket
            return
        if region is None and endpoint:
            match = _OSS_ENDPOINT_REGION.search(endpoint)
            region = match.group(1) if match else None
        if not region:
            raise InvalidURLError(f"oss://{bucket} needs a region (or an oss-<region>.aliyuncs.com endpoint)")
        endpoint = endpoint or f"https://oss-{region}.aliyuncs.com"
        auth = oss2.ProviderAuthV4(_oss_credentials_provider(region))
        self._bucket = oss2.Bucket(auth, endpoint, bucket, region=region, connect_timeout=30)

    @contextlib.contextmanager
    def _errors(self, action: str, key: str, writing: bool = False) -> Iterator[None]:
        from oss2.exceptions import OssError

        try:
            yield
        except OssError as exc:
            code = exc.code or str(exc.status)
            raise _access_error(self.url(key), action, code, exc.message, writing) from exc

    def get_bytes(self, key: str) -> bytes | None:
        from oss2.exceptions import NoSuchKey

        with self._errors("read", key):
            try:
                return self._bucket.get_object(key).read()
            except NoSuchKey:
                return None

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("write", key, writing=True):
            self._bucket.put_object(key, data, headers={"Content-Type": content_type})

    def list(self, prefix: str) -> dict[str, int]:
        import oss2

        with self._errors("list", prefix):
            return {obj.key: int(obj.size) for obj in oss2.ObjectIteratorV2(self._bucket, prefix=prefix, max_keys=1000)}

    def head(self, key: str) -> ObjectInfo | None:
        from oss2.exceptions import NotFound

        with self._errors("read", key):
            try:
                result = self._bucket.head_object(key)
            except NotFound:
                return None
        meta_prefix = "x-oss-meta-"
        metadata = {
            name.lower()[len(meta_prefix) :]: value
            for name, value in result.headers.items()
            if name.lower().startswith(meta_prefix)
        }
        return ObjectInfo(int(result.content_length), metadata)

    def delete(self, keys: Sequence[str]) -> None:
        for batch in _batches(keys, _DELETE_BATCH):
            with self._errors("delete", batch[0], writing=True):
                self._bucket.batch_delete_objects(list(batch))

    def upload_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None:
        import oss2

        oss2.resumable_upload(
            self._bucket,
            key,
            path,
            store=self._resume_store,
            headers={"x-oss-meta-" + name: value for name, value in metadata.items()},
            multipart_threshold=self._multipart_threshold,
            part_size=self._part_size,
            num_threads=self._part_threads,
        )


def parse_store_url(url: str) -> tuple[str, str, str]:
    """``"s3://bucket/a/b/"`` -> ``("s3", "bucket", "a/b")``."""
    match = re.fullmatch(r"(s3|oss)://([^/]+)/?(.*)", url)
    if not match:
        raise InvalidURLError(f"bucket URL {url!r} must look like s3://bucket/prefix or oss://bucket/prefix")
    scheme, bucket, prefix = match.groups()
    return scheme, bucket, prefix.strip("/")


def store_for_url(
    url: str,
    *,
    region: str | None = None,
    endpoint: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    part_size: int = DEFAULT_PART_SIZE,
) -> tuple[S3Store | OssStore, str]:
    """The store for ``s3://bucket/prefix`` or ``oss://bucket/prefix``, and the prefix."""
    scheme, bucket, prefix = parse_store_url(url)
    if scheme == "s3":
        store: S3Store | OssStore = S3Store(
            bucket,
            region=region,
            endpoint_url=endpoint,
            concurrency=concurrency,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
        )
    else:
        store = OssStore(
            bucket, region=region, endpoint=endpoint, multipart_threshold=multipart_threshold, part_size=part_size
        )
    return store, prefix


# ------------------------------------------------------------------------------------------ sync


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """What a sync did.  Paths are relative to the model root (and to the bucket prefix)."""

    manifest_digest: str
    manifest_key: str
    file_count: int
    total_bytes: int
    uploaded: list[str]
    uploaded_bytes: int
    skipped: list[str]
    deleted: list[str]


def _key(prefix: str, rel_path: str) -> str:
    return prefix + "/" + rel_path if prefix else rel_path


def manifest_object_key(prefix: str) -> str:
    """The key of the manifest object of the model under ``prefix`` (no surrounding slashes)."""
    return _key(prefix, MANIFEST_NAME)


def sync_directory(
    store: ObjectStore,
    local_dir: str,
    prefix: str,
    *,
    delete_removed: bool = True,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache_path: str | None = None,
) -> SyncResult:
    """Make ``prefix`` in ``store`` hold exactly the selected files of ``local_dir`` plus the
    manifest.

    A file is uploaded when its (path, size, sha256) differs from the bucket's manifest, unless
    the object already there has the same size and its ``sha256`` metadata matches -- the case of
    a run that was interrupted before it could write the manifest.  With ``delete_removed``,
    every other object under the prefix (files removed locally or now excluded) is deleted; the
    manifest is written last, so it only ever describes a complete upload.  Objects removed from
    the bucket by hand while the manifest still lists them are not noticed: delete the manifest to
    force a full comparison.

    A run with nothing to change reads no model bytes and writes nothing.  Otherwise a probe
    object is written and deleted first, so a read-only bucket fails before any upload.
    """
    prefix = prefix.strip("/")
    if delete_removed and not prefix:
        raise InvalidURLError(f"refusing to delete removed files at the root of {store.url('')}; give a prefix")

    manifest, files = _scan(local_dir, include, exclude, cache_path, concurrency)
    manifest_bytes = manifest.to_json_bytes()
    manifest_key = manifest_object_key(prefix)
    folder = _key(prefix, "")  # "a/b/", or "" at the bucket root

    remote_bytes = store.get_bytes(manifest_key)
    remote_entries: dict[str, ManifestEntry] = {}
    if remote_bytes is not None:
        try:
            remote_entries = Manifest.from_json_bytes(remote_bytes).by_path()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable manifest %s: %s", store.url(manifest_key), exc)

    candidates = [entry for entry in manifest.entries if remote_entries.get(entry.path) != entry]
    listing = store.list(folder) if candidates or delete_removed else {}
    wanted_keys = {_key(prefix, entry.path) for entry in manifest.entries} | {manifest_key}
    stale = sorted(key for key in listing if key not in wanted_keys) if delete_removed else []

    with concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="sync") as pool:
        resumable = [entry for entry in candidates if listing.get(_key(prefix, entry.path)) == entry.size]
        already_there = {
            entry.path
            for entry, info in zip(resumable, pool.map(lambda e: store.head(_key(prefix, e.path)), resumable))
            if info is not None and info.metadata.get(_SHA256_METADATA_KEY) == entry.sha256
        }
        to_upload = [entry for entry in candidates if entry.path not in already_there]

        if to_upload or stale or remote_bytes != manifest_bytes:
            _probe_writable(store, prefix)
            # Largest first, so one huge shard does not start last and run alone.
            to_upload.sort(key=lambda entry: entry.size, reverse=True)
            _run_all(pool, [lambda e=entry: _upload_one(store, prefix, e, files[e.path]) for entry in to_upload])
            if stale:
                log.info("deleting %d object(s) no longer in the model", len(stale))
                store.delete(stale)
            store.put_bytes(manifest_key, manifest_bytes, "application/json")

    uploaded = sorted(entry.path for entry in to_upload)
    return SyncResult(
        manifest_digest=manifest.digest,
        manifest_key=manifest_key,
        file_count=len(manifest.entries),
        total_bytes=manifest.total_bytes,
        uploaded=uploaded,
        uploaded_bytes=sum(entry.size for entry in to_upload),
        skipped=sorted(set(files) - set(uploaded)),
        deleted=[key[len(folder) :] for key in stale],
    )


def _probe_writable(store: ObjectStore, prefix: str) -> None:
    probe_key = _key(prefix, _PROBE_PREFIX + uuid.uuid4().hex)
    store.put_bytes(probe_key, b"", "application/octet-stream")
    store.delete([probe_key])


def _upload_one(store: ObjectStore, prefix: str, entry: ManifestEntry, local: _LocalFile) -> None:
    key = _key(prefix, entry.path)
    log.info("uploading %s (%d bytes) to %s", entry.path, entry.size, store.url(key))
    store.upload_file(local.abs_path, key, {_SHA256_METADATA_KEY: entry.sha256})
    try:
        st = os.stat(local.abs_path)
        changed = (st.st_size, st.st_mtime_ns) != (local.size, local.mtime_ns)
    except OSError:
        changed = True
    if changed:
        # The object's sha256 metadata no longer vouches for its bytes: do not leave it behind.
        store.delete([key])
        raise SourceChangedError(f"model file {local.abs_path} changed while it was uploaded; run the sync again")


def _run_all(pool: concurrent.futures.ThreadPoolExecutor, tasks: Sequence[Any]) -> None:
    """Run tasks on the pool; on the first failure, cancel what has not started and re-raise."""
    futures = [pool.submit(task) for task in tasks]
    concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    for future in futures:
        future.cancel()  # no effect on tasks already running or done
    concurrent.futures.wait(futures)
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error


# ------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Upload a model directory to s3:// or oss:// incrementally, with a manifest.",
    )
    parser.add_argument("local_dir", help="model directory to upload")
    parser.add_argument("url", help="s3://bucket/prefix or oss://bucket/prefix")
    parser.add_argument("--region", help="bucket region (required for OSS unless --endpoint names it)")
    parser.add_argument("--endpoint", help="endpoint URL (S3-compatible store, or an OSS -internal endpoint)")
    parser.add_argument(
        "--no-delete", dest="delete_removed", action="store_false", help="keep objects for files removed locally"
    )
    parser.add_argument("--include", action="append", metavar="GLOB", help="upload only matching paths (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="GLOB", help="skip matching paths (repeatable)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="parallel transfers")
    parser.add_argument("--part-size-mib", type=int, default=DEFAULT_PART_SIZE // MiB, help="multipart part size")
    parser.add_argument("--cache-path", help="manifest cache file (default under ~/.cache/kserve-fluid)")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    part_size = args.part_size_mib * MiB
    try:
        store, prefix = store_for_url(
            args.url,
            region=args.region,
            endpoint=args.endpoint,
            concurrency=args.concurrency,
            multipart_threshold=part_size,
            part_size=part_size,
        )
        with store:
            result = sync_directory(
                store,
                args.local_dir,
                prefix,
                delete_removed=args.delete_removed,
                include=args.include,
                exclude=args.exclude,
                concurrency=args.concurrency,
                cache_path=args.cache_path,
            )
    except ModelSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = dataclasses.asdict(result)
    summary["manifest_url"] = store.url(result.manifest_key)
    for name in ("uploaded", "skipped", "deleted"):
        summary[name] = len(summary[name])
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
