"""The in-cluster ingest, run with the real huggingface_hub against a Hub on loopback (tests/test_model_fakes.py)
and S3 in moto: every configuration error is one line, exit code 2 and happens before any download."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from components.model import ingest, stores
from components.model.errors import BucketNotWritableError
from components.model.manifest import MANIFEST_NAME
from tests.test_model_fakes import FakeHub, HubRepo

BUCKET = "model-bucket"
COMMIT = "c" * 40
ROOT = f"s3://{BUCKET}/models/m"
FILES = {"config.json": b'{"a": 1}', "model.safetensors": os.urandom(200_000), "README.md": b"# hi",
         "original/consolidated.pth": b"x" * 1000}


@pytest.fixture
def hub():
    repos = {"org/m": HubRepo(dict(FILES), commit=COMMIT, branches={"main": COMMIT}),
             "org/gated": HubRepo(dict(FILES), commit=COMMIT, branches={"main": COMMIT}, gated=True,
                                  readers={"hf_ok"}),
             "org/private": HubRepo(dict(FILES), commit=COMMIT, private=True)}
    with FakeHub(repos) as server:
        yield server


@pytest.fixture
def env(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "install_stop_handlers", lambda cancel: None)  # keep pytest's Ctrl-C
    return {"HF_REPO": "org/m", "HF_REVISION": "main", "MODEL_ROOT": ROOT, "REGION": "us-east-1",
            "INCLUDE": json.dumps(["*.json", "*.safetensors", "*.md", "original/*"]), "EXCLUDE": '["*.md"]',
            "CONCURRENCY": "4", "WORK_DIR": str(tmp_path / "work"), "HF_ENDPOINT": hub.url}


def downloads(hub) -> list[str]:
    return [path for method, path in hub.requests if "/resolve/" in path and method == "GET"]


def objects(s3) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_ingests_the_resolved_commit_as_its_version(s3, hub, env, capsys):
    assert ingest.main(env) == 0
    out = capsys.readouterr().out
    assert f"hf://org/m@main is commit {COMMIT}" in out
    stored = objects(s3)
    prefix = f"models/m/{COMMIT}/"
    assert sorted(stored) == sorted(prefix + p for p in ["config.json", "model.safetensors",
                                                        "original/consolidated.pth", MANIFEST_NAME])
    assert stored[prefix + "model.safetensors"] == FILES["model.safetensors"]  # README excluded, no .cache/
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["url"] == f"{ROOT}/{COMMIT}" and summary["files"] == 3

    hub.requests.clear()  # a retry, or a Job re-created after its TTL
    assert ingest.main(env) == 0
    assert downloads(hub) == [] and "already finished" in capsys.readouterr().out


def test_changed_patterns_for_a_finished_commit_are_refused(s3, hub, env, capsys):
    assert ingest.main(env) == 0
    hub.requests.clear()
    assert ingest.main({**env, "EXCLUDE": '["*.md", "original/*"]'}) == 2
    err = capsys.readouterr().err
    assert "holds another file set than INCLUDE/EXCLUDE select now" in err and downloads(hub) == []


@pytest.mark.parametrize("overrides, message", [
    ({"HF_REPO": "org/gated"}, "ingest: error: hf://org/gated is gated and no token is set: accept its licence"),
    ({"HF_REPO": "org/gated", "HF_TOKEN": "hf_other"}, "hf://org/gated is gated and the token has no access"),
    ({"HF_REPO": "org/private"}, "repository hf://org/private not found, or private and no token is set"),
    ({"HF_REVISION": "nope"}, "ingest: error: revision 'nope' not found in hf://org/m"),
    ({"MODEL_ROOT": "s3://no-such-bucket/models/m"}, "bucket s3://no-such-bucket does not exist"),
])
def test_configuration_errors_are_one_line_exit_2_before_any_download(s3, hub, env, capsys, overrides, message):
    assert ingest.main({**env, **overrides}) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert downloads(hub) == [] and objects(s3) == {}


def test_a_gated_repository_with_an_accepted_token_is_ingested(s3, hub, env):
    assert ingest.main({**env, "HF_REPO": "org/gated", "HF_TOKEN": "hf_ok"}) == 0
    assert f"models/m/{COMMIT}/{MANIFEST_NAME}" in objects(s3)


def test_a_read_only_bucket_fails_before_the_download(s3, hub, env, capsys, monkeypatch):
    def refuse(self, key, data, content_type):
        raise BucketNotWritableError(f"bucket s3://{BUCKET} is not writable with the current credentials")

    monkeypatch.setattr(stores.S3Store, "put_bytes", refuse)
    assert ingest.main(env) == 2
    assert "is not writable" in capsys.readouterr().err and downloads(hub) == []


@pytest.mark.parametrize("overrides, message", [
    ({"CONCURRENCY": "0"}, "CONCURRENCY='0': must be an integer between 1 and 64"),
    ({"INCLUDE": "*.json"}, "INCLUDE='*.json': not JSON"),
    ({"EXCLUDE": '{"a": 1}'}, "EXCLUDE='{\"a\": 1}': must be a JSON list of glob strings"),
    ({"MODEL_ROOT": ""}, "MODEL_ROOT is not set"),
    ({"MODEL_ROOT": "gs://b/m"}, "bucket URL 'gs://b/m' must look like s3://bucket/prefix"),
    ({"HF_REPO": "just-a-name"}, "HF_REPO='just-a-name': must be <org>/<name>"),
])
def test_bad_settings_name_the_variable(env, capsys, overrides, message):
    assert ingest.main({**env, **overrides}) == 2
    assert message in capsys.readouterr().err


def test_oss_needs_crcmods_c_extension(env, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "crcmod._crcfunext", None)  # import fails, as in an image without a compiler
    assert ingest.main({**env, "MODEL_ROOT": "oss://bucket-x/models/m", "REGION": "cn-hangzhou"}) == 2
    assert "crcmod's C extension (crcmod._crcfunext) does not import" in capsys.readouterr().err


def test_the_pinned_huggingface_hub_honours_hf_endpoint(hub, tmp_path):
    """A Hub mirror is configured by HF_ENDPOINT alone: huggingface_hub reads it at import."""
    code = ("import sys; from huggingface_hub import HfApi, snapshot_download; print(HfApi().endpoint); "
            "snapshot_download('org/m', revision=sys.argv[1], local_dir=sys.argv[2], token=False, "
            "allow_patterns=['config.json'])")
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "0"}
    out = subprocess.run([sys.executable, "-c", code, COMMIT, str(tmp_path / "dl")], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[0] == hub.url
    assert downloads(hub) == [f"/org/m/resolve/{COMMIT}/config.json"]
    assert (tmp_path / "dl" / "config.json").read_bytes() == FILES["config.json"]


def test_the_module_exits_2_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODEL_ROOT"))}
    done = subprocess.run([sys.executable, "-m", "components.model.ingest"], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 2 and done.stderr.strip() == "ingest: error: HF_REPO is not set"
