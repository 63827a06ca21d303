"""The in-cluster ingest Job: one Hugging Face commit into ``<MODEL_ROOT>/<commit>/``.

Run as ``python -m components.model.ingest`` in the ingest image (components/model/Dockerfile),
configured by environment variables so the Job spec shows everything:

=================  =====================================================================
``HF_REPO``        ``org/name``
``HF_REVISION``    the commit (40 hex) Pulumi resolved; a branch or tag is resolved here
``MODEL_ROOT``     ``s3://bucket/prefix/model`` or ``oss://bucket/prefix/model``
``INCLUDE``        JSON list of glob patterns (default: every file)
``EXCLUDE``        JSON list of glob patterns
``REGION``         bucket region; ``ENDPOINT``: https endpoint (OSS: the -internal one)
``CONCURRENCY``    downloads and upload requests in flight (default 8)
``WORK_DIR``       scratch directory for the download (an emptyDir)
``HF_TOKEN``       optional; ``HF_ENDPOINT``: optional Hub mirror (huggingface_hub reads it)
=================  =====================================================================

Order, so that a doomed run fails in seconds with one line and exit code 2 (the Job's
``podFailurePolicy`` then fails at once instead of retrying): configuration, crcmod's C extension
(OSS), the commit, access to the files (gated/private), the bucket (readable, writable), and only
then the download.  A version that is already finished with the same file set ends the run at
once (a re-created Job, a retry after the upload), so a retry never downloads for nothing.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping

from components.model import hf
from components.model.cli import install_stop_handlers
from components.model.errors import InvalidArgumentError, ModelSyncError, VersionConflictError
from components.model.manifest import DEFAULT_EXCLUDE
from components.model.stores import parse_store_url, store_for_url
from components.model.sync import check_writable, read_manifest, upload_version, version_prefix

log = logging.getLogger("kserve_fluid.ingest")


@dataclasses.dataclass(frozen=True)
class Settings:
    repo: str
    revision: str
    root: str
    include: list[str] | None
    exclude: list[str] | None
    region: str | None
    endpoint: str | None
    concurrency: int
    work_dir: str
    token: str | None
    hf_endpoint: str | None


def settings_from(env: Mapping[str, str]) -> Settings:
    """Read and check the environment; one line per problem, naming the variable."""
    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise InvalidArgumentError(f"{name} is not set")
        return value

    def patterns(name: str) -> list[str] | None:
        try:
            value = json.loads(env.get(name) or "[]")
        except ValueError as exc:
            raise InvalidArgumentError(f"{name}={env[name]!r}: not JSON ({exc})") from exc
        if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
            raise InvalidArgumentError(f"{name}={env[name]!r}: must be a JSON list of glob strings")
        return value or None

    repo = required("HF_REPO")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise InvalidArgumentError(f"HF_REPO={repo!r}: must be <org>/<name>")
    root = required("MODEL_ROOT")
    parse_store_url(root)
    concurrency = env.get("CONCURRENCY", "8")
    if not concurrency.isdigit() or not 1 <= int(concurrency) <= 64:
        raise InvalidArgumentError(f"CONCURRENCY={concurrency!r}: must be an integer between 1 and 64")
    return Settings(repo=repo, revision=required("HF_REVISION"), root=root, include=patterns("INCLUDE"),
                    exclude=patterns("EXCLUDE"), region=env.get("REGION") or None,
                    endpoint=env.get("ENDPOINT") or None, concurrency=int(concurrency),
                    work_dir=env.get("WORK_DIR") or "/work/model", token=env.get("HF_TOKEN") or None,
                    hf_endpoint=env.get("HF_ENDPOINT") or None)


def require_crc_extension() -> None:
    """oss2 checks a CRC-64 of every request; without crcmod's C extension that runs at ~2 MiB/s."""
    try:
        import crcmod._crcfunext  # noqa: F401
    except ImportError as exc:
        raise InvalidArgumentError("crcmod's C extension (crcmod._crcfunext) does not import, so OSS uploads "
                                   "would crawl; run the pinned ingest image (components/model/Dockerfile)") from exc


def run(cfg: Settings, cancel: threading.Event | None = None) -> int:
    scheme, _, _ = parse_store_url(cfg.root)
    if scheme == "oss":
        require_crc_extension()
    commit = hf.resolve_commit(cfg.repo, cfg.revision, token=cfg.token, endpoint=cfg.hf_endpoint)
    print(f"ingest: hf://{cfg.repo}@{cfg.revision} is commit {commit}", flush=True)
    hf.check_access(cfg.repo, token=cfg.token, endpoint=cfg.hf_endpoint)
    store, root = store_for_url(cfg.root, region=cfg.region, endpoint=cfg.endpoint, concurrency=cfg.concurrency)
    prefix = version_prefix(root, commit)
    with store:
        finished = read_manifest(store, prefix)
        if finished is not None:
            return _already_there(cfg, commit, store.url(prefix), finished[1])
        check_writable(store, prefix)
        _download(cfg, commit)
        result = upload_version(store, cfg.work_dir, root, version=commit, concurrency=cfg.concurrency,
                                cancel=cancel)
    print(json.dumps({"url": result.url, "manifest_digest": result.manifest_digest, "files": result.file_count,
                      "bytes": result.total_bytes, "uploaded": len(result.uploaded),
                      "parts_resumed": result.parts_resumed}, sort_keys=True), flush=True)
    return 0


def _already_there(cfg: Settings, commit: str, url: str, manifest) -> int:
    expected = hf.repo_files(cfg.repo, commit, cfg.include, cfg.exclude, token=cfg.token, endpoint=cfg.hf_endpoint)
    expected = {p: s for p, s in expected.items() if hf.selected(p, None, DEFAULT_EXCLUDE)}
    have = {e.path: e.size for e in manifest.entries}
    if have != expected:
        differ = sorted(p for p in set(have) | set(expected) if have.get(p) != expected.get(p))
        raise VersionConflictError(
            f"finished version {url} holds another file set than INCLUDE/EXCLUDE select now ({len(differ)} path(s) "
            f"differ, first {differ[0]!r}); versions are never rewritten: revert the patterns, or prune that version")
    print(f"ingest: {url} is already finished with these files (digest {manifest.digest}); nothing to do", flush=True)
    return 0


def _download(cfg: Settings, commit: str) -> None:
    from huggingface_hub import snapshot_download

    with hf.hub_errors(cfg.repo, commit, cfg.token):
        snapshot_download(cfg.repo, revision=commit, allow_patterns=cfg.include, ignore_patterns=cfg.exclude,
                          local_dir=cfg.work_dir, token=cfg.token or False, max_workers=cfg.concurrency,
                          endpoint=cfg.hf_endpoint)


def main(env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpx2", "botocore.credentials"):  # a line per request, or per credentials lookup
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(cancel)  # the kubelet sends SIGTERM before it kills a pod
    try:
        return run(settings_from(os.environ if env is None else env), cancel)
    except ModelSyncError as exc:
        print(f"ingest: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
