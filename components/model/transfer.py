"""Upload files in parallel, multipart above a threshold, resuming from the parts the service has.

One engine for S3 and OSS, written against the multipart calls of
:class:`components.model.stores.ObjectStore`:

* **Resume without local state.**  Before a file is uploaded in parts, the incomplete uploads of
  its key are listed (``ListMultipartUploads`` once per run, ``ListParts`` per key).  Each listed
  part is checked against the local bytes of its range -- its CRC32 checksum where the service
  returned one, else its ETag, which is the part's MD5 on OSS and on S3 without KMS -- and only
  the parts that match are kept.  So a run killed at part 44 of 96 sends parts 45..96 (and any
  part that was in flight) and nothing else, from any machine, the ingest Job's fresh pods too.
  Of several incomplete uploads of one key the one with the most matching bytes is resumed and the
  others are aborted; an upload whose file changed under it is aborted too.
* **Bounded everything.**  At most ``concurrency`` data requests are in flight over all files; a
  part is streamed from disk, never held whole in memory.  Part sizes follow s3transfer's rules
  (at least 5 MiB, raised to stay within 10,000 parts, at most 5 GiB), which are OSS's too.
* **Stops when asked.**  Once ``cancel`` is set (the CLI sets it on Ctrl-C or SIGTERM) no new
  request starts; the ones in flight finish, the incomplete uploads are kept for the next run, and
  :class:`~components.model.errors.Interrupted` is raised with what was done.
"""
from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.model.errors import Interrupted, SourceChangedError
from components.model.manifest import stat_key
from components.model.stores import ObjectStore, Part

log = logging.getLogger("kserve_fluid.model")

MiB = 1024 * 1024
DEFAULT_CONCURRENCY = 8
#: Files at or above this size are uploaded in parts (a 5 GiB shard makes 320).  Bigger parts cost
#: more to re-send after an interruption and give less parallelism on few files.
DEFAULT_PART_SIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_VERIFY_CHUNK = 4 * MiB


@dataclasses.dataclass(frozen=True)
class FileUpload:
    """One file to put at ``key``; ``key_stat`` is its stat key when it was hashed."""

    path: str
    key: str
    size: int
    metadata: Mapping[str, str]
    key_stat: tuple[int, ...]


@dataclasses.dataclass
class Stats:
    files: int = 0
    bytes_sent: int = 0
    parts_sent: int = 0
    parts_resumed: int = 0
    bytes_resumed: int = 0
    uploads_aborted: int = 0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def part_size_for(size: int, wanted: int) -> int:
    """``wanted``, raised so that ``size`` fits in 10,000 parts (s3transfer's ChunksizeAdjuster)."""
    from s3transfer.utils import ChunksizeAdjuster

    return ChunksizeAdjuster().adjust_chunksize(wanted, size)


