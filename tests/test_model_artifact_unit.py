"""ModelArtifact's own contract, run under the mocks with a fake ModelStore (the clouds' stores are wired
by the program; these tests hold whatever store implements the protocol)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pytest

from components.config import ModelSource
from components.model.artifact import ModelArtifact, ModelArtifactArgs, ingest_minutes
from components.model.upload_provider import VersionManifest
from tests import harness

COMMIT = "d10aef7999a2b5ba950ab3974312feeedbfe0b77"
DIGEST = "a" * 64


class Source(ModelSource):
    digest: str | None = None  # the field config.py gains (the integrator adds it)


@dataclass
class FakeStore:
    scheme: str = "oss"
    bucket: str = "models-bucket"
    prefix: str = "models"
    region: str = "cn-hangzhou"
    ready: list = field(default_factory=list)

    def url(self, model: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.scheme, "://", self.bucket, "/", self.prefix, "/", model)

    def upload_endpoint(self) -> str:
        return "https://oss-cn-hangzhou.aliyuncs.com"

    def ingest_env(self) -> list[dict]:
        return [{"name": "REGION", "value": self.region},
                {"name": "ENDPOINT", "value": "https://oss-cn-hangzhou-internal.aliyuncs.com"}]


def artifact_run(model: ModelSource, **kwargs) -> tuple[harness.Run, dict]:
    made: dict = {}

    def program():
        store = FakeStore(ready=[pulumi.CustomResource("test:index:BucketPolicy", "bucket-policy")])
        cluster = pulumi.CustomResource("test:index:NodePool", "gpu-pool")
        account = pulumi.CustomResource("test:index:ServiceAccount", "ingest-account")
        args = ModelArtifactArgs(
            model=model, store=store, namespace="models", ingest_service_account="model-ingest",
            ingest_image="ghcr.io/example/ingest@sha256:" + "0" * 64,
            placement={"nodeSelector": {"kserve-fluid/role": "cache"},
                       "tolerations": [{"key": "kserve-fluid/role", "value": "cache", "effect": "NoSchedule"}]},
            upload_depends_on=[], job_depends_on=[cluster, account], **kwargs)
        made["artifact"] = artifact = ModelArtifact(model.name, args)
        pulumi.export("url", artifact.url)
        pulumi.export("digest", artifact.digest)
        pulumi.export("revision", artifact.revision)

    run = harness.run("alicloud-dev", program=program, config={})
    assert run.error is None, repr(run.error)
    return run, made


def env_of(job) -> dict:
    container = job.plain["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def hub_model(**overrides) -> Source:
    return Source(**{"name": "llama-31-8b", "source": "hf://org/llama", "revision": COMMIT, "size_gi": 15,
                     "exclude": ("original/**",), **overrides})


def test_a_local_directory_waits_for_the_bucket_only_and_pins_its_digest(tmp_path):
    run, _ = artifact_run(Source(name="bloom", source=str(tmp_path), size_gi=1, digest=DIGEST))
    upload = run.one("pulumi-python:dynamic/model:ModelUpload")
    assert upload.plain["expected_digest"] == DIGEST and upload.plain["endpoint"].startswith("https://")
    assert run.depends_on(upload, run.one("test:index:BucketPolicy"))
    assert not run.depends_on(upload, run.one("test:index:NodePool"))  # overlaps cluster creation
    assert upload.plain["url"] == f"oss://models-bucket/models/bloom/{DIGEST}"  # known before anything runs
    assert upload.plain["digest"] == upload.plain["version"] == DIGEST
    assert not run.of_type("Job")


def test_a_hub_model_is_ingested_by_a_job_named_after_its_commit(tmp_path):
    run, made = artifact_run(hub_model(), hf_endpoint="https://hf-mirror.example.com")
    job = run.one("kubernetes:batch/v1:Job")
    spec, pod = job.plain["spec"], job.plain["spec"]["template"]["spec"]
    assert job.plain["metadata"]["name"] == f"llama-31-8b-ingest-{COMMIT[:10]}"
    assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] > 0
    assert {"action": "FailJob", "onExitCodes": {"containerName": "ingest", "operator": "In", "values": [2]}} \
        in spec["podFailurePolicy"]["rules"]
    assert job.delete_before_replace
    assert job.custom_timeouts["create"] == f"{ingest_minutes(15) + 5}m" and spec["activeDeadlineSeconds"] == \
        ingest_minutes(15) * 60
    assert pod["serviceAccountName"] == "model-ingest" and pod["nodeSelector"] == {"kserve-fluid/role": "cache"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "components.model.ingest"]
    assert container["image"].startswith("ghcr.io/example/ingest@sha256:")
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {v["name"]: v for v in pod["volumes"]}["work"]["emptyDir"]["sizeLimit"] == "20Gi"  # 15 x 1.2 + 2
    env = env_of(job)
    assert env["HF_REVISION"] == COMMIT and env["MODEL_ROOT"] == "oss://models-bucket/models/llama-31-8b"
    assert env["HF_ENDPOINT"] == "https://hf-mirror.example.com"
    assert env["ENDPOINT"] == "https://oss-cn-hangzhou-internal.aliyuncs.com" and "HF_TOKEN" not in env
    assert run.depends_on(job, run.one("test:index:NodePool")) and run.depends_on(job, run.one("test:index:BucketPolicy"))
    manifest = run.one("pulumi-python:dynamic/model:VersionManifest")
    assert run.depends_on(manifest, job)
    assert manifest.plain["url"] == f"oss://models-bucket/models/llama-31-8b/{COMMIT}"
    assert run.outputs["url"] == manifest.plain["url"] and run.outputs["revision"] == COMMIT
    assert made["artifact"].ready[-1] is not None and len(made["artifact"].ready) == 2
    assert run.one("pulumi-python:dynamic/model:HfRevision").plain["commit"] == COMMIT


def test_the_digest_of_a_hub_model_is_read_from_its_manifest_not_the_configuration():
    run, made = artifact_run(hub_model())
    job, manifest = made["artifact"].ready
    assert isinstance(manifest, VersionManifest) and made["artifact"].digest is manifest.digest
    assert run.depends_on(run.one("pulumi-python:dynamic/model:VersionManifest"), run.one("kubernetes:batch/v1:Job"))


def test_the_hf_token_is_a_secret_end_to_end():
    run, _ = artifact_run(hub_model(), hf_token=pulumi.Output.secret("hf_abc"))
    secret = run.one("kubernetes:core/v1:Secret")
    data = secret.inputs["stringData"]
    assert isinstance(data, harness.Secret) or isinstance(data["HF_TOKEN"], harness.Secret)
    job = run.one("kubernetes:batch/v1:Job")
    assert env_of(job)["HF_TOKEN"]["secretKeyRef"]["key"] == "HF_TOKEN"
    assert "hf_abc" not in str(job.inputs)
    assert isinstance(run.one("pulumi-python:dynamic/model:HfRevision").inputs["token"], harness.Secret)


@pytest.mark.parametrize("size_gi, minutes", [(1, 24), (15, 80), (140, 580)])
def test_the_job_timeout_grows_with_the_model(size_gi, minutes):
    assert ingest_minutes(size_gi) == minutes
