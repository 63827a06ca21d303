"""ModelArtifact: one immutable model version in the bucket, from a laptop directory or Hugging Face.

* A local directory is uploaded from where ``pulumi up`` runs, as ``<root>/<digest>/``
  (:class:`ModelUpload`).  It waits for the bucket only (``upload_depends_on`` + ``store.ready``),
  so a long upload overlaps cluster creation.
* ``hf://org/name`` is resolved to a commit inside Pulumi (:class:`HfRevision`) and ingested by a
  Job in the cluster, next to the bucket, as ``<root>/<commit>/``.  The Job is named after the
  model and the commit, fails at once on configuration errors (exit code 2), and its result is
  read back (:class:`VersionManifest`) so ``digest`` is the content's, not the configuration's.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.foundation import ModelStore
from components.model.hf_revision import HfRevision
from components.model.upload_provider import ModelUpload, VersionManifest


@dataclass
class ModelArtifactArgs:
    model: Any  # components.config.ModelSource (name, source, revision, include, exclude, size_gi, digest)
    store: ModelStore
    namespace: pulumi.Input[str]
    ingest_service_account: str
    ingest_image: str
    placement: dict[str, Any] = field(default_factory=dict)  # nodeSelector and tolerations of the Job
    hf_token: pulumi.Input[str] | None = None
    hf_endpoint: str | None = None
    concurrency: int = 16
    upload_depends_on: list[pulumi.Resource] = field(default_factory=list)
    job_depends_on: list[pulumi.Resource] = field(default_factory=list)


def ingest_minutes(size_gi: float) -> int:
    """How long the Job may take: 20 min, plus 4 min/GiB (download and upload at ≥ 8 MiB/s)."""
    return 20 + math.ceil(4 * size_gi)


class ModelArtifact(pulumi.ComponentResource):
    """``url`` = ``root_url``/``version``: the version the cache must load; ``ready``: what it waits for."""

    root_url: pulumi.Output[str]
    version: pulumi.Output[str]
    url: pulumi.Output[str]
    digest: pulumi.Output[str]
    revision: pulumi.Output[str]
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ModelArtifactArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kserve-fluid:model:ModelArtifact", name, None, opts)
        m, store = args.model, args.store
        self.root_url = store.url(m.name)
        if m.source.startswith("hf://"):
            self._from_hub(name, args)
        else:
            self._from_directory(name, args)
        self.url = pulumi.Output.concat(self.root_url, "/", self.version)
        self.register_outputs({"rootUrl": self.root_url, "version": self.version, "url": self.url,
                               "digest": self.digest, "revision": self.revision})

    def _from_directory(self, name: str, args: ModelArtifactArgs) -> None:
        m, store = args.model, args.store
        upload = ModelUpload(
            name, root_url=self.root_url, source_dir=str(Path(m.source).expanduser().resolve()),
            expected_digest=getattr(m, "digest", None), region=store.region, endpoint=store.upload_endpoint(),
            include=list(m.include), exclude=list(m.exclude), concurrency=args.concurrency,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*store.ready, *args.upload_depends_on]))
        self.version = self.digest = self.revision = upload.digest
        self.ready = [upload]

    def _from_hub(self, name: str, args: ModelArtifactArgs) -> None:
        m, store = args.model, args.store
        repo = m.source.removeprefix("hf://")
        revision = HfRevision(f"{name}-revision", repo=repo, revision=m.revision, token=args.hf_token,
                              endpoint=args.hf_endpoint, opts=pulumi.ResourceOptions(parent=self))
        # The provider always reports `commit` (a branch it cannot resolve fails `check`); an engine mock that
        # echoes inputs reports none for a branch, and the branch's name then stands in for it.
        self.version = self.revision = revision.commit.apply(lambda commit: commit or m.revision)
        job = self._ingest_job(name, args, repo)
        manifest = VersionManifest(
            f"{name}-manifest", url=pulumi.Output.concat(self.root_url, "/", self.version), region=store.region,
            endpoint=store.upload_endpoint(), opts=pulumi.ResourceOptions(parent=self, depends_on=[job]))
        self.digest = manifest.digest
        self.ready = [job, manifest]

    def _ingest_job(self, name: str, args: ModelArtifactArgs, repo: str) -> k8s.batch.v1.Job:
        m, store = args.model, args.store
        after = [*store.ready, *args.job_depends_on]
        env: list[dict[str, Any]] = [
            {"name": "HF_REPO", "value": repo}, {"name": "HF_REVISION", "value": self.version},
            {"name": "MODEL_ROOT", "value": self.root_url},
            {"name": "INCLUDE", "value": json.dumps(list(m.include))},
            {"name": "EXCLUDE", "value": json.dumps(list(m.exclude))},
            {"name": "CONCURRENCY", "value": str(args.concurrency)},
            {"name": "HOME", "value": "/work"}, {"name": "TMPDIR", "value": "/work"},
            {"name": "WORK_DIR", "value": "/work/model"}, {"name": "HF_HOME", "value": "/work/hf-home"},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}, {"name": "HF_HUB_DISABLE_PROGRESS_BARS", "value": "1"},
            *([{"name": "HF_ENDPOINT", "value": args.hf_endpoint}] if args.hf_endpoint else []),
            *store.ingest_env(),
        ]
        if args.hf_token is not None:
            token = k8s.core.v1.Secret(
                f"{name}-hf-token", metadata={"namespace": args.namespace}, type="Opaque",
                string_data={"HF_TOKEN": pulumi.Output.secret(args.hf_token)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.job_depends_on))
            env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": token.metadata.name,
                                                                         "key": "HF_TOKEN"}}})
            after.append(token)
        scratch = f"{math.ceil(m.size_gi * 1.2) + 2}Gi"  # the download, plus huggingface_hub's own files
        minutes = ingest_minutes(m.size_gi)
        return k8s.batch.v1.Job(
            f"{name}-ingest",
            metadata={"name": self.version.apply(lambda v: names.ingest_job(m.name, v)), "namespace": args.namespace,
                      "labels": {"app.kubernetes.io/name": "model-ingest", "app.kubernetes.io/instance": m.name}},
            spec={
                "backoffLimit": 2,
                "activeDeadlineSeconds": minutes * 60,
                "ttlSecondsAfterFinished": 24 * 3600,  # a re-created Job finds the version finished at once
                "podFailurePolicy": {"rules": [
                    {"action": "FailJob", "onExitCodes": {"containerName": "ingest", "operator": "In", "values": [2]}},
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                ]},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "model-ingest"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": args.ingest_service_account,
                        **args.placement,
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                            "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "ingest", "image": args.ingest_image,
                            "command": ["python", "-m", "components.model.ingest"],
                            "env": env,
                            "resources": {"requests": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": scratch},
                                          "limits": {"memory": "8Gi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
                        }],
                        "volumes": [{"name": "work", "emptyDir": {"sizeLimit": scratch}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=after, delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{minutes + 5}m", update=f"{minutes + 5}m")))
