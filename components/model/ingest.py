"""In-cluster Hugging Face ingest: download one pinned revision next to the bucket, then sync it up.

Runs inside the ingest Job (stdlib + the pinned hub/boto3/oss2 clients the Job installs); shipped with
`sync.py` in the same ConfigMap. Configured by environment variables so the Job spec shows everything.
"""
import json
import os
import subprocess
import sys


def main() -> int:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    repo, revision = os.environ["HF_REPO"], os.environ["HF_REVISION"]
    include = json.loads(os.environ.get("INCLUDE", "[]")) or None
    exclude = json.loads(os.environ.get("EXCLUDE", "[]")) or None
    target, local_dir = os.environ["TARGET_URL"], os.environ.get("WORK_DIR", "/work/model")
    token = os.environ.get("HF_TOKEN") or None
    try:
        info = HfApi(token=token).model_info(repo, revision=revision)
    except RevisionNotFoundError:
        print(f"ingest: revision {revision!r} not found in hf://{repo}", file=sys.stderr)
        return 2
    except GatedRepoError:
        print(f"ingest: hf://{repo} is gated; accept its licence and set kserve-fluid:hfToken", file=sys.stderr)
        return 2
    except RepositoryNotFoundError:
        print(f"ingest: repository hf://{repo} not found (or private without kserve-fluid:hfToken)", file=sys.stderr)
        return 2
    print(f"ingest: hf://{repo}@{revision} is commit {info.sha}", flush=True)
    snapshot_download(repo, revision=info.sha, allow_patterns=include, ignore_patterns=exclude,
                      local_dir=local_dir, token=token, max_workers=int(os.environ.get("CONCURRENCY", "8")))
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sync.py"), local_dir, target,
           "--concurrency", os.environ.get("CONCURRENCY", "8"),
           "--exclude", ".cache/**"]  # snapshot_download's own bookkeeping, not part of the model
    for flag, env in (("--region", "REGION"), ("--endpoint", "ENDPOINT")):
        if os.environ.get(env):
            cmd += [flag, os.environ[env]]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
