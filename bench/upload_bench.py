"""Benchmark of the model uploader against moto's S3 server on loopback (run by hand, never in CI).

    .venv/bin/python bench/upload_bench.py [--files 4] [--file-mib 256] [--rounds 5]
        [--resume-mib 1536] [--sparse-gib 5] [--skip throughput,resume,noop]

Everything stays on 127.0.0.1 and in one temporary directory, removed at the end.

1. **Throughput, like with like.**  Four contenders upload the same ``--files`` x ``--file-mib``
   directory, each as a child process into its own fresh moto server:

   * ``ours-cold``: ``python -m components.model upload`` with an empty hash cache (hash, then
     upload: what a first run does), 16 MiB parts x 8 requests -- its defaults;
   * ``ours-warm``: the same with the hash cache primed (upload only);
   * ``aws-matched``: ``aws s3 cp --recursive`` configured to 16 MiB parts x 8 requests;
   * ``aws-default``: ``aws s3 cp --recursive`` at its defaults (8 MiB x 10).

   Every round runs all four, in an order rotated by one each round, after re-reading the files so
   the page cache is warm for all.  Reported: median wall time, client CPU (``wait4``) and server
   CPU (``/proc/<pid>/stat``) per contender, and the *paired* per-round ratios aws/ours (>1 means
   ours is faster), median and min.  On loopback, moto and both clients share the same cores and
   everything is CPU-bound (botocore SHA-256-signs every body over http), so the ratios are the
   result; the absolute MiB/s describe moto, not S3.
2. **Resume after SIGKILL.**  One ``--resume-mib`` file in 16 MiB parts; the uploader is killed
   with SIGKILL once the server holds 44/96 of its parts; the same command runs again.  Printed:
   parts the server held, parts the re-run sent, incomplete uploads left.  Then the same with
   SIGINT: seconds from the signal to the exit, and what the re-run sent.
3. **No-op re-run** on ``--files`` sparse files of ``--sparse-gib``: the hash cache is primed,
   then ``upload_version`` runs in-process against a store whose version is finished (answers
   kept in memory: 20 GiB into moto would take many minutes), and, separately, the two requests a
   no-op makes (GET manifest, LIST) are timed against a moto server.  The whole CLI process is
   timed too (Python start-up and imports included).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import boto3  # noqa: E402

from components.model import stores  # noqa: E402
from components.model.manifest import MANIFEST_NAME, scan  # noqa: E402
from components.model.sync import upload_version  # noqa: E402

MiB = 1024 * 1024
REGION = "us-east-1"
BUCKET = "bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def moto_server(workdir: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A moto S3 server on 127.0.0.1 with the bench bucket; large objects spill into ``workdir``."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env=dict(os.environ, TMPDIR=workdir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        s3(url).create_bucket(Bucket=BUCKET)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def s3(url: str):
    return boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="bench",
                        aws_secret_access_key="bench")


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    start = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd[:5])} exited with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, out.decode()


def ours_cmd(src: str, url: str, target: str, part_mib: int = 16, concurrency: int = 8) -> list[str]:
    return [sys.executable, "-m", "components.model", "upload", src, target, "--endpoint", url, "--allow-http",
            "--region", REGION, "--part-size-mib", str(part_mib), "--concurrency", str(concurrency)]


def aws_cmd(src: str, url: str, target: str) -> list[str]:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    return [aws, "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", url, src, target]


def read_all(directory: str) -> None:
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as f:
            while f.read(16 * MiB):
                pass


def throughput(work: str, files: int, file_mib: int, rounds: int) -> dict:
    src = os.path.join(work, "model")
    os.makedirs(src)
    for i in range(files):
        with open(os.path.join(src, f"model-{i:05d}.safetensors"), "wb") as f:
            for _ in range(file_mib):
                f.write(os.urandom(MiB))
    warm_cache, matched_cfg = os.path.join(work, "warm-cache"), os.path.join(work, "aws-matched.cfg")
    with open(matched_cfg, "w") as f:
        f.write("[default]\ns3 =\n  multipart_threshold = 16MB\n  multipart_chunksize = 16MB\n"
                "  max_concurrent_requests = 8\n")
    base = {**os.environ, **CREDENTIALS, "AWS_CONFIG_FILE": os.path.join(work, "none.cfg")}
    subprocess.run([sys.executable, "-m", "components.model", "digest", src], cwd=REPO_ROOT, check=True,
                   env={**base, "XDG_CACHE_HOME": warm_cache}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    contenders = {
        "ours-cold": lambda url, n: (ours_cmd(src, url, f"s3://{BUCKET}/m"),
                                     {**base, "XDG_CACHE_HOME": os.path.join(work, f"cold-{n}")}),
        "ours-warm": lambda url, n: (ours_cmd(src, url, f"s3://{BUCKET}/m"), {**base, "XDG_CACHE_HOME": warm_cache}),
        "aws-matched": lambda url, n: (aws_cmd(src, url, f"s3://{BUCKET}/m"), {**base, "AWS_CONFIG_FILE": matched_cfg}),
        "aws-default": lambda url, n: (aws_cmd(src, url, f"s3://{BUCKET}/m"), base),
    }
    names = list(contenders)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            read_all(src)
            with moto_server(work) as (url, server):
                cmd, env = contenders[name](url, f"{r}")
                wall, client_cpu, _ = run_child(cmd, env)
                results[name].append((wall, client_cpu, cpu_seconds(server.pid)))
        load = os.getloadavg()[0]
        print(f"  round {r + 1}/{rounds} (load {load:.1f}): " + ", ".join(
            f"{n} {results[n][-1][0]:.1f}s" for n in names), flush=True)
    total_mib = files * file_mib
    summary = {name: {"median_s": statistics.median(w for w, _, _ in runs),
                      "client_cpu_s": statistics.median(c for _, c, _ in runs),
                      "server_cpu_s": statistics.median(s for _, _, s in runs),
                      "MiB_per_s": total_mib / statistics.median(w for w, _, _ in runs)} for name, runs in results.items()}

    def paired(aws: str, ours: str) -> dict:
        ratios = [a[0] / o[0] for a, o in zip(results[aws], results[ours], strict=True)]
        return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}

    summary["ratios (aws time / ours time)"] = {
        "upload, matched (aws-matched / ours-warm)": paired("aws-matched", "ours-warm"),
        "first run, matched (aws-matched / ours-cold)": paired("aws-matched", "ours-cold"),
        "first run, each at its defaults (aws-default / ours-cold)": paired("aws-default", "ours-cold"),
        "upload, each at its defaults (aws-default / ours-warm)": paired("aws-default", "ours-warm"),
    }
    return summary


def _wait_for_parts(client, key: str, wanted: int, process: subprocess.Popen) -> int:
    while process.poll() is None:
        uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        for upload in uploads:
            if upload["Key"].endswith(key):
                parts = client.list_parts(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", [])
                if len(parts) >= wanted:
                    return len(parts)
        time.sleep(0.05)
    raise RuntimeError("the upload finished before it could be interrupted; use a larger --resume-mib")


def resume(work: str, size_mib: int) -> dict:
    src = os.path.join(work, "resume")
    os.makedirs(src)
    with open(os.path.join(src, "shard.safetensors"), "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(MiB))
    total = -(-size_mib // 16)
    kill_at = max(1, total * 44 // 96)
    env = {**os.environ, **CREDENTIALS, "XDG_CACHE_HOME": os.path.join(work, "resume-cache")}
    out = {}
    for how, sig in (("SIGKILL", signal.SIGKILL), ("SIGINT", signal.SIGINT)):
        with moto_server(work) as (url, _server):
            client = s3(url)
            cmd = ours_cmd(src, url, f"s3://{BUCKET}/m")
            process = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            _wait_for_parts(client, "shard.safetensors", kill_at, process)
            sent_at = time.perf_counter()
            process.send_signal(sig)
            code = process.wait()
            stop_s = time.perf_counter() - sent_at
            time.sleep(1)  # let moto finish the requests whose bodies it had fully received
            uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
            held = sum(len(client.list_parts(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
                       for u in uploads)
            _, _, stdout = run_child(cmd, env)
            rerun = json.loads(stdout)
            left = len(client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))
        out[how] = {"parts": total, "signal_at_parts": kill_at, "exit_code": code, "seconds_to_exit": round(stop_s, 2),
                    "parts_held_by_server": held, "rerun_parts_resumed": rerun["parts_resumed"],
                    "rerun_parts_sent": rerun["parts_sent"], "incomplete_uploads_after": left}
        print(f"  {how}: {out[how]}", flush=True)
    return out


class FinishedStore:
    """An S3Store stand-in whose version is finished: answers from memory (see the module doc)."""

    scheme, bucket = "s3", BUCKET

    def __init__(self, prefix: str, manifest_bytes: bytes, sizes: dict[str, int]) -> None:
        self._manifest = {f"{prefix}/{MANIFEST_NAME}": manifest_bytes}
        self._listing = {f"{prefix}/{p}": stores.ObjectInfo(s) for p, s in sizes.items()}
        self.calls: list[str] = []

    def url(self, key: str) -> str:
        return f"s3://{BUCKET}/{key}"

    def get_bytes(self, key: str):
        self.calls.append("GetObject")
        return self._manifest.get(key)

    def list(self, prefix: str):
        self.calls.append("ListObjectsV2")
        return dict(self._listing)

    def __getattr__(self, name):
        raise AssertionError(f"a no-op must not call {name}")


def noop(work: str, files: int, sparse_gib: int) -> dict:
    src = os.path.join(work, "sparse")
    os.makedirs(src)
    for i in range(files):
        with open(os.path.join(src, f"model-{i:05d}.safetensors"), "wb") as f:
            f.truncate(sparse_gib * 1024 * MiB)
    cache = os.path.join(work, "noop-cache.json")
    primed = scan(src, cache_path=cache)
    version = primed.manifest.digest
    prefix = f"models/m/{version}"
    sizes = {e.path: e.size for e in primed.manifest.entries}
    times, hashed = [], []
    for _ in range(20):
        store = FinishedStore(prefix, primed.manifest.to_json_bytes(), sizes)
        start = time.perf_counter()
        result = upload_version(store, src, "models/m", cache_path=cache)
        times.append(time.perf_counter() - start)
        hashed.append(result.hashed)
        assert result.uploaded == [] and store.calls == ["GetObject", "ListObjectsV2"]
    with moto_server(work) as (url, _server):
        real = stores.S3Store(BUCKET, region=REGION, endpoint=url, allow_http=True)
        real._client.put_object(Bucket=BUCKET, Key=f"{prefix}/{MANIFEST_NAME}", Body=primed.manifest.to_json_bytes())
        for path in sizes:
            real._client.put_object(Bucket=BUCKET, Key=f"{prefix}/{path}", Body=b"")
        requests = []
        for _ in range(20):
            start = time.perf_counter()
            real.get_bytes(f"{prefix}/{MANIFEST_NAME}")
            real.list(prefix + "/")
            requests.append(time.perf_counter() - start)
        cli_env = {**os.environ, **CREDENTIALS, "XDG_CACHE_HOME": os.path.join(work, "cli-cache")}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "components.model", "digest", src, "--cache-path", cache],
                       cwd=REPO_ROOT, env=cli_env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli = time.perf_counter() - start
    out = {"model": f"{files} x {sparse_gib} GiB", "in_process_median_ms": round(statistics.median(times) * 1e3, 1),
           "in_process_max_ms": round(max(times) * 1e3, 1), "files_hashed": max(hashed),
           "get_manifest_plus_list_on_moto_median_ms": round(statistics.median(requests) * 1e3, 1),
           "cli_process_digest_ms": round(cli * 1e3)}
    print(f"  {out}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--file-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resume-mib", type=int, default=1536)
    parser.add_argument("--sparse-gib", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma-separated: throughput, resume, noop")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.environ.update(CREDENTIALS)  # dummy keys for moto, for the children and this process
    work = tempfile.mkdtemp(prefix="upload-bench-")
    report = {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0]}
    try:
        if "throughput" not in skip:
            print(f"throughput: {args.files} x {args.file_mib} MiB, {args.rounds} rounds", flush=True)
            report["throughput"] = throughput(work, args.files, args.file_mib, args.rounds)
        if "resume" not in skip:
            print(f"resume: one {args.resume_mib} MiB file in 16 MiB parts", flush=True)
            report["resume"] = resume(work, args.resume_mib)
        if "noop" not in skip:
            print(f"no-op: {args.files} x {args.sparse_gib} GiB sparse", flush=True)
            report["noop"] = noop(work, args.files, args.sparse_gib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["load_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
