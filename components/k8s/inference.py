"""The KServe serving runtime and the InferenceService that reads the model through the cache's PVC."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.foundation import READER_SERVICE_ACCOUNT
from components.k8s.awaited import Awaited
from components.k8s.namespace import SERVER_SERVICE_ACCOUNT
from components.names import ModelNames

RUNTIME_NAME = "huggingface-fluid"
MODEL_DIR = "/mnt/models"
RELEASE_ANNOTATION = "kserve-fluid/release"
VERSION_ANNOTATION = "kserve-fluid/model-version"
# KServe's own huggingfaceserver runtime (charts/kserve-runtime-configs @v0.20.0); the image runs as uid 1000.
SECURITY_CONTEXT = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "privileged": False,
                    "capabilities": {"drop": ["ALL"]}}
# Reads the weights in parallel 1 GiB ranges in the background while Python, torch and vLLM import (seconds
# the server spends anyway), so vLLM's lazy mmap reads hit the page cache. Best effort: a read error is
# printed, never fatal. `exec` hands PID 1 to the server, so it receives SIGTERM on scale-down.
WARM_AND_SERVE = r"""warm() {
  find "$MODEL_DIR" -type f -size +0 -printf '%s\t%p\n' | while IFS="$(printf '\t')" read -r size path; do
    i=0
    while [ $((i * 1073741824)) -lt "$size" ]; do
      while [ "$(jobs -rp | wc -l)" -ge "$WARMUP_JOBS" ]; do wait -n; done
      { dd if="$path" of=/dev/null bs=16M skip=$((i * 64)) count=64 status=none \
          || echo "warm-up: cannot read $path; the server will read it itself"; } &
      i=$((i + 1))
    done
  done
  wait
}
if [ "${WARMUP_JOBS:-0}" -gt 0 ] 2>/dev/null && [ -d "$MODEL_DIR" ]; then warm & fi
exec python3 -m huggingfaceserver "$@"
"""
ENGINE_ENV = [
    {"name": "MODEL_DIR", "value": MODEL_DIR},
    {"name": "HF_HUB_OFFLINE", "value": "1"},
    # vLLM 0.24 JIT-compiles FlashInfer's sampler at every start: the image ships no prebuilt kernels
    # (huggingface_server.Dockerfile @v0.20.0); PyTorch's sampler needs no compile.
    {"name": "VLLM_USE_FLASHINFER_SAMPLER", "value": "0"},
]


def curl_command(scheme: str, address: str, host: str, model: str, authenticated: bool) -> str:
    """A ready-to-paste OpenAI completions request through the ingress gateway.

    Over HTTPS the connection goes to the gateway's address while TLS verifies the model's host name against
    the stack's CA (`pulumi stack output caCertificate > ca.pem`).
    """
    path = "/openai/v1/completions"
    target = (f"--cacert ca.pem --connect-to {host}:443:{address}:443 https://{host}{path}" if scheme == "https"
              else f"-H 'Host: {host}' http://{address}{path}")
    auth = ' -H "Authorization: Bearer $TOKEN"' if authenticated else ""
    body = json.dumps({"model": model, "prompt": "Hello, my name is", "max_tokens": 32})
    return f"curl {target}{auth} -H 'Content-Type: application/json' -d '{body}'"


@dataclass
class EngineSettings:
    min_replicas: int
    max_replicas: int
    scale_metric: str
    scale_target: int
    timeout_seconds: int
    gpus: int
    cpu: str
    memory: str
    max_model_len: int
    dtype: str
    gpu_memory_utilization: float
    eager: bool
    warmup_jobs: int
    extra_args: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)  # e.g. Knative pod-retention


@dataclass
class InferenceArgs:
    names: ModelNames
    namespace: pulumi.Input[str]
    serving_image: str  # already mirrored
    engine: EngineSettings
    pvc_name: str
    version: pulumi.Input[str]  # the cached version: resolves only once its DataLoad is Complete
    release_digest: str  # the release as configured (components.config.Release.digest)
    baseline_storage_uri: pulumi.Input[str] | None = None  # set: also deploy the storage-initializer A/B twin
    serverless_labels: dict[str, str] = field(default_factory=dict)
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # KServe + Knative ready, certificate


class InferenceEndpoint(pulumi.ComponentResource):
    """A ServingRuntime and a scale-to-zero InferenceService on the GPU pool with
    `storageUri: pvc://<dataset>/<model>/<version>`: KServe mounts the cache's PVC, nothing is downloaded.

    The predictor carries the release digest and the model version, so every release change (model, image,
    versions) rolls a new Knative revision; Pulumi waits for it to be Ready, and the old revision serves until
    then. A `pulumi up` that succeeds has proven this very release serves.
    """

    def __init__(self, name: str, args: InferenceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:InferenceEndpoint", name, None, opts)
        self.runtime = k8s.apiextensions.CustomResource(
            f"{name}-runtime", api_version="serving.kserve.io/v1alpha1", kind="ServingRuntime",
            metadata={"name": RUNTIME_NAME, "namespace": args.namespace},
            spec={
                "supportedModelFormats": [{"name": "huggingface", "version": "1", "autoSelect": True, "priority": 2}],
                "protocolVersions": ["v2", "v1"],
                "annotations": {"prometheus.kserve.io/path": "/metrics", "prometheus.kserve.io/port": "8080"},
                "containers": [{
                    "name": "kserve-container", "image": args.serving_image,
                    "command": ["/bin/bash", "-c", WARM_AND_SERVE, "serve"],
                    "args": ["--model_name={{.Name}}", f"--model_dir={MODEL_DIR}"],
                    "env": ENGINE_ENV, "securityContext": SECURITY_CONTEXT,
                    "volumeMounts": [{"name": "devshm", "mountPath": "/dev/shm"}],
                }],
                "volumes": [{"name": "devshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on))
        after = [self.runtime, *args.depends_on]
        storage = pulumi.Output.concat("pvc://", args.pvc_name, args.names.mount_path, "/", args.version)
        self.service = self._service(args.names.inference_service, args, storage, SERVER_SERVICE_ACCOUNT,
                                     args.engine.warmup_jobs, after)
        self.baseline = self._service(args.names.baseline_service, args, args.baseline_storage_uri,
                                      READER_SERVICE_ACCOUNT, 0, after) if args.baseline_storage_uri is not None else None
        # read from the awaited resource: known only once Knative reported this revision Ready
        self.served_release = self.service.spec.apply(lambda s: ((s or {}).get("predictor") or {}).get("annotations", {}).get(RELEASE_ANNOTATION))
        self.served_revision = self.service.status.apply(_ready_revision)
        self.register_outputs({"servedRelease": self.served_release, "servedRevision": self.served_revision})

    def _service(self, isvc: str, args: InferenceArgs, storage_uri: pulumi.Input[str], service_account: str,
                 warmup_jobs: int, depends_on: list[pulumi.Resource]) -> Awaited:
        e = args.engine
        limits = {"cpu": e.cpu, "memory": e.memory, "nvidia.com/gpu": str(e.gpus)}
        engine_args = [f"--max-model-len={e.max_model_len}", f"--dtype={e.dtype}",
                       f"--gpu-memory-utilization={e.gpu_memory_utilization}", f"--tensor-parallel-size={e.gpus}",
                       *(["--enforce-eager"] if e.eager else []), *e.extra_args]
        return Awaited(
            isvc, api_version="serving.kserve.io/v1beta1", kind="InferenceService",
            metadata={"name": isvc, "namespace": args.namespace, "labels": dict(args.serverless_labels),
                      "annotations": {"serving.kserve.io/deploymentMode": "Knative", "pulumi.com/waitFor": "condition=Ready"}},
            spec={"predictor": {
                "minReplicas": e.min_replicas,
                "maxReplicas": e.max_replicas,
                "scaleMetric": e.scale_metric,
                "scaleTarget": e.scale_target,
                "timeout": e.timeout_seconds,
                "serviceAccountName": service_account,
                "annotations": {RELEASE_ANNOTATION: args.release_digest, VERSION_ANNOTATION: args.version, **e.annotations},
                "nodeSelector": dict(scheduling.GPU_LABELS),
                "tolerations": [scheduling.toleration(scheduling.GPU_TAINT)],
                "model": {
                    "modelFormat": {"name": "huggingface"},
                    "runtime": RUNTIME_NAME,
                    "storageUri": storage_uri,
                    "args": engine_args,
                    "env": [{"name": "WARMUP_JOBS", "value": str(warmup_jobs)}],
                    "resources": {"requests": limits, "limits": limits},
                },
            }},
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on,
                                        custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m")))


def _ready_revision(status) -> str | None:
    predictor = ((status or {}).get("components") or {}).get("predictor") or {} if isinstance(status, dict) else {}
    return predictor.get("latestReadyRevision")
