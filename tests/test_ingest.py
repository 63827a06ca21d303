"""The in-cluster ingest script: clear errors before anything is written, then download and sync."""
from __future__ import annotations

import sys
import types

import pytest

from components.model import ingest


class RevisionNotFoundError(Exception):
    pass


class GatedRepoError(Exception):
    pass


class RepositoryNotFoundError(Exception):
    pass


@pytest.fixture
def hub(monkeypatch):
    """A stand-in huggingface_hub: records downloads, raises what the test asks for."""
    state = {"raise": None, "downloads": [], "sha": "c" * 40}

    class HfApi:
        def __init__(self, token=None):
            state["token"] = token

        def model_info(self, repo, revision):
            if state["raise"]:
                raise state["raise"]
            return types.SimpleNamespace(sha=state["sha"])

    def snapshot_download(repo, **kwargs):
        state["downloads"].append((repo, kwargs))

    module = types.ModuleType("huggingface_hub")
    module.HfApi, module.snapshot_download = HfApi, snapshot_download
    utils = types.ModuleType("huggingface_hub.utils")
    utils.RevisionNotFoundError, utils.GatedRepoError = RevisionNotFoundError, GatedRepoError
    utils.RepositoryNotFoundError = RepositoryNotFoundError
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    monkeypatch.setitem(sys.modules, "huggingface_hub.utils", utils)
    calls = []
    monkeypatch.setattr(ingest.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    state["sync_calls"] = calls
    for key, value in {"HF_REPO": "org/model", "HF_REVISION": "main", "TARGET_URL": "s3://b/models/m",
                       "INCLUDE": '["*.json", "*.safetensors"]', "EXCLUDE": '["original/**"]',
                       "REGION": "us-west-2", "CONCURRENCY": "8", "WORK_DIR": "/work/model"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("ENDPOINT", raising=False)
    return state


def test_downloads_the_resolved_commit_then_syncs(hub, capsys):
    assert ingest.main() == 0
    (repo, kwargs), = hub["downloads"]
    assert repo == "org/model" and kwargs["revision"] == "c" * 40  # the branch is pinned to what it resolved to
    assert kwargs["allow_patterns"] == ["*.json", "*.safetensors"] and kwargs["ignore_patterns"] == ["original/**"]
    (cmd,) = hub["sync_calls"]
    assert cmd[2:4] == ["/work/model", "s3://b/models/m"] and cmd[1].endswith("sync.py")
    assert cmd[cmd.index("--region") + 1] == "us-west-2" and ".cache/**" in cmd
    assert "is commit " + "c" * 40 in capsys.readouterr().out


@pytest.mark.parametrize("error,message", [
    (RevisionNotFoundError(), "ingest: revision 'main' not found in hf://org/model"),
    (GatedRepoError(), "ingest: hf://org/model is gated; accept its licence and set kserve-fluid:hfToken"),
    (RepositoryNotFoundError(), "ingest: repository hf://org/model not found"),
])
def test_errors_before_anything_is_written(hub, capsys, error, message):
    hub["raise"] = error
    assert ingest.main() == 2
    assert message in capsys.readouterr().err
    assert hub["downloads"] == [] and hub["sync_calls"] == []
