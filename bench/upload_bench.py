"""Benchmark of the model uploader against an S3-compatible server on loopback (run by hand).

    .venv/bin/python bench/upload_bench.py [--files 4] [--file-mib 512] [--sparse-gib 5] [--rounds 2]

Needs ``moto[server]`` and ``awscli`` (dev requirements).  Everything stays on 127.0.0.1: each
measured run gets its own moto server on a free port, and all data lives in one temporary
directory removed at the end.  About 2.5 minutes and 2 GiB of disk with the defaults.

1. Throughput.  A synthetic model (``--files`` x ``--file-mib``, 2 GiB by default) is uploaded by
   this uploader's CLI and by ``aws s3 cp --recursive``, each as a child process into a fresh
   server, alternating for ``--rounds`` rounds; the ratio of the median times is printed.  The
   uploader is timed cold (empty hash cache: it hashes every file first, as on a first run) and
   warm (upload only -- the like-for-like comparison, since ``aws s3 cp`` hashes nothing).  The
   client and moto share the machine's cores, so absolute MiB/s say more about moto than about
   either client.  Peak RSS of each child shows that memory does not grow with file size.
2. No-op re-run.  ``--files`` sparse files of ``--sparse-gib`` each (20 GiB by default) stand for a
   large model that is already in the bucket.  Uploading 20 GiB into moto would take minutes, so the
   "already uploaded" state is built honestly but cheaply: the local manifest is computed once
   (hashing the sparse files, which reads zeros) and written to the bucket with the store, exactly
   as a finished sync leaves it.  A no-op sync decides from that manifest and never looks at the
   objects' bytes, so the absent objects do not change what is measured: the stat-only cache check,
   one GET of the manifest and one LIST for stale keys.  The script checks that no file was hashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import boto3  # noqa: E402

from components.model import sync  # noqa: E402

MiB = 1024 * 1024
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(workdir: str) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1; objects above its buffer size spill into ``workdir``."""
    port = free_port()
    env = dict(os.environ, TMPDIR=workdir)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def make_model(directory: str, files: int, file_mib: int) -> int:
    """Random-looking files written from one random block, varied per chunk so no two chunks or
    files are equal.  Returns the total size."""
    os.makedirs(directory)
    block = bytearray(os.urandom(16 * MiB))
    for index in range(files):
        with open(os.path.join(directory, f"model-{index + 1:05d}-of-{files:05d}.safetensors"), "wb") as f:
            for chunk in range(file_mib // 16):
                block[:16] = f"{index:08d}{chunk:08d}".encode()
                f.write(block)
    return files * (file_mib // 16) * 16 * MiB


def timed_child(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a child process; return its wall time, its peak RSS in MiB and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=out, stderr=err)
        # wait4 reports the child's own peak RSS (ru_maxrss, KiB on Linux).
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({process.returncode}):\n{err.read().decode()[-3000:]}")
        return elapsed, usage.ru_maxrss // 1024, out.read().decode()


def aws_cli() -> list[str]:
    venv_aws = os.path.join(os.path.dirname(sys.executable), "aws")
    return [venv_aws] if os.path.exists(venv_aws) else [sys.executable, "-m", "awscli"]


def create_bucket(url: str, name: str) -> Any:
    client = boto3.client("s3", region_name=REGION, endpoint_url=url)
    client.create_bucket(Bucket=name)
    return client


def bucket_bytes(client: Any, bucket: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(item["Size"] for item in page.get("Contents", ()) if not item["Key"].endswith(".json"))
    return total


def throughput(workdir: str, env: dict[str, str], files: int, file_mib: int, rounds: int) -> None:
    model_dir = os.path.join(workdir, "model")
    start = time.perf_counter()
    total = make_model(model_dir, files, file_mib)
    print(f"synthetic model: {files} x {file_mib} MiB = {total / MiB:.0f} MiB ({time.perf_counter() - start:.1f} s)")
    cache = os.path.join(workdir, "throughput-cache.json")

    def ours(url: str) -> list[str]:
        return [sys.executable, "-m", "components.model.sync", model_dir, "s3://bench-model/m", "--endpoint", url,
                "--region", REGION, "--cache-path", cache]  # fmt: skip

    def aws(url: str) -> list[str]:
        return [*aws_cli(), "s3", "cp", "--recursive", "--only-show-errors", model_dir, "s3://bench-model/m",
                "--endpoint-url", url]  # fmt: skip

    cold, warm, cli = (
        "uploader, cold cache (hash + upload)",
        "uploader, warm cache (upload only)",
        "aws s3 cp --recursive",
    )
    # Each round runs the three contenders in turn (the cold run empties the hash cache and so
    # fills it for the warm one), so that drift of the machine affects them alike.  Every run gets
    # a fresh server and bucket.
    plan = [(cold, ours), (cli, aws), (warm, ours)] * rounds
    times: dict[str, list[float]] = {}
    for label, make_argv in plan:
        if label == cold and os.path.exists(cache):
            os.remove(cache)
        with moto_server(workdir) as url:
            client = create_bucket(url, "bench-model")
            elapsed, rss_mib, _ = timed_child(make_argv(url), env)
            assert bucket_bytes(client, "bench-model") == total, f"{label}: bucket does not hold the model"
        times.setdefault(label, []).append(elapsed)
        print(f"  {label:38s} {elapsed:6.1f} s  {total / MiB / elapsed:6.1f} MiB/s  peak RSS {rss_mib:3d} MiB")
    median = {label: statistics.median(values) for label, values in times.items()}
    print(
        f"  ratio of medians vs aws s3 cp (>1 = faster): upload only {median[cli] / median[warm]:.2f}x "
        f"({total / MiB / median[warm]:.0f} vs {total / MiB / median[cli]:.0f} MiB/s), "
        f"first run incl. hashing {median[cli] / median[cold]:.2f}x"
    )
    shutil.rmtree(model_dir)


def noop_rerun(workdir: str, env: dict[str, str], files: int, sparse_gib: int) -> None:
    model_dir = os.path.join(workdir, "sparse-model")
    os.makedirs(model_dir)
    for index in range(files):
        with open(os.path.join(model_dir, f"model-{index + 1:05d}-of-{files:05d}.safetensors"), "wb") as f:
            f.truncate(sparse_gib * 1024 * MiB)
    cache = os.path.join(workdir, "noop-cache.json")
    print(f"sparse model: {files} x {sparse_gib} GiB = {files * sparse_gib} GiB (no disk blocks)")

    start = time.perf_counter()
    manifest = sync.local_manifest(model_dir, cache_path=cache)
    print(f"  priming: local manifest hashed once in {time.perf_counter() - start:.1f} s, written to the bucket")
    with moto_server(workdir) as url:
        create_bucket(url, "bench-noop")
        store, prefix = sync.store_for_url("s3://bench-noop/m", region=REGION, endpoint=url)
        with store:
            store.put_bytes(f"{prefix}/{sync.MANIFEST_NAME}", manifest.to_json_bytes(), "application/json")
            timings, hashed = _timed_noops(store, model_dir, prefix, cache, manifest.digest)
        cli = [sys.executable, "-m", "components.model.sync", model_dir, "s3://bench-noop/m"]
        elapsed, _, out = timed_child([*cli, "--endpoint", url, "--region", REGION, "--cache-path", cache], env)
    assert hashed == 0, "a no-op run hashed files"
    assert json.loads(out)["uploaded"] == 0
    print(
        f"  no-op sync_directory(), in process: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms over {len(timings)} runs; 0 files hashed, 0 uploaded"
    )
    print(f"  no-op CLI run, whole process incl. interpreter start and imports: {elapsed * 1000:.0f} ms")
    verdict = "PASS" if max(timings) < 1.0 else "FAIL"
    print(f"  {verdict}: no-op re-run of a {files * sparse_gib} GiB model under 1 s")


def _timed_noops(store: Any, model_dir: str, prefix: str, cache: str, digest: str) -> tuple[list[float], int]:
    """Time five no-op syncs, counting the files they hash (which must be none)."""
    hashed: list[str] = []
    real_hash = sync._sha256_file

    def counting_hash(path: str) -> str:
        hashed.append(path)
        return real_hash(path)

    sync._sha256_file = counting_hash
    try:
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            result = sync.sync_directory(store, model_dir, prefix, cache_path=cache)
            timings.append(time.perf_counter() - start)
            assert result.uploaded == [] and result.manifest_digest == digest
    finally:
        sync._sha256_file = real_hash
    return timings, len(hashed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--file-mib", type=int, default=512, help="size of each throughput file (multiple of 16)")
    parser.add_argument("--sparse-gib", type=int, default=5, help="size of each sparse no-op file")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each contender")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="kserve-fluid-upload-bench-")
    # Dummy credentials for the local server only; nothing leaves 127.0.0.1.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    env.update(XDG_CACHE_HOME=os.path.join(workdir, "xdg-cache"))
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        print(f"loopback moto S3 servers; work dir {workdir}; {os.cpu_count()} CPUs shared by client and server")
        throughput(workdir, env, args.files, args.file_mib, args.rounds)
        noop_rerun(workdir, env, args.files, args.sparse_gib)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved_env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
