"""Tests of the model uploader (components/model/sync.py): S3 through moto, OSS through a fake
oss2 bucket that the real ``oss2.resumable_upload`` drives."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import oss2
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from components.model import sync
from components.model.sync import (
    MANIFEST_NAME,
    BucketAccessError,
    BucketNotFoundError,
    BucketNotWritableError,
    EmptySourceError,
    InvalidURLError,
    OssStore,
    S3Store,
    SourceChangedError,
    SourceDirectoryError,
    UnreadableFileError,
    local_manifest,
    parse_store_url,
    store_for_url,
    sync_directory,
)

MiB = 1024 * 1024
BUCKET = "model-bucket"
PREFIX = "models/llama"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(s3) -> Iterator[S3Store]:
    with S3Store(BUCKET, region="us-east-1", multipart_threshold=5 * MiB, part_size=5 * MiB) as s3_store:
        yield s3_store


@pytest.fixture
def model_dir(tmp_path) -> str:
    root = tmp_path / "model"
    files = {
        "config.json": b'{"model_type": "llama"}',
        "tokenizer.json": b"{}" * 100,
        "weights/model-00001.safetensors": os.urandom(300_000),
        "original/consolidated.pth": os.urandom(1000),
        ".git/HEAD": b"ref: refs/heads/main\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return str(root)


@pytest.fixture
def cache_path(tmp_path) -> str:
    return str(tmp_path / "cache" / "manifest-cache.json")


def run(store, model_dir, cache_path, **kwargs) -> sync.SyncResult:
    return sync_directory(store, model_dir, PREFIX, cache_path=cache_path, **kwargs)


def remote_keys(s3) -> list[str]:
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def remote_bytes(s3, rel: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=PREFIX + "/" + rel)["Body"].read()


def record_s3_operations(s3_store: S3Store) -> list[str]:
    operations: list[str] = []
    s3_store._client.meta.events.register("before-call.s3", lambda model, **_: operations.append(model.name))
    return operations


# ------------------------------------------------------------------------------ uploads on S3


def test_first_sync_uploads_every_file_and_writes_the_manifest_beside_them(s3, store, model_dir, cache_path):
    result = run(store, model_dir, cache_path)

    model_files = ["config.json", "original/consolidated.pth", "tokenizer.json", "weights/model-00001.safetensors"]
    assert result.uploaded == model_files
    assert result.skipped == [] and result.deleted == []
    assert remote_keys(s3) == sorted([PREFIX + "/" + rel for rel in model_files] + [PREFIX + "/" + MANIFEST_NAME])
    for rel in model_files:
        assert remote_bytes(s3, rel) == Path(model_dir, rel).read_bytes()

    manifest_object = remote_bytes(s3, MANIFEST_NAME)
    assert result.manifest_key == PREFIX + "/" + MANIFEST_NAME
    assert result.manifest_digest == sha256(manifest_object)
    document = json.loads(manifest_object)
    assert document["version"] == 1
    assert [entry["path"] for entry in document["files"]] == model_files
    for entry in document["files"]:
        data = Path(model_dir, entry["path"]).read_bytes()
        assert entry == {"path": entry["path"], "size": len(data), "sha256": sha256(data)}
    assert result.file_count == 4
    assert result.total_bytes == result.uploaded_bytes == sum(e["size"] for e in document["files"])


def test_file_above_the_threshold_is_uploaded_in_parts(s3, store, tmp_path, cache_path):
    data = os.urandom(12 * MiB)
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "shard.safetensors").write_bytes(data)

    sync_directory(store, str(tmp_path / "big"), PREFIX, cache_path=cache_path)

    head = s3.head_object(Bucket=BUCKET, Key=PREFIX + "/shard.safetensors")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB
    assert head["Metadata"] == {"sha256": sha256(data)}
    assert remote_bytes(s3, "shard.safetensors") == data


def test_part_size_is_raised_to_stay_within_10000_parts(s3, tmp_path):
    """A 60 GiB sparse file with 5 MiB parts would need 12,288 parts.  The first UploadPart is
    intercepted (no byte is read or sent) and fails, which also checks the upload is aborted."""
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(60 * 1024 * MiB)
    part_sizes: list[int] = []

    def intercept(params, model, **_):
        if model.name == "UploadPart":
            part_sizes.append(len(params["body"]))
            return AWSResponse("http://intercepted", 500, {}, None), {"Error": {"Code": "Stop", "Message": "enough"}}
        return None

    with S3Store(BUCKET, region="us-east-1", multipart_threshold=5 * MiB, part_size=5 * MiB) as s3_store:
        s3_store._client.meta.events.register("before-call.s3", intercept)
        with pytest.raises(ClientError, match=r"enough"):
            s3_store.upload_file(str(huge), "huge.bin", {})

    assert part_sizes and min(part_sizes) * 10_000 >= 60 * 1024 * MiB
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_only_the_changed_file_is_uploaded_again(s3, store, model_dir, cache_path):
    first = run(store, model_dir, cache_path)
    with open(os.path.join(model_dir, "config.json"), "wb") as f:
        f.write(b'{"model_type": "llama", "rope_theta": 500000}')

    second = run(store, model_dir, cache_path)

    assert second.uploaded == ["config.json"]
    assert second.uploaded_bytes == os.path.getsize(os.path.join(model_dir, "config.json"))
    assert "weights/model-00001.safetensors" in second.skipped
    assert second.manifest_digest != first.manifest_digest
    assert remote_bytes(s3, "config.json") == b'{"model_type": "llama", "rope_theta": 500000}'
    assert sha256(remote_bytes(s3, MANIFEST_NAME)) == second.manifest_digest


def test_same_size_rewrite_is_detected_through_the_mtime(s3, store, model_dir, cache_path):
    run(store, model_dir, cache_path)
    path = os.path.join(model_dir, "weights/model-00001.safetensors")
    new_data = os.urandom(os.path.getsize(path))
    with open(path, "wb") as f:
        f.write(new_data)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert run(store, model_dir, cache_path).uploaded == ["weights/model-00001.safetensors"]
    assert remote_bytes(s3, "weights/model-00001.safetensors") == new_data


def test_noop_rerun_reads_no_model_bytes_and_writes_nothing(s3, store, model_dir, cache_path, monkeypatch):
    first = run(store, model_dir, cache_path)
    hashed: list[str] = []
    real_hash = sync._sha256_file
    monkeypatch.setattr(sync, "_sha256_file", lambda path: hashed.append(path) or real_hash(path))
    operations = record_s3_operations(store)

    second = run(store, model_dir, cache_path)

    assert hashed == []
    assert operations == ["GetObject", "ListObjectsV2"]  # the manifest, and stale objects to delete
    assert second.uploaded == [] and second.deleted == []
    assert second.manifest_digest == first.manifest_digest
    assert len(second.skipped) == 4


def test_touched_file_is_rehashed_but_not_uploaded(s3, store, model_dir, cache_path, monkeypatch):
    run(store, model_dir, cache_path)
    os.utime(os.path.join(model_dir, "tokenizer.json"), ns=(1, 1))
    hashed: list[str] = []
    real_hash = sync._sha256_file
    monkeypatch.setattr(sync, "_sha256_file", lambda path: hashed.append(path) or real_hash(path))

    result = run(store, model_dir, cache_path)

    assert [os.path.basename(path) for path in hashed] == ["tokenizer.json"]
    assert result.uploaded == []


def test_files_removed_locally_are_deleted_from_the_prefix(s3, store, model_dir, cache_path):
    run(store, model_dir, cache_path)
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "/leftover-from-older-tool.bin", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="models/llama-other/keep.bin", Body=b"x")  # shares the prefix string only
    os.remove(os.path.join(model_dir, "original/consolidated.pth"))

    result = run(store, model_dir, cache_path)

    assert result.deleted == ["leftover-from-older-tool.bin", "original/consolidated.pth"]
    keys = remote_keys(s3)
    assert PREFIX + "/original/consolidated.pth" not in keys
    assert "models/llama-other/keep.bin" in keys
    paths = [entry["path"] for entry in json.loads(remote_bytes(s3, MANIFEST_NAME))["files"]]
    assert "original/consolidated.pth" not in paths


def test_no_delete_keeps_removed_files(s3, store, model_dir, cache_path):
    run(store, model_dir, cache_path)
    os.remove(os.path.join(model_dir, "original/consolidated.pth"))

    result = run(store, model_dir, cache_path, delete_removed=False)

    assert result.deleted == []
    assert PREFIX + "/original/consolidated.pth" in remote_keys(s3)
    paths = [entry["path"] for entry in json.loads(remote_bytes(s3, MANIFEST_NAME))["files"]]
    assert "original/consolidated.pth" not in paths  # the manifest describes the model, not the leftovers


def test_include_and_exclude_select_relative_paths(s3, store, model_dir, cache_path):
    excluded = run(store, model_dir, cache_path, exclude=["original/*"])
    assert excluded.uploaded == ["config.json", "tokenizer.json", "weights/model-00001.safetensors"]
    assert not any(".git" in key for key in remote_keys(s3))  # DEFAULT_EXCLUDE

    included = run(store, model_dir, cache_path, include=["*.json"])
    assert included.uploaded == [] and included.file_count == 2
    assert included.deleted == ["weights/model-00001.safetensors"]


def test_interrupted_run_resumes_without_uploading_finished_files_again(s3, store, model_dir, cache_path, monkeypatch):
    real_upload = store.upload_file

    def fail_on_config(path: str, key: str, metadata):
        if key.endswith("config.json"):  # the smallest file, so uploaded last
            raise ConnectionError("network dropped")
        real_upload(path, key, metadata)

    monkeypatch.setattr(store, "upload_file", fail_on_config)
    with pytest.raises(ConnectionError):
        run(store, model_dir, cache_path, concurrency=1)
    assert PREFIX + "/" + MANIFEST_NAME not in remote_keys(s3)  # written only after a complete upload

    monkeypatch.setattr(store, "upload_file", real_upload)
    result = run(store, model_dir, cache_path)

    assert result.uploaded == ["config.json"]
    assert result.skipped == ["original/consolidated.pth", "tokenizer.json", "weights/model-00001.safetensors"]


def test_file_changed_during_upload_fails_and_leaves_no_object(s3, store, model_dir, cache_path, monkeypatch):
    real_upload = store.upload_file

    def upload_then_modify(path: str, key: str, metadata):
        real_upload(path, key, metadata)
        if key.endswith("config.json"):
            with open(path, "ab") as f:
                f.write(b" ")

    monkeypatch.setattr(store, "upload_file", upload_then_modify)
    with pytest.raises(SourceChangedError, match=r"config.json changed while it was uploaded"):
        run(store, model_dir, cache_path)
    assert PREFIX + "/config.json" not in remote_keys(s3)


# ----------------------------------------------------------------------- errors, before writing


def test_missing_source_directory(store, tmp_path, cache_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(SourceDirectoryError, match=r"model source directory .*nope does not exist"):
        sync_directory(store, missing, PREFIX, cache_path=cache_path)


def test_source_that_is_a_file(store, tmp_path, cache_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(SourceDirectoryError, match=r"weights.bin is not a directory"):
        sync_directory(store, str(tmp_path / "weights.bin"), PREFIX, cache_path=cache_path)


def test_empty_source_directory(s3, store, tmp_path, cache_path):
    (tmp_path / "empty" / "subdir").mkdir(parents=True)
    with pytest.raises(EmptySourceError, match=r"empty contains no files$"):
        sync_directory(store, str(tmp_path / "empty"), PREFIX, cache_path=cache_path)
    assert remote_keys(s3) == []


def test_everything_excluded_is_an_empty_source(store, model_dir, cache_path):
    with pytest.raises(EmptySourceError, match=r"no files matching the include/exclude patterns"):
        run(store, model_dir, cache_path, include=["*.gguf"])


def test_unreadable_file_is_reported_before_anything_is_written(s3, store, model_dir, cache_path, monkeypatch):
    real_open = open

    def deny_weights(path, *args, **kwargs):
        if str(path).endswith(".safetensors"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(sync, "open", deny_weights, raising=False)
    with pytest.raises(
        UnreadableFileError, match=r"cannot read model file .*model-00001.safetensors: Permission denied"
    ):
        run(store, model_dir, cache_path)
    assert remote_keys(s3) == []


def test_broken_symlink_is_an_unreadable_file(s3, store, model_dir, cache_path):
    os.symlink("/nonexistent/blob", os.path.join(model_dir, "dangling.safetensors"))
    with pytest.raises(UnreadableFileError, match=r"dangling.safetensors: No such file or directory"):
        run(store, model_dir, cache_path)
    assert remote_keys(s3) == []


def test_symlinked_files_are_uploaded_under_the_link_name(s3, store, tmp_path, cache_path):
    """Hugging Face snapshots are directories of symlinks into a blob store."""
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "abc123").write_bytes(b"weights")
    (tmp_path / "snapshot").mkdir()
    os.symlink(tmp_path / "blobs" / "abc123", tmp_path / "snapshot" / "model.safetensors")
    os.symlink(tmp_path / "snapshot", tmp_path / "snapshot" / "loop")  # a cycle is skipped

    result = sync_directory(store, str(tmp_path / "snapshot"), PREFIX, cache_path=cache_path)

    assert result.uploaded == ["model.safetensors"]
    assert remote_bytes(s3, "model.safetensors") == b"weights"


def test_missing_bucket(s3, model_dir, cache_path):
    with (
        S3Store("no-such-bucket", region="us-east-1") as missing,
        pytest.raises(BucketNotFoundError, match=r"bucket s3://no-such-bucket does not exist"),
    ):
        sync_directory(missing, model_dir, PREFIX, cache_path=cache_path)


def test_read_only_bucket_fails_on_the_probe_before_any_upload(s3, store, model_dir, cache_path):
    denied: list[str] = []

    def deny_writes(model, **_):
        if model.name in ("PutObject", "CreateMultipartUpload", "DeleteObjects"):
            denied.append(model.name)
            return AWSResponse("http://denied", 403, {}, None), {"Error": {"Code": "AccessDenied", "Message": "no"}}
        return None

    store._client.meta.events.register("before-call.s3", deny_writes)
    with pytest.raises(BucketNotWritableError, match=r"bucket s3://model-bucket is not writable .*AccessDenied"):
        run(store, model_dir, cache_path)
    assert denied == ["PutObject"]  # the probe, and nothing after it
    assert remote_keys(s3) == []


def test_missing_credentials(model_dir, cache_path, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A fresh session resolves credentials again (the default one may have cached moto's).  They are
    # resolved before a request is sent, so the closed loopback port is never reached.
    client = boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with (
        S3Store(BUCKET, client=client) as anonymous,
        pytest.raises(BucketAccessError, match=r"no usable AWS credentials"),
    ):
        sync_directory(anonymous, model_dir, PREFIX, cache_path=cache_path)


def test_deleting_at_the_bucket_root_is_refused(store, model_dir, cache_path):
    with pytest.raises(InvalidURLError, match=r"refusing to delete removed files at the root of s3://model-bucket/"):
        sync_directory(store, model_dir, "", cache_path=cache_path)


# --------------------------------------------------------------------- manifest, cache, URL, CLI


def test_local_manifest_uses_a_cache_outside_the_model_dir(model_dir):
    before = sorted(os.listdir(model_dir))
    manifest = local_manifest(model_dir)
    assert os.path.exists(sync.default_cache_path(model_dir))
    assert not sync.default_cache_path(model_dir).startswith(model_dir)
    assert sorted(os.listdir(model_dir)) == before
    assert sync.Manifest.from_json_bytes(manifest.to_json_bytes()) == manifest
    assert manifest.digest == local_manifest(model_dir).digest


def test_corrupt_cache_is_ignored(model_dir, cache_path):
    os.makedirs(os.path.dirname(cache_path))
    with open(cache_path, "w") as f:
        f.write("{not json")
    assert local_manifest(model_dir, cache_path=cache_path).total_bytes > 0
    assert json.loads(Path(cache_path).read_text())["version"] == 1


@pytest.mark.parametrize(
    "url, expected",
    [
        ("s3://bucket/a/b/", ("s3", "bucket", "a/b")),
        ("oss://bucket", ("oss", "bucket", "")),
        ("s3://bucket/", ("s3", "bucket", "")),
    ],
)
def test_parse_store_url(url, expected):
    assert parse_store_url(url) == expected


@pytest.mark.parametrize("url", ["gs://bucket/x", "s3:/bucket", "bucket/x", "s3:///x"])
def test_parse_store_url_rejects(url):
    with pytest.raises(InvalidURLError, match=r"must look like s3://bucket/prefix"):
        parse_store_url(url)


def test_cli_uploads_and_prints_a_summary(s3, model_dir, capsys, monkeypatch):
    code = sync.main([model_dir, f"s3://{BUCKET}/{PREFIX}", "--region", "us-east-1", "--exclude", "original/*"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["uploaded"] == 3 and summary["file_count"] == 3
    assert summary["manifest_url"] == f"s3://{BUCKET}/{PREFIX}/{MANIFEST_NAME}"
    assert summary["manifest_digest"] == sha256(remote_bytes(s3, MANIFEST_NAME))


def test_cli_reports_errors_without_a_traceback(s3, tmp_path, capsys):
    code = sync.main([str(tmp_path / "missing"), f"s3://{BUCKET}/{PREFIX}", "--region", "us-east-1"])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: model source directory {tmp_path / 'missing'} does not exist"


# ------------------------------------------------------------------------------------------ OSS


class FakeOssBucket:
    """The subset of ``oss2.Bucket`` that OssStore and ``oss2.resumable_upload`` call."""

    bucket_name = BUCKET

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.calls: list[str] = []
        self.deny_writes = False
        self._uploads: dict[str, dict[int, bytes]] = {}
        self._upload_headers: dict[str, dict[str, str]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def _record(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.deny_writes and name in ("put_object", "init_multipart_upload", "batch_delete_objects"):
            raise oss2.exceptions.AccessDenied(403, {}, b"", {"Code": "AccessDenied", "Message": "denied"})

    def get_object(self, key):
        self._record("get_object")
        if key not in self.objects:
            raise oss2.exceptions.NoSuchKey(404, {}, b"", {"Code": "NoSuchKey"})
        return io.BytesIO(self.objects[key][0])

    def put_object(self, key, data, headers=None, progress_callback=None):
        self._record("put_object")
        body = data if isinstance(data, bytes) else data.read()
        self.objects[key] = (body, dict(headers or {}))

    def head_object(self, key, headers=None, params=None):
        self._record("head_object")
        if key not in self.objects:
            raise oss2.exceptions.NotFound(404, {}, b"", {})
        body, object_headers = self.objects[key]
        return SimpleNamespace(content_length=len(body), headers=object_headers)

    def list_objects_v2(self, prefix="", continuation_token="", max_keys=100, **_):
        self._record("list_objects_v2")
        keys = sorted(key for key in self.objects if key.startswith(prefix))
        start = int(continuation_token or 0)
        page = keys[start : start + max_keys]
        return SimpleNamespace(
            object_list=[SimpleNamespace(key=key, size=len(self.objects[key][0])) for key in page],
            prefix_list=[],
            is_truncated=start + max_keys < len(keys),
            next_continuation_token=str(start + max_keys),
        )

    def batch_delete_objects(self, key_list, headers=None):
        self._record("batch_delete_objects")
        for key in key_list:
            self.objects.pop(key, None)

    def init_multipart_upload(self, key, headers=None, params=None):
        self._record("init_multipart_upload")
        upload_id = f"upload-{next(self._ids)}"
        self._uploads[upload_id] = {}
        self._upload_headers[upload_id] = dict(headers or {})
        return SimpleNamespace(upload_id=upload_id)

    def upload_part(self, key, upload_id, part_number, data, progress_callback=None, headers=None):
        self._record("upload_part")
        body = data.read()
        with self._lock:
            self._uploads[upload_id][part_number] = body
        return SimpleNamespace(etag=sha256(body), crc=None)

    def list_parts(self, key, upload_id, marker="", max_parts=1000, headers=None):
        return SimpleNamespace(parts=[], is_truncated=False, next_marker="")

    def complete_multipart_upload(self, key, upload_id, parts, headers=None):
        self._record("complete_multipart_upload")
        assert sorted(part.part_number for part in parts) == sorted(self._uploads[upload_id])
        body = b"".join(self._uploads[upload_id][n] for n in sorted(self._uploads[upload_id]))
        self.objects[key] = (body, self._upload_headers.pop(upload_id))


@pytest.fixture
def oss_bucket() -> FakeOssBucket:
    return FakeOssBucket()


@pytest.fixture
def oss_store(oss_bucket, tmp_path) -> OssStore:
    return OssStore(
        BUCKET,
        oss_bucket=oss_bucket,
        multipart_threshold=256 * 1024,
        part_size=100 * 1024,
        part_threads=3,
        resume_dir=str(tmp_path / "oss-resume"),
    )


def test_oss_sync_uses_resumable_multipart_for_big_files(oss_bucket, oss_store, model_dir, cache_path):
    result = sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path)

    assert len(result.uploaded) == 4
    weights = Path(model_dir, "weights/model-00001.safetensors").read_bytes()
    body, headers = oss_bucket.objects[PREFIX + "/weights/model-00001.safetensors"]
    assert body == weights and headers["x-oss-meta-sha256"] == sha256(weights)
    assert oss_bucket.calls.count("init_multipart_upload") == 1  # only the 300 kB file
    assert oss_bucket.calls.count("upload_part") == 3  # 300,000 bytes in 100 KiB parts
    manifest = oss_bucket.objects[PREFIX + "/" + MANIFEST_NAME][0]
    assert sha256(manifest) == result.manifest_digest


def test_oss_noop_and_incremental_runs(oss_bucket, oss_store, model_dir, cache_path):
    sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path)
    oss_bucket.calls.clear()
    assert sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path).uploaded == []
    assert oss_bucket.calls == ["get_object", "list_objects_v2"]

    os.remove(os.path.join(model_dir, "config.json"))
    with open(os.path.join(model_dir, "tokenizer.json"), "wb") as f:
        f.write(b"[]")
    result = sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path)
    assert result.uploaded == ["tokenizer.json"] and result.deleted == ["config.json"]
    assert oss_bucket.objects[PREFIX + "/tokenizer.json"][0] == b"[]"
    assert PREFIX + "/config.json" not in oss_bucket.objects


def test_oss_errors_name_the_bucket(oss_bucket, oss_store, model_dir, cache_path, monkeypatch):
    oss_bucket.deny_writes = True
    with pytest.raises(BucketNotWritableError, match=r"bucket oss://model-bucket is not writable"):
        sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path)
    assert oss_bucket.calls.count("put_object") == 1  # the probe only

    def no_bucket(key):
        raise oss2.exceptions.NoSuchBucket(404, {}, b"", {"Code": "NoSuchBucket", "Message": "gone"})

    monkeypatch.setattr(oss_bucket, "get_object", no_bucket)
    with pytest.raises(BucketNotFoundError, match=r"bucket oss://model-bucket does not exist"):
        sync_directory(oss_store, model_dir, PREFIX, cache_path=cache_path)


def test_oss_store_needs_a_region(monkeypatch):
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "secret")
    with pytest.raises(InvalidURLError, match=r"oss://bucket-x needs a region"):
        store_for_url("oss://bucket-x/models")
    store, prefix = store_for_url("oss://bucket-x/models", endpoint="https://oss-cn-beijing-internal.aliyuncs.com")
    assert prefix == "models" and store.url(prefix) == "oss://bucket-x/models"
    assert store._bucket.region == "cn-beijing"


def _clear_alibaba_env(monkeypatch) -> None:
    for names in (*sync._OSS_STATIC_ENV, sync._RRSA_ENV):
        for name in names:
            monkeypatch.delenv(name, raising=False)


def test_oss_credentials_from_static_env(monkeypatch):
    _clear_alibaba_env(monkeypatch)
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", "key-id")
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", "key-secret")
    credentials = sync._oss_credentials_provider("cn-hangzhou").get_credentials()
    assert (credentials.access_key_id, credentials.access_key_secret) == ("key-id", "key-secret")


def test_oss_credentials_from_rrsa(monkeypatch, tmp_path):
    pytest.importorskip("alibabacloud_credentials")
    _clear_alibaba_env(monkeypatch)
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::123:role/model-sync")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::123:oidc-provider/ack-rrsa")
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(tmp_path / "token"))
    provider = sync._oss_credentials_provider("cn-hangzhou")
    assert isinstance(provider, sync._RrsaCredentialsProvider)

    sts = SimpleNamespace(
        get_access_key_id=lambda: "STS.id", get_access_key_secret=lambda: "secret", get_security_token=lambda: "token"
    )
    monkeypatch.setattr(provider._provider, "get_credentials", lambda: sts)
    credentials = provider.get_credentials()
    assert (credentials.access_key_id, credentials.security_token) == ("STS.id", "token")


def test_oss_without_credentials(monkeypatch):
    _clear_alibaba_env(monkeypatch)
    with pytest.raises(BucketAccessError, match=r"no Alibaba Cloud credentials.*RRSA"):
        store_for_url("oss://bucket-x/models", region="cn-hangzhou")
