"""ModelArtifact: get the model's files into `<bucket>/<prefix>/<model>/`, from a laptop or from Hugging Face."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling, versions
from components.config import ModelSource
from components.foundation import INGEST_SERVICE_ACCOUNT, ModelStore
from components.model.upload_provider import ModelUpload

_MODEL_CODE = Path(__file__).resolve().parent.parent / "model"


@dataclass
class ModelArtifactArgs:
    model: ModelSource
    store: ModelStore
    namespace: pulumi.Input[str]
    hf_token: pulumi.Input[str] | None = None
    concurrency: int = 16
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ModelArtifact(pulumi.ComponentResource):
    """Puts one model version in the bucket and says which: `digest` changes exactly when the bytes do.

    - A local directory is synced from where `pulumi up` runs (multipart, parallel, incremental; a no-op
      `up` re-reads no bytes; nothing is uploaded during `preview`).
    - `hf://<org>/<repo>` at a revision is ingested by a Job inside the cluster, next to the bucket, so no
      model bytes cross the user's link. The Job's name carries a hash of repo, revision and patterns: it
      re-runs only when one of them changes, and Pulumi waits for it to complete.
    Both write a manifest (path, size, sha256) beside the model.
    """

    def __init__(self, name: str, args: ModelArtifactArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:ModelArtifact", name, None, opts)
        m, store = args.model, args.store
        self.url = store.url(m.name)
        after = [*args.depends_on, *store.ready]
        if m.from_hugging_face:
            key = hashlib.sha256(json.dumps([m.source, m.revision, m.include, m.exclude]).encode()).hexdigest()
            self.ready: pulumi.Resource = self._ingest_job(name, args, key, after)
            self.digest: pulumi.Output[str] = pulumi.Output.from_input(key)
        else:
            upload = ModelUpload(name, url=self.url, source_dir=str(Path(m.source).expanduser().resolve()),
                                 region=store.region, endpoint=_public_endpoint(store),
                                 include=list(m.include), exclude=list(m.exclude), concurrency=args.concurrency,
                                 opts=pulumi.ResourceOptions(parent=self, depends_on=after))
            self.ready, self.digest = upload, upload.manifest_digest
        self.register_outputs({"url": self.url, "digest": self.digest})

    def _ingest_job(self, name: str, args: ModelArtifactArgs, key: str,
                    after: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        m, store = args.model, args.store
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        code = k8s.core.v1.ConfigMap(f"{name}-ingest-code", metadata={"namespace": args.namespace}, data={
            "ingest.py": (_MODEL_CODE / "ingest.py").read_text(), "sync.py": (_MODEL_CODE / "sync.py").read_text()},
            opts=child)
        env = [
            {"name": "HF_REPO", "value": m.hf_repo}, {"name": "HF_REVISION", "value": m.revision},
            {"name": "INCLUDE", "value": json.dumps(list(m.include))},
            {"name": "EXCLUDE", "value": json.dumps(list(m.exclude))},
            {"name": "TARGET_URL", "value": self.url}, {"name": "REGION", "value": store.region},
            {"name": "CONCURRENCY", "value": str(args.concurrency)},
            {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "1"}, {"name": "PIP_DISABLE_PIP_VERSION_CHECK", "value": "1"},
        ]
        if store.scheme == "oss":
            env.append({"name": "ENDPOINT", "value": store.endpoint})
        if args.hf_token is not None:
            token = k8s.core.v1.Secret(f"{name}-hf-token", metadata={"namespace": args.namespace}, type="Opaque",
                                       string_data={"HF_TOKEN": pulumi.Output.secret(args.hf_token)}, opts=child)
            env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": token.metadata.name,
                                                                         "key": "HF_TOKEN"}}})
        scratch_gi = math.ceil(m.size_gi * 1.2) + 2
        return k8s.batch.v1.Job(
            f"{name}-ingest",
            metadata={"name": f"{m.name}-ingest-{key[:10]}", "namespace": args.namespace},
            spec={
                "backoffLimit": 2,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": INGEST_SERVICE_ACCOUNT,
                    # cache nodes: large, fast disks and the best network in the cluster
                    "nodeSelector": dict(scheduling.CACHE_LABELS),
                    "tolerations": [scheduling.toleration(scheduling.CACHE_TAINT)],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
                    "containers": [{
                        "name": "ingest", "image": versions.INGEST_IMAGE,
                        "command": ["sh", "-c", "pip install --quiet --user --no-cache-dir \"$@\" && "
                                    "exec python /opt/ingest/ingest.py", "install", *versions.INGEST_PACKAGES],
                        "env": [*env, {"name": "HOME", "value": "/work"}, {"name": "WORK_DIR", "value": "/work/model"}],
                        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "code", "mountPath": "/opt/ingest"},
                                         {"name": "work", "mountPath": "/work"}],
                    }],
                    "volumes": [{"name": "code", "configMap": {"name": code.metadata.name}},
                                {"name": "work", "emptyDir": {"sizeLimit": f"{scratch_gi}Gi"}}],
                }},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[code, *after], delete_before_replace=True,
                                        custom_timeouts=pulumi.CustomTimeouts(create="90m", update="90m")))


def _public_endpoint(store: ModelStore) -> pulumi.Input[str] | None:
    """The laptop uploads over the internet: OSS needs its public endpoint, S3 finds its own."""
    if store.scheme != "oss":
        return None
    return pulumi.Output.from_input(store.endpoint).apply(lambda e: e.replace("-internal", ""))
