"""The uploader: immutable versions on S3 (moto) and OSS (a fake oss2 bucket driven by the real oss2
iterators), content-true hashing, resume from the parts the service holds, interruption, prune."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse

from components.model import manifest as manifest_mod
from components.model import oss, stores, transfer
from components.model.errors import (
    BucketAccessError,
    BucketConfigError,
    BucketNotFoundError,
    BucketNotWritableError,
    DigestMismatchError,
    EmptySourceError,
    Interrupted,
    InvalidArgumentError,
    SourceChangedError,
    SourceDirectoryError,
    UnreadableFileError,
    VersionConflictError,
)
from components.model.manifest import MANIFEST_NAME, Manifest, scan
from components.model.oss import OssStore
from components.model.stores import S3Store, parse_store_url, store_for_url
from components.model.sync import prune, upload_version, verify_version
from tests.test_model_fakes import FakeOssBucket, StopAfterParts

MiB = 1024 * 1024
BUCKET = "model-bucket"
ROOT = "models/llama"
PART = 5 * MiB


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(s3):
    with S3Store(BUCKET, region="us-east-1", concurrency=4) as s3_store:
        yield s3_store


@pytest.fixture
def model_dir(tmp_path) -> str:
    root = tmp_path / "model"
    files = {
        "config.json": b'{"model_type": "llama"}',
        "tokenizer.json": b"{}" * 100,
        "weights/model-00001.safetensors": os.urandom(12 * MiB),  # 3 parts of 5 MiB
        "original/consolidated.pth": os.urandom(1000),
        ".git/HEAD": b"ref: refs/heads/main\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return str(root)


@pytest.fixture
def cache_path(tmp_path) -> str:
    return str(tmp_path / "cache" / "hashes.json")


def run(store, model_dir, cache_path, **kwargs):
    kwargs.setdefault("part_size", PART)
    return upload_version(store, model_dir, ROOT, cache_path=cache_path, **kwargs)


def keys(s3, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def body(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def incomplete(s3) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def s3_calls(s3_store: S3Store) -> list[str]:
    calls: list[str] = []
    s3_store._client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def hashed_paths(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = manifest_mod.sha256_file
    monkeypatch.setattr(manifest_mod, "sha256_file", lambda path, cancel=None: seen.append(path) or real(path))
    return seen


def stop_s3_after(s3_store: S3Store, parts: int, action) -> None:
    """Call ``action`` (raise, or set an event) when UploadPart number ``parts + 1`` is about to go out."""
    count = {"n": 0}
    lock = threading.Lock()

    def hook(model, **_):
        if model.name == "UploadPart":
            with lock:
                count["n"] += 1
                if count["n"] > parts:
                    return action()
        return None

    s3_store._client.meta.events.register("before-call.s3", hook)


# --------------------------------------------------------------------------- versions on S3


def test_first_upload_writes_a_version_named_by_its_digest_manifest_last(s3, store, model_dir, cache_path):
    calls = s3_calls(store)
    result = run(store, model_dir, cache_path)

    prefix = f"{ROOT}/{result.version}"
    assert result.version == result.manifest_digest and len(result.version) == 64
    assert result.url == f"s3://{BUCKET}/{prefix}"
    files = ["config.json", "original/consolidated.pth", "tokenizer.json", "weights/model-00001.safetensors"]
    assert keys(s3) == sorted([f"{prefix}/{f}" for f in files] + [f"{prefix}/{MANIFEST_NAME}"])  # no .git
    manifest = body(s3, f"{prefix}/{MANIFEST_NAME}")
    assert sha256(manifest) == result.version
    for entry in json.loads(manifest)["files"]:
        data = Path(model_dir, entry["path"]).read_bytes()
        assert entry == {"path": entry["path"], "size": len(data), "sha256": sha256(data)}
        assert body(s3, f"{prefix}/{entry['path']}") == data
        assert s3.head_object(Bucket=BUCKET, Key=f"{prefix}/{entry['path']}")["Metadata"] == {"sha256": sha256(data)}
    assert calls[-1] == "PutObject" and calls.count("UploadPart") == 3  # the manifest last; 12 MiB in 5 MiB parts
    assert s3.head_object(Bucket=BUCKET, Key=f"{prefix}/weights/model-00001.safetensors")["ETag"].endswith('-3"')
    assert incomplete(s3) == []


def test_noop_rerun_reads_no_model_bytes_and_makes_two_requests(s3, store, model_dir, cache_path, monkeypatch):
    first = run(store, model_dir, cache_path)
    hashed = hashed_paths(monkeypatch)
    calls = s3_calls(store)

    second = run(store, model_dir, cache_path)

    assert hashed == [] and second.hashed == 0
    assert calls == ["GetObject", "ListObjectsV2"]
    assert second.version == first.version and second.uploaded == [] and second.finished_before


def test_content_changed_with_size_and_mtime_restored_is_rehashed(s3, store, model_dir, cache_path):
    """``cp -p``, ``tar -x`` or ``os.utime`` put the old size and mtime back; ctime moves anyway."""
    first = run(store, model_dir, cache_path)
    path = os.path.join(model_dir, "weights/model-00001.safetensors")
    before = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"\x00" * 16)  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    second = run(store, model_dir, cache_path)

    assert second.version != first.version  # a new version; the old one is untouched
    assert second.uploaded == ["config.json", "original/consolidated.pth", "tokenizer.json",
                               "weights/model-00001.safetensors"]
    assert body(s3, f"{ROOT}/{second.version}/weights/model-00001.safetensors") == Path(path).read_bytes()
    assert f"{ROOT}/{first.version}/{MANIFEST_NAME}" in keys(s3)


def test_a_copy_with_preserved_times_is_rehashed(store, model_dir, cache_path, tmp_path, monkeypatch):
    run(store, model_dir, cache_path)
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy, copy_function=shutil.copy2)  # cp -p: new inodes, same mtimes
    hashed = hashed_paths(monkeypatch)
    scan(str(copy), cache_path=cache_path)
    assert len(hashed) == 4


def test_touch_rehashes_but_uploads_nothing(store, model_dir, cache_path, monkeypatch):
    first = run(store, model_dir, cache_path)
    os.utime(os.path.join(model_dir, "tokenizer.json"))
    hashed = hashed_paths(monkeypatch)

    second = run(store, model_dir, cache_path)

    assert [os.path.basename(p) for p in hashed] == ["tokenizer.json"]
    assert second.version == first.version and second.uploaded == []


def test_rehash_ignores_a_cache_that_lies(store, model_dir, cache_path):
    first = run(store, model_dir, cache_path)
    cache = json.loads(Path(cache_path).read_text())
    cache["files"]["config.json"][-1] = "0" * 64  # right stat key, wrong sha256
    Path(cache_path).write_text(json.dumps(cache))
    assert scan(model_dir, cache_path=cache_path).manifest.digest != first.version  # the cache is trusted...
    assert scan(model_dir, cache_path=cache_path, rehash=True).manifest.digest == first.version  # ...unless rehash


def test_objects_deleted_by_hand_are_restored(s3, store, model_dir, cache_path):
    first = run(store, model_dir, cache_path)
    prefix = f"{ROOT}/{first.version}"
    s3.delete_object(Bucket=BUCKET, Key=f"{prefix}/weights/model-00001.safetensors")

    second = run(store, model_dir, cache_path)

    assert second.uploaded == ["weights/model-00001.safetensors"] and second.finished_before
    assert verify_version(store, prefix) == []


def test_verify_finds_and_replaces_an_object_overwritten_by_hand(s3, store, model_dir, cache_path):
    first = run(store, model_dir, cache_path)
    key = f"{ROOT}/{first.version}/config.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"model_type": "LLAMA"}')  # same size, no sha256 metadata
    assert verify_version(store, f"{ROOT}/{first.version}") == [f"s3://{BUCKET}/{key}: missing, or size/sha256 "
                                                                "differ from the manifest"]
    assert run(store, model_dir, cache_path).uploaded == []  # sizes match: trusted without --verify
    assert run(store, model_dir, cache_path, verify=True).uploaded == ["config.json"]
    assert body(s3, key) == b'{"model_type": "llama"}'


def test_a_wrong_source_directory_never_deletes_the_model(s3, store, model_dir, cache_path, tmp_path):
    first = run(store, model_dir, cache_path)
    before = keys(s3, f"{ROOT}/{first.version}/")
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "notes.txt").write_bytes(b"oops")

    other = run(store, str(tmp_path / "wrong"), cache_path)

    assert other.version != first.version
    assert keys(s3, f"{ROOT}/{first.version}/") == before


def test_a_pinned_digest_refuses_another_directory_before_writing(s3, store, model_dir, cache_path, tmp_path):
    first = run(store, model_dir, cache_path)
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "notes.txt").write_bytes(b"oops")
    with pytest.raises(DigestMismatchError, match=rf"has digest [0-9a-f]{{64}}, but the configuration pins "
                                                  rf"{first.version}"):
        run(store, str(tmp_path / "wrong"), cache_path, expected_digest=first.version)
    assert keys(s3) == keys(s3, f"{ROOT}/{first.version}/")


def test_a_finished_version_with_another_file_set_is_refused(s3, store, model_dir, cache_path):
    first = run(store, model_dir, cache_path)
    with pytest.raises(VersionConflictError, match=r"holds another file set .* first 'original/consolidated.pth'"):
        run(store, model_dir, cache_path, version=first.version, exclude=["original/*"])


def test_stray_objects_leave_an_unfinished_version_only(s3, store, model_dir, cache_path):
    version = scan(model_dir, cache_path=cache_path).manifest.digest
    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}/{version}/leftover.bin", Body=b"x")
    result = run(store, model_dir, cache_path)
    assert result.removed == ["leftover.bin"]
    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}/{version}/added-by-hand.txt", Body=b"x")
    assert run(store, model_dir, cache_path).removed == []
    assert f"{ROOT}/{version}/added-by-hand.txt" in keys(s3)


# ------------------------------------------------------------------- resume and interruption


def test_a_run_killed_mid_file_resumes_from_the_parts_s3_has(s3, store, model_dir, cache_path):
    stop_s3_after(store, 2, lambda: (AWSResponse("http://x", 500, {}, None),
                                     {"Error": {"Code": "InternalError", "Message": "killed"}}))
    with pytest.raises(BucketAccessError, match="killed"):
        run(store, model_dir, cache_path, concurrency=1)
    (upload,) = incomplete(s3)
    assert len(s3.list_parts(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])["Parts"]) == 2

    with S3Store(BUCKET, region="us-east-1") as fresh:  # a new process: nothing kept locally but the hashes
        calls = s3_calls(fresh)
        result = run(fresh, model_dir, cache_path)

    assert result.parts_resumed == 2 and result.bytes_resumed == 2 * PART
    assert calls.count("UploadPart") == 1  # only the third part of the shard
    assert incomplete(s3) == []
    shard = f"{ROOT}/{result.version}/weights/model-00001.safetensors"
    assert body(s3, shard) == Path(model_dir, "weights/model-00001.safetensors").read_bytes()


def test_parts_that_do_not_match_the_local_bytes_are_sent_again(s3, store, model_dir, cache_path):
    version = scan(model_dir, cache_path=cache_path).manifest.digest
    key = f"{ROOT}/{version}/weights/model-00001.safetensors"
    data = Path(model_dir, "weights/model-00001.safetensors").read_bytes()
    good = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=good, PartNumber=1, Body=data[:PART])
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=good, PartNumber=2, Body=b"\x00" * PART)  # wrong bytes
    worse = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]  # a duplicate with less
    s3.create_multipart_upload(Bucket=BUCKET, Key=f"{ROOT}/{version}/config.json")  # a file now sent whole
    calls = s3_calls(store)

    result = run(store, model_dir, cache_path)

    assert result.parts_resumed == 1 and result.uploads_aborted == 2
    assert calls.count("UploadPart") == 2 and calls.count("CreateMultipartUpload") == 0
    assert incomplete(s3) == [] and worse
    assert body(s3, key) == data


def test_crc32_checksums_are_used_when_the_service_lists_them(tmp_path):
    data = os.urandom(2 * PART)
    path = tmp_path / "f"
    path.write_bytes(data)
    import base64
    import zlib

    crc = base64.b64encode(zlib.crc32(data[:PART]).to_bytes(4, "big")).decode()
    parts = [stores.Part(1, PART, "not-an-md5", crc32=crc), stores.Part(2, PART, "x", crc32=crc)]
    size, kept = transfer._matching_parts(str(path), len(data), parts, threading.Event())
    assert size == PART and [p.number for p in kept] == [1]


def test_cancel_stops_new_requests_keeps_the_upload_and_the_next_run_resumes(s3, store, model_dir, cache_path):
    cancel = threading.Event()
    stop_s3_after(store, 1, lambda: cancel.set())  # "Ctrl-C" while part 2 is on its way
    with pytest.raises(Interrupted):
        run(store, model_dir, cache_path, concurrency=1, cancel=cancel)
    version = scan(model_dir, cache_path=cache_path).manifest.digest
    assert f"{ROOT}/{version}/{MANIFEST_NAME}" not in keys(s3)  # not a finished version
    (upload,) = incomplete(s3)
    sent = len(s3.list_parts(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])["Parts"])
    assert sent == 2  # the part in flight finished; nothing new started

    result = run(store, model_dir, cache_path)
    assert result.parts_resumed == 2 and result.parts_sent == 1 + 3  # part 3, and the three small files
    assert incomplete(s3) == [] and verify_version(store, f"{ROOT}/{version}") == []


def test_cancel_while_hashing_keeps_the_hashes_done(model_dir, cache_path, monkeypatch):
    cancel = threading.Event()
    real = manifest_mod.sha256_file
    done: list[str] = []

    def hash_then_cancel(path, cancel_=None):
        if done:
            cancel.set()
            raise Interrupted("interrupted while hashing")
        done.append(path)
        return real(path)

    monkeypatch.setattr(manifest_mod, "sha256_file", hash_then_cancel)
    with pytest.raises(Interrupted):
        scan(model_dir, cache_path=cache_path, workers=1, cancel=cancel)
    assert len(json.loads(Path(cache_path).read_text())["files"]) == 1


def test_a_file_changed_during_its_upload_leaves_no_object(s3, store, model_dir, cache_path, monkeypatch):
    real = store.put_file

    def put_then_modify(path, key, metadata):
        real(path, key, metadata)
        if key.endswith("config.json"):
            with open(path, "ab") as f:
                f.write(b" ")

    monkeypatch.setattr(store, "put_file", put_then_modify)
    with pytest.raises(SourceChangedError, match=r"config.json changed while it was uploaded"):
        run(store, model_dir, cache_path)
    assert not [k for k in keys(s3) if k.endswith("config.json") or k.endswith(MANIFEST_NAME)]


def test_part_size_is_raised_to_stay_within_10000_parts(s3, store, tmp_path):
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(60 * 1024 * MiB)  # sparse: no byte is read, the first part is refused
    sizes: list[int] = []

    def refuse(params, model, **_):
        if model.name == "UploadPart":
            sizes.append(int(params["headers"].get("Content-Length") or len(params["body"])))
            return AWSResponse("http://x", 403, {}, None), {"Error": {"Code": "AccessDenied", "Message": "stop"}}
        return None

    store._client.meta.events.register("before-call.s3", refuse)
    upload = transfer.FileUpload(str(huge), "huge.bin", 60 * 1024 * MiB, {}, manifest_mod.stat_key(os.stat(huge)))
    with pytest.raises(BucketNotWritableError):
        transfer.Uploader(store, concurrency=1, part_size=PART).run([upload], incomplete_under="")
    assert sizes and min(sizes) * 10_000 >= 60 * 1024 * MiB


# ------------------------------------------------------------------------------------- prune


def _versions(store, tmp_path, cache_path, n: int) -> list[str]:
    made = []
    for i in range(n):
        d = tmp_path / f"v{i}"
        d.mkdir()
        (d / "w.bin").write_bytes(f"version {i}".encode())
        made.append(upload_version(store, str(d), ROOT, cache_path=cache_path).version)
    return made


def test_prune_keeps_the_newest_and_those_in_use_and_deletes_only_with_yes(s3, store, tmp_path, cache_path, monkeypatch):
    v = _versions(store, tmp_path, cache_path, 4)
    times = {ver: i for i, ver in enumerate(v)}  # moto's LastModified has a one-second resolution
    real_list = store.list
    monkeypatch.setattr(store, "list", lambda prefix: {
        k: stores.ObjectInfo(i.size, {}, times.get(k[len(ROOT) + 1:].split("/")[0], i.modified))
        for k, i in real_list(prefix).items()})
    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}/{'e' * 64}/partial.bin", Body=b"x")  # unfinished

    dry = prune(store, ROOT, keep=1, in_use=[v[0]])
    assert dry.deleted == sorted([v[1], v[2]]) and len(keys(s3)) == 9

    done = prune(store, ROOT, keep=1, in_use=[v[0]], dry_run=False)
    assert done.kept == sorted([v[0], v[3]]) and done.unfinished == ["e" * 64]
    assert keys(s3, f"{ROOT}/{v[1]}/") == [] and keys(s3, f"{ROOT}/{v[2]}/") == []
    assert verify_version(store, f"{ROOT}/{v[0]}") == [] and f"{ROOT}/{'e' * 64}/partial.bin" in keys(s3)
    with pytest.raises(InvalidArgumentError, match=r"--keep 0: must be at least 1"):
        prune(store, ROOT, keep=0)


# ---------------------------------------------------------------------------- errors up front


def test_source_errors(store, tmp_path, cache_path):
    with pytest.raises(SourceDirectoryError, match=r"model source directory .*nope does not exist"):
        upload_version(store, str(tmp_path / "nope"), ROOT, cache_path=cache_path)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(SourceDirectoryError, match=r"weights.bin is not a directory"):
        upload_version(store, str(tmp_path / "weights.bin"), ROOT, cache_path=cache_path)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(EmptySourceError, match=r"empty contains no files$"):
        upload_version(store, str(tmp_path / "empty"), ROOT, cache_path=cache_path)
    with pytest.raises(EmptySourceError, match=r"no files matching the include/exclude patterns"):
        upload_version(store, str(tmp_path / "empty"), ROOT, cache_path=cache_path, include=["*.gguf"])


def test_a_hugging_face_cache_folder_is_refused(store, tmp_path, cache_path):
    repo = tmp_path / "models--org--name"
    for sub in ("blobs", "refs", "snapshots/abc"):
        (repo / sub).mkdir(parents=True)
    (repo / "blobs" / "123").write_bytes(b"w")
    with pytest.raises(SourceDirectoryError, match=r"is a Hugging Face cache folder .* point it at .*snapshots/<commit>"):
        upload_version(store, str(repo), ROOT, cache_path=cache_path)


def test_unreadable_and_dangling_files_fail_before_writing(s3, store, model_dir, cache_path, monkeypatch):
    os.symlink("/nonexistent/blob", os.path.join(model_dir, "dangling.safetensors"))
    with pytest.raises(UnreadableFileError, match=r"dangling.safetensors: No such file or directory"):
        run(store, model_dir, cache_path)
    os.remove(os.path.join(model_dir, "dangling.safetensors"))
    real_open = open
    monkeypatch.setattr(manifest_mod, "open", lambda p, *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", p)) if str(p).endswith(".safetensors") else real_open(p, *a, **k),
        raising=False)
    with pytest.raises(UnreadableFileError, match=r"model-00001.safetensors: Permission denied"):
        run(store, model_dir, cache_path)
    assert keys(s3) == []


def test_symlinked_snapshots_upload_under_the_link_names(s3, store, tmp_path, cache_path):
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "abc123").write_bytes(b"weights")
    (tmp_path / "snapshot").mkdir()
    os.symlink(tmp_path / "blobs" / "abc123", tmp_path / "snapshot" / "model.safetensors")
    os.symlink(tmp_path / "snapshot", tmp_path / "snapshot" / "loop")  # a cycle is skipped
    result = upload_version(store, str(tmp_path / "snapshot"), ROOT, cache_path=cache_path)
    assert result.uploaded == ["model.safetensors"]
    assert body(s3, f"{ROOT}/{result.version}/model.safetensors") == b"weights"


def test_bucket_errors_name_the_bucket(s3, store, model_dir, cache_path):
    with S3Store("no-such-bucket", region="us-east-1") as missing, \
            pytest.raises(BucketNotFoundError, match=r"bucket s3://no-such-bucket does not exist"):
        run(missing, model_dir, cache_path)

    denied: list[str] = []

    def deny_writes(model, **_):
        if model.name in ("PutObject", "CreateMultipartUpload", "UploadPart"):
            denied.append(model.name)
            return AWSResponse("http://x", 403, {}, None), {"Error": {"Code": "AccessDenied", "Message": "no"}}
        return None

    store._client.meta.events.register("before-call.s3", deny_writes)
    with pytest.raises(BucketNotWritableError, match=r"bucket s3://model-bucket is not writable .*AccessDenied"):
        run(store, model_dir, cache_path)
    assert denied == ["PutObject"] and keys(s3) == []  # the probe, and nothing after it


def test_missing_aws_credentials(model_dir, cache_path, monkeypatch, tmp_path):
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with S3Store(BUCKET, client=client) as anonymous, \
            pytest.raises(BucketConfigError, match=r"no usable AWS credentials"):
        run(anonymous, model_dir, cache_path)


def test_manifest_parsing_refuses_unsafe_entries():
    good = Manifest.of([manifest_mod.ManifestEntry("a/b", 1, "0" * 64)])
    assert Manifest.from_json_bytes(good.to_json_bytes()) == good
    for path in ("../etc/passwd", "/abs", "a//b"):
        bad = json.dumps({"version": 1, "files": [{"path": path, "size": 1, "sha256": "0" * 64}]}).encode()
        with pytest.raises(ValueError, match="malformed"):
            Manifest.from_json_bytes(bad)


@pytest.mark.parametrize("url, expected", [("s3://bucket/a/b/", ("s3", "bucket", "a/b")),
                                           ("oss://bucket", ("oss", "bucket", ""))])
def test_parse_store_url(url, expected):
    assert parse_store_url(url) == expected


@pytest.mark.parametrize("url", ["gs://bucket/x", "s3:/bucket", "bucket/x", "s3:///x"])
def test_parse_store_url_rejects(url):
    with pytest.raises(InvalidArgumentError, match=r"must look like s3://bucket/prefix"):
        parse_store_url(url)


# ------------------------------------------------------------------------------------------ OSS


@pytest.fixture
def oss_bucket() -> FakeOssBucket:
    return FakeOssBucket(BUCKET)


@pytest.fixture
def oss_store(oss_bucket) -> OssStore:
    return OssStore(BUCKET, oss_bucket=oss_bucket)


@pytest.mark.parametrize("endpoint", ["oss-cn-hangzhou.aliyuncs.com", "oss-cn-hangzhou-internal.aliyuncs.com",
                                      "https://oss-cn-hangzhou.aliyuncs.com", None])
def test_oss_requests_go_over_https(endpoint, monkeypatch):
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", "id")
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", "secret")
    oss, _ = store_for_url("oss://bucket-x/models", region="cn-hangzhou", endpoint=endpoint)
    assert oss.endpoint.startswith("https://") and oss._bucket.region == "cn-hangzhou"


def test_plain_http_is_refused_unless_allowed(monkeypatch):
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", "id")
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", "secret")
    with pytest.raises(InvalidArgumentError, match=r"--endpoint 'http://oss-cn-hangzhou.aliyuncs.com': use https://"):
        store_for_url("oss://bucket-x/m", region="cn-hangzhou", endpoint="http://oss-cn-hangzhou.aliyuncs.com")
    with pytest.raises(InvalidArgumentError, match=r"plain http:// is refused"):
        store_for_url("s3://bucket-x/m", region="us-east-1", endpoint="http://127.0.0.1:9000")
    oss, _ = store_for_url("oss://bucket-x/m", endpoint="http://127.0.0.1:9000", region="cn-hangzhou", allow_http=True)
    assert oss.endpoint == "http://127.0.0.1:9000"
    with pytest.raises(InvalidArgumentError, match=r"needs --region"):
        store_for_url("oss://bucket-x/models")


def test_oss_upload_noop_and_resume_from_listed_parts(oss_bucket, oss_store, model_dir, cache_path):
    oss_bucket.parts_left = 1
    with pytest.raises(StopAfterParts):
        run(oss_store, model_dir, cache_path, concurrency=1)
    (upload_id,) = oss_bucket.uploads

    oss_bucket.parts_left = None
    oss_bucket.calls.clear()
    result = run(oss_store, model_dir, cache_path)

    assert result.parts_resumed == 1 and oss_bucket.calls.count("upload_part") == 2
    assert oss_bucket.calls.count("init_multipart_upload") == 0 and oss_bucket.uploads == {}
    shard, headers = oss_bucket.objects[f"{ROOT}/{result.version}/weights/model-00001.safetensors"]
    assert shard == Path(model_dir, "weights/model-00001.safetensors").read_bytes()
    assert headers["x-oss-meta-sha256"] == sha256(shard) and upload_id

    oss_bucket.calls.clear()
    assert run(oss_store, model_dir, cache_path).uploaded == []
    assert oss_bucket.calls == ["get_object", "list_objects_v2"]


def test_oss_errors_name_the_bucket_and_deletes_are_checked(oss_bucket, oss_store, model_dir, cache_path, monkeypatch):
    oss_bucket.deny_writes = True
    with pytest.raises(BucketNotWritableError, match=r"bucket oss://model-bucket is not writable"):
        run(oss_store, model_dir, cache_path)
    oss_bucket.deny_writes = False
    monkeypatch.setattr(oss_bucket, "batch_delete_objects", lambda keys, headers=None: type("R", (), {
        "deleted_keys": list(keys)[1:]})())
    with pytest.raises(BucketAccessError, match=r"OSS did not delete 1 object\(s\), first oss://model-bucket/a"):
        oss_store.delete(["a", "b"])


def test_oss_credentials(monkeypatch):
    for names in oss._OSS_STATIC_ENV:
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", "key-id")
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", "key-secret")
    static = oss.AlibabaCredentials(chain=object()).get_credentials()
    assert (static.access_key_id, static.access_key_secret) == ("key-id", "key-secret")
    monkeypatch.delenv("ALICLOUD_ACCESS_KEY")

    class Chain:
        def get_credentials(self):
            return type("C", (), {"get_access_key_id": lambda s: "STS.id", "get_access_key_secret": lambda s: "sec",
                                  "get_security_token": lambda s: "tok"})()

    sts = oss.AlibabaCredentials(chain=Chain()).get_credentials()
    assert (sts.access_key_id, sts.security_token) == ("STS.id", "tok")

    class Empty:
        def get_credentials(self):
            raise RuntimeError("unable to load credentials from any of the providers in the chain")

    with pytest.raises(BucketConfigError, match=r"no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID"):
        oss.AlibabaCredentials(chain=Empty()).get_credentials()
    from alibabacloud_credentials.provider import DefaultCredentialsProvider

    assert isinstance(oss.AlibabaCredentials()._chain, DefaultCredentialsProvider)
