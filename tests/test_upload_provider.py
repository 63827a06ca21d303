"""The ModelUpload and VersionManifest dynamic providers, their operations called directly against moto,
and their pickled form loaded the way the engine's provider process loads it."""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from typing import Any

import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.rpc import UNKNOWN

from components.model import manifest as manifest_mod
from components.model.errors import DigestMismatchError, ModelSyncError
from components.model.hf_revision import HfRevisionProvider
from components.model.manifest import MANIFEST_NAME
from components.model.upload_provider import ModelUpload, ModelUploadProvider, VersionManifestProvider

BUCKET = "model-bucket"
ROOT = f"s3://{BUCKET}/models/llama"


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


def through_engine(props: dict[str, Any]) -> dict[str, Any]:
    """Props as the provider process receives them from the engine (numbers become doubles)."""
    struct = struct_pb2.Struct()
    struct.update({k: v for k, v in props.items() if v is not None})
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def inputs(model_dir: str, **overrides: Any) -> dict[str, Any]:
    props = {"root_url": ROOT, "source_dir": model_dir, "region": "us-east-1", "concurrency": 4, **overrides}
    return through_engine(props)


def checked(provider, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert result.failures == []
    return through_engine(result.inputs)


def no_hashing(monkeypatch) -> None:
    monkeypatch.setattr(manifest_mod, "sha256_file", lambda *a, **k: pytest.fail("must not read model bytes"))


def test_check_reports_bad_inputs_one_line_each(provider, tmp_path):
    bad = provider.check({}, {"root_url": "gs://x/y", "source_dir": str(tmp_path / "missing"), "concurrency": 2.5,
                              "expected_digest": "abc"})
    reasons = {f.property: f.reason for f in bad.failures}
    assert "must look like s3://bucket/prefix" in reasons["root_url"]
    assert reasons["concurrency"] == "concurrency 2.5: must be an integer from 1 to 64"
    assert reasons["expected_digest"] == "digest 'abc': must be 64 lowercase hex"
    assert provider.check({}, {"root_url": UNKNOWN, "source_dir": UNKNOWN}).failures == []


def test_preview_on_a_fresh_machine_hashes_nothing_and_leaves_the_version_unknown(provider, model_dir, monkeypatch):
    no_hashing(monkeypatch)
    news = checked(provider, inputs(model_dir))
    assert "digest" not in news and "url" not in news
    diff = provider.diff(ROOT, {"digest": "d" * 64, "root_url": ROOT}, news)
    assert diff.changes is True and diff.replaces == []


def test_a_pinned_digest_needs_neither_the_directory_nor_hashing(provider, tmp_path, monkeypatch):
    no_hashing(monkeypatch)
    digest = "a" * 64
    news = checked(provider, inputs(str(tmp_path / "not-on-this-machine"), expected_digest=digest))
    assert news["digest"] == news["version"] == digest and news["url"] == f"{ROOT}/{digest}"
    olds = {**news, "file_count": 2}
    assert provider.diff(ROOT, olds, news).changes is False


def test_create_uploads_the_version_then_noop_diff_reads_no_bytes_and_no_bucket(s3, provider, model_dir,
                                                                               monkeypatch):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    manifest = s3.get_object(Bucket=BUCKET, Key=f"models/llama/{outs['digest']}/{MANIFEST_NAME}")["Body"].read()
    assert outs["digest"] == outs["version"] == hashlib.sha256(manifest).hexdigest()
    assert outs["url"] == f"{ROOT}/{outs['digest']}" and outs["file_count"] == 2 and outs["total_bytes"] == 100_002

    no_hashing(monkeypatch)
    monkeypatch.setattr("components.model.upload_provider.store_for_url",
                        lambda *a, **k: pytest.fail("diff must not touch the bucket"))
    news = checked(provider, inputs(model_dir))
    assert news["digest"] == outs["digest"]
    assert provider.diff(ROOT, outs, news).changes is False


def test_a_changed_file_is_a_new_version(s3, provider, model_dir):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    with open(os.path.join(model_dir, "config.json"), "wb") as f:
        f.write(b'{"changed": true}')
    news = checked(provider, inputs(model_dir))
    assert "digest" not in news  # the cache no longer vouches: hashed at up, not in preview
    assert provider.diff(ROOT, outs, news).changes is True
    updated = provider.update(ROOT, outs, news).outs
    assert updated["digest"] != outs["digest"]
    assert s3.get_object(Bucket=BUCKET, Key=f"models/llama/{outs['digest']}/config.json")["Body"].read() == b"{}"


def test_update_refuses_a_directory_that_is_not_the_pinned_digest(s3, provider, model_dir):
    with pytest.raises(DigestMismatchError, match=r"but the configuration pins a{64}"):
        provider.create(checked(provider, inputs(model_dir, expected_digest="a" * 64)))
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_diff_on_inputs(s3, provider, model_dir):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    moved = provider.diff(ROOT, outs, checked(provider, inputs(model_dir, root_url=f"s3://{BUCKET}/models/other")))
    assert moved.changes is True and moved.replaces == ["root_url"]
    assert provider.diff(ROOT, outs, checked(provider, inputs(model_dir, exclude=["weights/*"]))).replaces == []
    assert provider.diff(ROOT, outs, checked(provider, inputs(model_dir, concurrency=16))).changes is False
    assert provider.diff(ROOT, outs, inputs(model_dir, root_url=UNKNOWN)).changes is True


def test_refresh_sees_a_version_deleted_behind_pulumis_back(s3, provider, model_dir):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    assert provider.read(ROOT, outs).outs["digest"] == outs["digest"]
    s3.delete_object(Bucket=BUCKET, Key=f"models/llama/{outs['digest']}/{MANIFEST_NAME}")
    refreshed = provider.read(ROOT, outs).outs
    assert refreshed["digest"] == ""
    assert provider.diff(ROOT, refreshed, checked(provider, inputs(model_dir))).changes is True


def test_delete_keeps_the_model_objects(s3, provider, model_dir):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    provider.delete(ROOT, outs)
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 3


def test_version_manifest_reads_the_digest_of_a_finished_version(s3, provider, model_dir):
    outs = through_engine(provider.create(checked(provider, inputs(model_dir))).outs)
    reader = VersionManifestProvider()
    props = {"url": outs["url"], "region": "us-east-1"}
    assert reader.create(props).outs["digest"] == outs["digest"]
    with pytest.raises(ModelSyncError, match=r"has no manifest: the ingest did not finish"):
        reader.create({"url": f"{ROOT}/{'b' * 40}", "region": "us-east-1"})
    assert reader.diff("x", {"url": outs["url"]}, {"url": outs["url"]}).changes is False


@pytest.mark.parametrize("provider_class", [ModelUploadProvider, VersionManifestProvider, HfRevisionProvider])
def test_providers_load_in_any_working_directory(provider_class, tmp_path):
    """The engine starts ``python -m pulumi.dynamic`` where it likes; the pickle must still load.
    It names the class (no code), so editing a provider does not change every resource's inputs."""
    serialized = serialize_provider(provider_class())
    assert len(base64.b64decode(serialized)) < 400
    code = ("import base64, dill, sys; p = dill.loads(base64.b64decode(sys.argv[1])); "
            "print(type(p).__module__ + '.' + type(p).__name__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code, serialized], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == f"{provider_class.__module__}.{provider_class.__name__}"


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args)
        return "id-" + args.name, dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def test_a_pinned_upload_knows_its_url_before_anything_runs(model_dir):
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=True)

    @pulumi.runtime.test
    def check():
        upload = ModelUpload("llama", root_url=ROOT, source_dir=model_dir, expected_digest="a" * 64,
                             exclude=["original/*"])

        def registered(url: str) -> None:
            assert url == f"{ROOT}/{'a' * 64}"
            (args,) = mocks.registered
            assert args.typ == "pulumi-python:dynamic/model:ModelUpload"
            assert args.inputs["exclude"] == ["original/*"] and args.inputs["concurrency"] == 8

        return upload.url.apply(registered)

    check()
