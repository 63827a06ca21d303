"""The manifest of a model directory (path, size, sha256 of every file) and the local hash cache.

The manifest's JSON is canonical, so its sha256 -- the *digest* -- names exactly one file set and
is used as the version of a model uploaded from a local directory.

When is a file hashed?  A file's sha256 is taken from the cache only when all five of
``(size, mtime_ns, ctime_ns, inode, device)`` equal what they were when it was hashed.  The
kernel sets ``ctime`` on every write, truncate, chmod, rename or ``utime`` and no call can set it
back, so a file rewritten with its size and mtime restored (``os.utime``, ``touch -d``, ``cp -p``,
``tar -x``, ``rsync -a``) is hashed again; ``cp -p``/``tar``/``rsync`` also give a new inode.  The
cost of that choice: a ``chmod``, a ``touch`` or moving the files re-hashes them (about 1 s per GiB
per core), and so does a new machine, a moved directory (the cache is keyed by its real path) or a
file system whose inode numbers are not stable (some network and FUSE mounts).  ``rehash=True``
(``--rehash``) ignores the cache.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import fnmatch
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence

from components.model.errors import (
    EmptySourceError,
    Interrupted,
    SourceDirectoryError,
    UnreadableFileError,
)

log = logging.getLogger("kserve_fluid.model")

MiB = 1024 * 1024

#: Name of the manifest object written last at ``<version>/MANIFEST_NAME``.  Its sha256 is the
#: version's digest, so ``sha256sum`` of the downloaded object checks a recorded digest.
MANIFEST_NAME = ".kserve-fluid-manifest.json"
MANIFEST_VERSION = 1

#: Never model content: VCS metadata of a cloned repository and the download metadata that
#: ``huggingface_hub`` leaves beside the files in a ``local_dir``.  Always excluded.
DEFAULT_EXCLUDE: tuple[str, ...] = (".git/*", ".cache/huggingface/*")

_HASH_CHUNK = 8 * MiB
_CACHE_VERSION = 2
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One file of a model: its path relative to the model root (``/``-separated)."""

    path: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """The files of a model, sorted by path; equal manifests have equal bytes and digests."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def of(cls, entries: Sequence[ManifestEntry]) -> Manifest:
        return cls(tuple(sorted(entries, key=lambda entry: entry.path)))

    def to_json_bytes(self) -> bytes:
        document = {"version": MANIFEST_VERSION, "files": [dataclasses.asdict(entry) for entry in self.entries]}
        return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Manifest:
        """Parse a manifest read from a bucket; ``ValueError`` if it is not a sound version 1 one."""
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("version") != MANIFEST_VERSION:
                raise ValueError(f"not a version {MANIFEST_VERSION} manifest")
            entries = [ManifestEntry(str(i["path"]), int(i["size"]), str(i["sha256"])) for i in document["files"]]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed manifest: {exc!r}") from exc
        for entry in entries:
            if not _SHA256.fullmatch(entry.sha256) or entry.size < 0 or not _safe_path(entry.path):
                raise ValueError(f"malformed manifest entry {entry}")
        return cls.of(entries)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON: the identity of this file set."""
        return hashlib.sha256(self.to_json_bytes()).hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {entry.path: entry for entry in self.entries}


def _safe_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "" not in parts


@dataclasses.dataclass(frozen=True)
class LocalFile:
    """A file found by the scan: where it is, its stat key and its sha256."""

    abs_path: str
    key: tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device
    sha256: str

    @property
    def size(self) -> int:
        return self.key[0]


def stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclasses.dataclass(frozen=True)
class Scan:
    manifest: Manifest
    files: dict[str, LocalFile]
    hashed: tuple[str, ...]  # relative paths whose bytes this scan read


