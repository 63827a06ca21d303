"""Command line of the model tools: ``python -m components.model {upload,digest,verify,prune} ...``.

Exit codes: 0 done, 1 a failure that may pass on a new run (network, a file changed under us),
2 a configuration problem (one line naming the flag, value and what is allowed), 130 interrupted.
Ctrl-C (or SIGTERM) once: no new request starts, the ones in flight finish, and the next run of
the same command resumes.  Twice: exit at once (the next run resumes all the same).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence

from components.model.errors import InvalidArgumentError, ModelSyncError
from components.model.manifest import scan
from components.model.stores import store_for_url
from components.model.sync import prune, upload_version, verify_version
from components.model.transfer import DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, MiB

MAX_CONCURRENCY = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, as for every other configuration error
        self.exit(2, f"error: {message}\n")


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="bucket region (OSS: required unless --endpoint names it)")
    parser.add_argument("--endpoint", help="endpoint host or https:// URL (S3-compatible store, OSS endpoint)")
    parser.add_argument("--allow-http", action="store_true", help="allow an http:// endpoint (local test servers)")


def _select_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include", action="append", metavar="GLOB", help="take only matching paths (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="GLOB", help="skip matching paths (repeatable)")
    parser.add_argument("--rehash", action="store_true", help="hash every file, ignoring the local hash cache")
    parser.add_argument("--cache-path", help="hash cache file (default under ~/.cache/kserve-fluid/manifests)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m components.model",
                     description="Model versions in a bucket: upload a directory, print its digest, verify, prune.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    upload = commands.add_parser("upload", help="upload a directory as <root>/<digest>/ (resumable)")
    upload.add_argument("local_dir", help="model directory")
    upload.add_argument("root", help="model root: s3://bucket/prefix/model or oss://bucket/prefix/model")
    upload.add_argument("--digest", help="refuse unless the directory's digest is this one (64 hex)")
    upload.add_argument("--version", help=argparse.SUPPRESS)  # the ingest names the version by the commit
    upload.add_argument("--verify", action="store_true", help="HEAD every object; re-upload missing or wrong ones")
    upload.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="requests in flight")
    upload.add_argument("--part-size-mib", type=int, default=DEFAULT_PART_SIZE // MiB, help="multipart part size")
    _store_flags(upload)
    _select_flags(upload)

    digest = commands.add_parser("digest", help="print the digest of a directory (to pin as release.model.digest)")
    digest.add_argument("local_dir")
    _select_flags(digest)

    verify = commands.add_parser("verify", help="check a finished version: every object present, size and sha256")
    verify.add_argument("url", help="version URL: <root>/<version>")
    _store_flags(verify)

    prune_ = commands.add_parser("prune", help="delete old finished versions under a model root")
    prune_.add_argument("root")
    prune_.add_argument("--keep", type=int, required=True, help="keep this many newest versions (at least 1)")
    prune_.add_argument("--in-use", action="append", default=[], metavar="VERSION", help="never delete (repeatable)")
    prune_.add_argument("--yes", action="store_true", help="really delete (without it: print what would go)")
    _store_flags(prune_)
    return parser


def _check_ranges(args: argparse.Namespace) -> None:
    if args.command != "upload":
        return
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise InvalidArgumentError(f"--concurrency {args.concurrency}: must be between 1 and {MAX_CONCURRENCY}")
    if not MIN_PART_SIZE // MiB <= args.part_size_mib <= MAX_PART_SIZE // MiB:
        raise InvalidArgumentError(f"--part-size-mib {args.part_size_mib}: must be between {MIN_PART_SIZE // MiB} "
                                   f"and {MAX_PART_SIZE // MiB} (S3 and OSS part limits)")


def install_stop_handlers(cancel: threading.Event) -> None:
    """First Ctrl-C/SIGTERM sets ``cancel``; a second one exits at once (state stays resumable)."""
    def stop(signum, _frame):
        if cancel.is_set():
            os._exit(130)
        cancel.set()
        print("stopping after the requests in flight (again to quit at once); the next run resumes",
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse's own errors (already printed as one line) and --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        install_stop_handlers(cancel)
    try:
        _check_ranges(args)
        return _run(args, cancel)
    except ModelSyncError as exc:
        message = str(exc)
        if exc.exit_code == 130:
            again = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
            message += f"; run the same command again to resume: python -m components.model {again}"
        print(f"error: {message}", file=sys.stderr)
        return exc.exit_code


def _run(args: argparse.Namespace, cancel: threading.Event) -> int:
    if args.command == "digest":
        found = scan(args.local_dir, args.include, args.exclude, cache_path=args.cache_path, rehash=args.rehash,
                     cancel=cancel)
        print(found.manifest.digest)
        return 0
    url = args.url if args.command == "verify" else args.root
    store, prefix = store_for_url(url, region=args.region, endpoint=args.endpoint, allow_http=args.allow_http,
                                  concurrency=getattr(args, "concurrency", DEFAULT_CONCURRENCY))
    with store:
        if args.command == "verify":
            problems = verify_version(store, prefix)
            for line in problems:
                print(line, file=sys.stderr)
            print(json.dumps({"url": url, "problems": len(problems)}))
            return 1 if problems else 0
        if args.command == "prune":
            result = prune(store, prefix, keep=args.keep, in_use=args.in_use, dry_run=not args.yes)
            print(json.dumps({**dataclasses.asdict(result), "dry_run": not args.yes}, sort_keys=True))
            return 0
        result = upload_version(
            store, args.local_dir, prefix, version=args.version, expected_digest=args.digest, include=args.include,
            exclude=args.exclude, concurrency=args.concurrency, part_size=args.part_size_mib * MiB,
            cache_path=args.cache_path, rehash=args.rehash, verify=args.verify, cancel=cancel)
    summary = dataclasses.asdict(result)
    for name in ("uploaded", "skipped", "removed"):
        summary[name] = len(summary[name])
    print(json.dumps(summary, sort_keys=True))
    return 0