class Uploader:
    """Uploads :class:`FileUpload` s to one store; use once per run (it owns two thread pools)."""

    def __init__(self, store: ObjectStore, *, concurrency: int = DEFAULT_CONCURRENCY,
                 part_size: int = DEFAULT_PART_SIZE, cancel: threading.Event | None = None) -> None:
        self.store = store
        self.part_size = part_size
        self.cancel = cancel or threading.Event()
        self.stats = Stats()
        self._concurrency = concurrency
        self._incomplete: dict[str, list[str]] = {}

    def run(self, uploads: Sequence[FileUpload], incomplete_under: str) -> Stats:
        """Upload everything (largest first), resuming what ``incomplete_under`` holds for these keys."""
        wanted = {u.key for u in uploads if u.size >= self.part_size}
        if wanted:
            for upload in self.store.list_uploads(incomplete_under):
                self._incomplete.setdefault(upload.key, []).append(upload.upload_id)
            for key in sorted(set(self._incomplete) - wanted):  # a file that is now small, or no longer uploaded
                for upload_id in self._incomplete.pop(key):
                    self._abort(key, upload_id)
        ordered = sorted(uploads, key=lambda u: u.size, reverse=True)
        with concurrent.futures.ThreadPoolExecutor(self._concurrency, thread_name_prefix="part") as parts, \
                concurrent.futures.ThreadPoolExecutor(self._concurrency, thread_name_prefix="file") as files:
            self._parts = parts
            run_all([lambda u=u: self._one(u) for u in ordered], files, self.cancel)
        return self.stats

    # ----------------------------------------------------------------------------- one file

    def _one(self, upload: FileUpload) -> None:
        if upload.size < self.part_size:
            run_all([lambda: self._guarded(lambda: self.store.put_file(upload.path, upload.key, upload.metadata))],
                    self._parts, self.cancel)
            if self._changed(upload):
                self.store.delete([upload.key])
                raise SourceChangedError(f"model file {upload.path} changed while it was uploaded; run again")
            self.stats.add(files=1, bytes_sent=upload.size, parts_sent=1)
            return
        upload_id, part_size, kept = self._resume(upload)
        if upload_id is None:
            part_size = part_size_for(upload.size, self.part_size)
            upload_id = self.store.create_upload(upload.key, upload.metadata)
        count = -(-upload.size // part_size)
        done: dict[int, Part] = {p.number: p for p in kept}
        todo = [n for n in range(1, count + 1) if n not in done]
        log.info("uploading %s: %d of %d part(s) of %d MiB (%d already there)", upload.key, len(todo), count,
                 part_size // MiB, len(done))

        def send(number: int) -> None:
            offset = (number - 1) * part_size
            size = min(part_size, upload.size - offset)
            done[number] = self.store.upload_part(upload.key, upload_id, number, upload.path, offset, size)
            self.stats.add(parts_sent=1, bytes_sent=size)

        run_all([lambda n=n: self._guarded(lambda: send(n)) for n in todo], self._parts, self.cancel)
        if self._changed(upload):
            self._abort(upload.key, upload_id)
            raise SourceChangedError(f"model file {upload.path} changed while it was uploaded; run again")
        self.store.complete_upload(upload.key, upload_id, list(done.values()))
        self.stats.add(files=1)

    def _guarded(self, request: Callable[[], Any]) -> Any:
        if self.cancel.is_set():
            raise Interrupted("interrupted")
        return request()

    def _changed(self, upload: FileUpload) -> bool:
        try:
            return stat_key(os.stat(upload.path)) != tuple(upload.key_stat)
        except OSError:
            return True

    # ------------------------------------------------------------------------------- resume

    def _resume(self, upload: FileUpload) -> tuple[str | None, int, list[Part]]:
        """The incomplete upload of this key with the most parts matching the local file (the
        others are aborted), its part size and those parts; ``None`` if there is none."""
        best: tuple[int, str, int, list[Part]] | None = None
        for upload_id in self._incomplete.pop(upload.key, []):
            parts = self.store.list_parts(upload.key, upload_id)
            part_size, kept = _matching_parts(upload.path, upload.size, parts, self.cancel)
            if part_size is None:
                self._abort(upload.key, upload_id)
                continue
            score = sum(p.size for p in kept)
            if best is not None and best[0] >= score:
                self._abort(upload.key, upload_id)
                continue
            if best is not None:
                self._abort(upload.key, best[1])
            best = (score, upload_id, part_size, kept)
        if best is None:
            return None, 0, []
        self.stats.add(parts_resumed=len(best[3]), bytes_resumed=best[0])
        return best[1], best[2], best[3]

    def _abort(self, key: str, upload_id: str) -> None:
        self.store.abort_upload(key, upload_id)
        self.stats.add(uploads_aborted=1)


def _matching_parts(path: str, size: int, parts: Sequence[Part],
                    cancel: threading.Event) -> tuple[int | None, list[Part]]:
    """The part size an incomplete upload used (``None`` if unusable) and its parts that hold
    exactly the bytes of their range of the local file."""
    by_number = {p.number: p for p in parts}
    if not parts:
        return None, []
    first = by_number.get(1)
    part_size = first.size if first is not None and first.size < size else max(p.size for p in parts)
    if part_size < MIN_PART_SIZE and part_size < size or part_size > MAX_PART_SIZE \
            or -(-size // part_size) > MAX_PARTS:
        return None, []
    count = -(-size // part_size)
    kept = []
    for number, part in sorted(by_number.items()):
        offset = (number - 1) * part_size
        if number > count or part.size != min(part_size, size - offset):
            continue
        if cancel.is_set():
            raise Interrupted("interrupted")
        if _range_matches(path, offset, part):
            kept.append(part)
    return part_size, kept


def _range_matches(path: str, offset: int, part: Part) -> bool:
    if part.crc32:
        expected = part.crc32
        crc = 0
        for chunk in _read_range(path, offset, part.size):
            crc = zlib.crc32(chunk, crc)
        return base64.b64encode(crc.to_bytes(4, "big")).decode() == expected
    if _MD5.fullmatch(part.etag):
        md5 = hashlib.md5(usedforsecurity=False)
        for chunk in _read_range(path, offset, part.size):
            md5.update(chunk)
        return md5.hexdigest() == part.etag.lower()
    return False  # neither a checksum nor an MD5 ETag (an S3 SSE-KMS part uploaded without checksum)


def _read_range(path: str, offset: int, size: int):
    with open(path, "rb") as f:
        f.seek(offset)
        while size > 0:
            chunk = f.read(min(_VERIFY_CHUNK, size))
            if not chunk:
                return
            size -= len(chunk)
            yield chunk


def run_all(tasks: Sequence[Callable[[], Any]], pool: concurrent.futures.Executor,
            cancel: threading.Event) -> None:
    """Run ``tasks`` on ``pool`` and wait for all of them.  On the first failure, or a
    KeyboardInterrupt while waiting, ``cancel`` is set so nothing new starts, the tasks in flight
    are waited for, and the first real error (else :class:`Interrupted`) is raised."""
    futures = [pool.submit(task) for task in tasks]
    try:
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    except BaseException:
        cancel.set()
        raise
    finally:
        failed = any(f.done() and not f.cancelled() and f.exception() is not None for f in futures)
        if failed or cancel.is_set():
            cancel.set()
            for future in futures:
                future.cancel()
        concurrent.futures.wait(futures)
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    real = [e for e in errors if not isinstance(e, Interrupted)]
    if real:
        raise real[0]
    if errors:
        raise errors[0]
    if any(f.cancelled() for f in futures):
        raise Interrupted("interrupted")