def cache_home() -> str:
    """``$XDG_CACHE_HOME/kserve-fluid`` (``~/.cache/kserve-fluid``): the uploader's local state."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kserve-fluid")


def default_cache_path(local_dir: str) -> str:
    """The hash cache of ``local_dir``: under :func:`cache_home`, never inside the model directory."""
    key = hashlib.sha256(os.path.realpath(local_dir).encode()).hexdigest()[:24]
    return os.path.join(cache_home(), "manifests", key + ".json")


def scan(
    local_dir: str,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    *,
    cache_path: str | None = None,
    workers: int | None = None,
    rehash: bool = False,
    hash_missing: bool = True,
    cancel: threading.Event | None = None,
) -> Scan | None:
    """Manifest of ``local_dir``, hashing only files the cache cannot vouch for (see the module doc).

    ``include``/``exclude`` are :mod:`fnmatch` patterns on the ``/``-separated relative path (``*``
    also matches ``/``); :data:`DEFAULT_EXCLUDE` always applies.  Symlinks are followed (Hugging
    Face snapshots link into a blob store).  With ``hash_missing=False`` nothing is hashed and the
    result is ``None`` when a file would need it (a cheap "is it known?" for ``pulumi preview``).
    """
    stats = _stat_files(local_dir, include, exclude)
    cache_file = cache_path or default_cache_path(local_dir)
    cached = {} if rehash else _load_cache(cache_file)
    hashes: dict[str, str] = {}
    for rel, (_, st) in stats.items():
        hit = cached.get(rel)
        if hit is not None and hit[0] == stat_key(st):
            hashes[rel] = hit[1]
    to_hash = [rel for rel in stats if rel not in hashes]
    if to_hash and not hash_missing:
        return None
    if to_hash:
        log.info("hashing %d new or changed file(s) under %s", len(to_hash), local_dir)
        try:
            _hash_all(stats, to_hash, hashes, workers, cancel)
        finally:  # keep what was hashed, also when interrupted: the next run goes on from there
            fresh = {rel: (stat_key(stats[rel][1]), hashes[rel]) for rel in stats if rel in hashes}
            if fresh != cached:
                _save_cache(cache_file, local_dir, fresh)
    files = {rel: LocalFile(abs_path, stat_key(st), hashes[rel]) for rel, (abs_path, st) in stats.items()}
    manifest = Manifest.of([ManifestEntry(rel, f.size, f.sha256) for rel, f in files.items()])
    return Scan(manifest, files, tuple(sorted(to_hash)))


def _stat_files(local_dir: str, include: Sequence[str] | None, exclude: Sequence[str] | None) -> dict:
    if not os.path.exists(local_dir):
        raise SourceDirectoryError(f"model source directory {local_dir} does not exist")
    if not os.path.isdir(local_dir):
        raise SourceDirectoryError(f"model source {local_dir} is not a directory")
    if all(os.path.isdir(os.path.join(local_dir, d)) for d in ("blobs", "refs", "snapshots")):
        raise SourceDirectoryError(
            f"model source {local_dir} is a Hugging Face cache folder (blobs/, refs/, snapshots/); "
            f"point it at {os.path.join(local_dir, 'snapshots', '<commit>')}"
        )
    excludes = (*DEFAULT_EXCLUDE, *(exclude or ()))
    stats: dict[str, tuple[str, os.stat_result]] = {}
    for rel, abs_path in _walk_files(local_dir):
        if rel == MANIFEST_NAME or not _selected(rel, include, excludes):
            continue
        try:
            st = os.stat(abs_path)
        except OSError as exc:
            raise UnreadableFileError(f"cannot read model file {abs_path}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(f"model file {abs_path} is not a regular file")
        stats[rel] = (abs_path, st)
    if not stats:
        filtered = " matching the include/exclude patterns" if include or exclude else ""
        raise EmptySourceError(f"model source directory {local_dir} contains no files{filtered}")
    return stats


def _hash_all(stats: dict, to_hash: list[str], hashes: dict[str, str], workers: int | None,
              cancel: threading.Event | None) -> None:
    # hashlib releases the GIL on large buffers, so threads hash on several cores; more threads
    # than cores only add contention.
    cpus = os.cpu_count() or 1
    n_workers = max(1, min(workers or cpus, cpus, len(to_hash)))
    with concurrent.futures.ThreadPoolExecutor(n_workers, thread_name_prefix="hash") as pool:
        futures = {pool.submit(sha256_file, stats[rel][0], cancel): rel for rel in to_hash}
        try:
            for future in concurrent.futures.as_completed(futures):
                hashes[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            if cancel is not None:
                cancel.set()
            raise


def sha256_file(path: str, cancel: threading.Event | None = None) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    try:
        with open(path, "rb") as f:
            while n := f.readinto(buffer):
                digest.update(view[:n])
                if cancel is not None and cancel.is_set():
                    raise Interrupted(f"interrupted while hashing {path}")
    except OSError as exc:
        raise UnreadableFileError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _walk_files(root: str) -> Iterator[tuple[str, str]]:
    """``(relative posix path, path)`` of every non-directory below ``root``; directory symlinks
    are followed, except into one of their own ancestors (a cycle)."""
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
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_dir(follow_symlinks=True):
                st = entry.stat(follow_symlinks=True)
                ident = (st.st_dev, st.st_ino)
                if ident in ancestors:
                    log.warning("skipping %s: symlink loop", entry.path)
                    continue
                stack.append((rel, entry.path, ancestors | {ident}))
            else:
                yield rel, entry.path


def _selected(rel: str, include: Sequence[str] | None, exclude: Sequence[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(rel, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(rel, pattern) for pattern in exclude)


_CacheEntries = dict[str, tuple[tuple[int, int, int, int, int], str]]


def _load_cache(cache_file: str) -> _CacheEntries:
    try:
        with open(cache_file, "rb") as f:
            document = json.load(f)
        if document.get("version") != _CACHE_VERSION:
            return {}
        entries: _CacheEntries = {}
        for rel, value in document["files"].items():
            *key, sha = value
            if len(key) != 5 or not _SHA256.fullmatch(str(sha)):
                raise ValueError(f"bad entry for {rel}")
            entries[rel] = (tuple(int(v) for v in key), str(sha))  # type: ignore[misc]
        return entries
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring unusable hash cache %s: %s", cache_file, exc)
        return {}


def _save_cache(cache_file: str, local_dir: str, entries: _CacheEntries) -> None:
    """Write the cache atomically.  It is only an optimisation: failing to write it (a read-only
    home in a container) costs a re-hash next time, so it is a warning, not an error."""
    document = {
        "version": _CACHE_VERSION,
        "source": os.path.realpath(local_dir),
        "files": {rel: [*key, sha] for rel, (key, sha) in sorted(entries.items())},
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
        log.warning("cannot write hash cache %s (%s); files will be hashed again next run", cache_file, exc)
