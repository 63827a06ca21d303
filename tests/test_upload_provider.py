"""Tests of the ModelUpload dynamic provider, calling its operations directly against moto."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import dill
import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.rpc import UNKNOWN

from components.model import sync
from components.model.sync import MANIFEST_NAME, SourceDirectoryError
from components.model.upload_provider import ModelUpload, ModelUploadProvider

BUCKET = "model-bucket"
URL = f"s3://{BUCKET}/models/llama"


@pytest.fixture
def model_dir(tmp_path) -> str:
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_bytes(b"{}")
    (root / "weights" / "model.safetensors").write_bytes(os.urandom(100_000))
    return str(root)


@pytest.fixture
def provider() -> ModelUploadProvider:
    return ModelUploadProvider()


def inputs(model_dir: str, **overrides: Any) -> dict[str, Any]:
    props = {
        "url": URL,
        "source_dir": model_dir,
        "region": "us-east-1",
        "endpoint": None,
        "delete_removed": True,
        "include": None,
        "exclude": None,
        "concurrency": 4,
    }
    props.update(overrides)
    return through_engine(props)


def through_engine(props: dict[str, Any]) -> dict[str, Any]:
    """Props as the provider process receives them from the engine (numbers become doubles)."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def test_check_fills_defaults_and_reports_bad_inputs(provider, model_dir, tmp_path):
    ok = provider.check({}, through_engine({"url": URL, "source_dir": model_dir, "concurrency": 8}))
    assert ok.failures == []
    assert ok.inputs["delete_removed"] is True
    assert provider.check({}, {"url": URL, "source_dir": model_dir}).inputs["concurrency"] == sync.DEFAULT_CONCURRENCY

    bad = provider.check({}, {"url": "gs://x/y", "source_dir": str(tmp_path / "missing"), "concurrency": 2.5})
    reasons = {failure.property: failure.reason for failure in bad.failures}
    assert "must look like s3://bucket/prefix" in reasons["url"]
    assert reasons["source_dir"] == f"model source directory {tmp_path / 'missing'} does not exist"
    assert "positive integer" in reasons["concurrency"]

    unknown = provider.check({}, {"url": UNKNOWN, "source_dir": UNKNOWN})
    assert unknown.failures == []


def test_create_uploads_and_records_the_manifest(s3, provider, model_dir):
    result = provider.create(inputs(model_dir))

    assert result.id == URL
    manifest = s3.get_object(Bucket=BUCKET, Key="models/llama/" + MANIFEST_NAME)["Body"].read()
    assert result.outs["manifest_digest"] == hashlib.sha256(manifest).hexdigest()
    assert result.outs["file_count"] == 2
    assert result.outs["total_bytes"] == 100_002
    assert result.outs["manifest_url"] == URL + "/" + MANIFEST_NAME
    assert result.outs["source_dir"] == model_dir  # inputs are kept for the next diff


def test_noop_diff_reads_no_model_bytes_and_no_bucket(s3, provider, model_dir, monkeypatch):
    outs = through_engine(provider.create(inputs(model_dir)).outs)
    hashed: list[str] = []
    monkeypatch.setattr(sync, "_sha256_file", lambda path: hashed.append(path) or "")
    monkeypatch.setattr(
        "components.model.upload_provider.store_for_url", lambda *a, **k: pytest.fail("diff must not touch the bucket")
    )

    diff = provider.diff(URL, outs, inputs(model_dir))

    assert diff.changes is False and hashed == []


def test_diff_sees_a_changed_file_and_update_uploads_only_it(s3, provider, model_dir):
    outs = through_engine(provider.create(inputs(model_dir)).outs)
    with open(os.path.join(model_dir, "config.json"), "wb") as f:
        f.write(b'{"changed": true}')

    diff = provider.diff(URL, outs, inputs(model_dir))
    assert diff.changes is True and diff.replaces == []

    updated = provider.update(URL, outs, inputs(model_dir))
    assert updated.outs["manifest_digest"] != outs["manifest_digest"]
    assert s3.get_object(Bucket=BUCKET, Key="models/llama/config.json")["Body"].read() == b'{"changed": true}'
    assert provider.diff(URL, updated.outs, inputs(model_dir)).changes is False


def test_diff_on_inputs(s3, provider, model_dir):
    outs = through_engine(provider.create(inputs(model_dir)).outs)

    moved = provider.diff(URL, outs, inputs(model_dir, url=f"s3://{BUCKET}/models/llama-v2"))
    assert moved.changes is True and moved.replaces == ["url"]

    excluded = provider.diff(URL, outs, inputs(model_dir, exclude=["weights/*"]))
    assert excluded.changes is True and excluded.replaces == []

    tuned = provider.diff(URL, outs, inputs(model_dir, concurrency=16, region="us-east-1"))
    assert tuned.changes is False

    unknown = provider.diff(URL, outs, inputs(model_dir, url=UNKNOWN))
    assert unknown.changes is True


def test_diff_with_a_vanished_source_dir_is_a_clear_error(s3, provider, model_dir, tmp_path):
    outs = through_engine(provider.create(inputs(model_dir)).outs)
    with pytest.raises(SourceDirectoryError, match=r"does not exist"):
        provider.diff(URL, outs, inputs(str(tmp_path / "gone")))


def test_delete_keeps_the_model_objects(s3, provider, model_dir):
    outs = through_engine(provider.create(inputs(model_dir)).outs)
    provider.delete(URL, outs)
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "models/llama/weights/model.safetensors" in keys


def test_read_reports_the_bucket_manifest_digest(s3, provider, model_dir):
    outs = through_engine(provider.create(inputs(model_dir)).outs)
    assert provider.read(URL, outs).outs["manifest_digest"] == outs["manifest_digest"]

    s3.delete_object(Bucket=BUCKET, Key="models/llama/" + MANIFEST_NAME)
    refreshed = provider.read(URL, outs).outs
    assert refreshed["manifest_digest"] == ""
    assert provider.diff(URL, refreshed, inputs(model_dir)).changes is True


def test_provider_serializes_by_reference():
    """The provider process imports this module instead of unpickling code: provider edits do not
    show up as diffs of every ModelUpload."""
    from pulumi.dynamic.dynamic import serialize_provider

    serialized = base64.b64decode(serialize_provider(ModelUploadProvider()))
    assert b"components.model.upload_provider" in serialized and len(serialized) < 200
    assert isinstance(dill.loads(serialized), ModelUploadProvider)


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args)
        return "id-" + args.name, dict(args.inputs, manifest_digest="d" * 64, file_count=2)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def test_model_upload_registers_its_inputs(model_dir):
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)

    def assert_registered(digest: str) -> None:
        assert digest == "d" * 64
        (args,) = mocks.registered
        assert args.typ == "pulumi-python:dynamic/model:ModelUpload"
        assert args.inputs["url"] == URL and args.inputs["exclude"] == ["original/*"]
        assert args.inputs["delete_removed"] is True and args.inputs["concurrency"] == 8

    @pulumi.runtime.test
    def check():
        upload = ModelUpload("llama", url=URL, source_dir=model_dir, region="us-east-1", exclude=["original/*"])
        return upload.manifest_digest.apply(assert_registered)

    check()
