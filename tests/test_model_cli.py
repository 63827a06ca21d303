"""``python -m components.model``: one line and exit code 2 for every bad flag, a JSON summary, and Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from components.model import cli

BUCKET = "model-bucket"
ROOT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path) -> str:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_bytes(b"{}")
    (tmp_path / "m" / "w.safetensors").write_bytes(os.urandom(50_000))
    return str(tmp_path / "m")


@pytest.mark.parametrize("flags, message", [
    (["--part-size-mib", "0"], "error: --part-size-mib 0: must be between 5 and 5120 (S3 and OSS part limits)"),
    (["--part-size-mib", "6000"], "error: --part-size-mib 6000: must be between 5 and 5120"),
    (["--concurrency", "0"], "error: --concurrency 0: must be between 1 and 64"),
    (["--concurrency", "x"], "error: argument --concurrency: invalid int value: 'x'"),
    (["--endpoint", "http://s3.example.com"], "error: --endpoint 'http://s3.example.com': use https://"),
])
def test_bad_flags_are_one_line_exit_2(s3, model_dir, capsys, flags, message):
    code = cli.main(["upload", model_dir, f"s3://{BUCKET}/models/m", "--region", "us-east-1", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(message) and len(err.splitlines()) == 1


def test_a_directory_that_is_not_the_pinned_digest_is_refused(s3, model_dir, capsys):
    code = cli.main(["upload", model_dir, f"s3://{BUCKET}/models/m", "--region", "us-east-1", "--digest", "a" * 64])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "has digest" in err and f"pins {'a' * 64}" in err and len(err.splitlines()) == 1
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_upload_digest_verify_and_prune(s3, model_dir, capsys):
    assert cli.main(["digest", model_dir]) == 0
    digest = capsys.readouterr().out.strip()
    assert cli.main(["upload", model_dir, f"s3://{BUCKET}/models/m", "--region", "us-east-1", "--digest", digest]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["version"] == digest and summary["uploaded"] == 2 and summary["url"].endswith(digest)
    assert cli.main(["verify", f"s3://{BUCKET}/models/m/{digest}", "--region", "us-east-1"]) == 0
    capsys.readouterr()
    assert cli.main(["prune", f"s3://{BUCKET}/models/m", "--keep", "1", "--region", "us-east-1"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True


def test_the_first_stop_signal_asks_politely_and_the_second_does_not_wait():
    cancel = threading.Event()
    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        cli.install_stop_handlers(cancel)
        os.kill(os.getpid(), signal.SIGTERM)
        assert cancel.is_set()
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def test_ctrl_c_while_hashing_stops_with_130_and_says_how_to_resume(tmp_path):
    (tmp_path / "big").mkdir()
    with open(tmp_path / "big" / "shard.bin", "wb") as f:
        f.truncate(8 * 1024**3)  # sparse: hashing takes seconds, no disk used
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x"}
    proc = subprocess.Popen([sys.executable, "-m", "components.model", "upload", str(tmp_path / "big"),
                             "s3://bucket-x/models/m", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:9",
                             "--allow-http"], cwd=ROOT_DIR, env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "hashing" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(lines) + rest
    assert "run the same command again to resume" in rest
