"""ModelArtifact: the in-cluster Hugging Face ingest Job and the local-directory upload."""
from __future__ import annotations

import json

from components import versions
from tests import harness


def env_of(job) -> dict:
    container = job.plain["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_ingest_job_spec(stack):
    run = stack("aws-prod")
    job = run.one("Job")
    pod = job.plain["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-ingest" and pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["image"] == versions.INGEST_IMAGE
    assert set(versions.INGEST_PACKAGES) <= set(container["command"])
    env = env_of(job)
    assert env["HF_REPO"] == "NousResearch/Meta-Llama-3.1-8B-Instruct"
    assert env["HF_REVISION"] == "d10aef7999a2b5ba950ab3974312feeedbfe0b77"
    assert json.loads(env["EXCLUDE"]) == ["original/**"]
    assert env["TARGET_URL"].endswith("/models/llama-31-8b-instruct")
    assert "HF_TOKEN" not in env  # public model: no token Secret
    assert pod["nodeSelector"] == {"kserve-fluid/role": "cache"}
    assert "ttlSecondsAfterFinished" not in job.plain["spec"]  # Pulumi would recreate a vanished Job
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["work"]["emptyDir"]["sizeLimit"] == "20Gi"  # 15 GiB x 1.2 + 2
    code = run.one("ConfigMap").plain["data"]
    assert set(code) == {"ingest.py", "sync.py"}


def test_ingest_job_reruns_only_when_the_source_changes(stack):
    base = stack("aws-dev").one("Job").metadata["name"]
    same = harness.run("aws-dev", config=harness.stack_config("aws-dev", {"inference": {"maxReplicas": 1,
                                                                                        "cpu": "2"}}))
    assert same.one("Job").metadata["name"] == base
    cfg = harness.stack_config("aws-dev")
    release = json.loads(cfg["kserve-fluid:release"])
    release["model"]["exclude"] = ["*.bin"]
    cfg["kserve-fluid:release"] = json.dumps(release)
    assert harness.run("aws-dev", config=cfg).one("Job").metadata["name"] != base
    assert stack("aws-dev").one("Job").plain["metadata"]["name"].startswith("bloom-560m-ingest-")


def test_the_model_waits_for_the_ingest(stack):
    run = stack("aws-dev")
    assert run.depends_on(run.one("DataLoad"), run.one("Job"))
    assert run.one("Job").custom_timeouts["create"] == "90m"


def test_hf_token_is_a_secret_end_to_end():
    cfg = harness.stack_config("aws-dev", secrets={"hfToken": "hf_abc"})
    run = harness.run("aws-dev", config=cfg, secret_keys=("hfToken",))
    secret = run.one("kubernetes:core/v1:Secret")
    data = secret.inputs["stringData"]
    assert isinstance(data, harness.Secret) or isinstance(data["HF_TOKEN"], harness.Secret)
    assert env_of(run.one("Job"))["HF_TOKEN"]["secretKeyRef"]["key"] == "HF_TOKEN"
    assert "hf_abc" not in json.dumps(run.one("Job").inputs, default=str)


def test_local_directory_is_uploaded_by_the_dynamic_provider(stack):
    run = stack("alicloud-prod")
    upload = run.one("pulumi-python:dynamic/model:ModelUpload")
    props = upload.plain
    assert props["url"].startswith("oss://") and props["url"].endswith("/models/bloom-7b1")
    assert props["source_dir"].endswith("models/bloom-7b1")
    assert props["endpoint"] == "oss-cn-hangzhou.aliyuncs.com"  # public endpoint from the laptop
    assert not run.of_type("Job")
    assert run.depends_on(run.one("DataLoad"), upload)
