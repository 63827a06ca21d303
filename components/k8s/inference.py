"""The KServe serving runtime and InferenceService that read the model through the cache's PVC."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.config import InferenceSettings
from components.foundation import READER_SERVICE_ACCOUNT
from components.k8s.namespace import SERVER_SERVICE_ACCOUNT

RUNTIME_NAME = "huggingface-warm"
MODEL_DIR = "/mnt/models"
# Reads every model file once, in parallel, before the server starts: safetensors loads with random
# reads, which are slow through a remote cache; sequential parallel reads pull the bytes into the
# node's page cache (kernel_cache keeps them) so the load that follows is served from memory.
WARMUP_AND_SERVE = r"""set -eu
if [ "${WARMUP_JOBS:-0}" -gt 0 ] && [ -d "$MODEL_DIR" ]; then
  started=$(date +%s)
  find "$MODEL_DIR" -type f -print0 | xargs -0 -r -P "$WARMUP_JOBS" -I{} dd if={} of=/dev/null bs=4M status=none
  echo "warm-up: read $(du -sh "$MODEL_DIR" | cut -f1) with $WARMUP_JOBS jobs in $(( $(date +%s) - started ))s"
fi
exec python3 -m huggingfaceserver "$@"
"""


def model_host(isvc: str, namespace: str, domain: str) -> str:
    """The Host an InferenceService answers on: Knative's default domain template <name>.<namespace>.<domain>."""
    return f"{isvc}.{namespace}.{domain}"


def curl_command(scheme: str, address: str, host: str, model: str, authenticated: bool) -> str:
    """A ready-to-paste OpenAI completions request through the ingress gateway.

    Over HTTPS the connection goes to the gateway's address while TLS verifies the model's host name.
    """
    path = "/openai/v1/completions"
    target = (f"--connect-to {host}:443:{address}:443 https://{host}{path}" if scheme == "https"
              else f"-H 'Host: {host}' http://{address}{path}")
    auth = ' -H "Authorization: Bearer $TOKEN"' if authenticated else ""
    body = json.dumps({"model": model, "prompt": "Hello, my name is", "max_tokens": 32})
    return f"curl {target}{auth} -H 'Content-Type: application/json' -d '{body}'"


def baseline_name(model: str) -> str:
    return f"{model}-baseline"


@dataclass
class InferenceArgs:
    namespace: pulumi.Input[str]
    model: str
    serving_image: str
    settings: InferenceSettings
    pvc_name: str
    model_path: str  # path of the model inside the PVC
    domain: str
    baseline_storage_uri: pulumi.Input[str] | None = None  # set: also deploy the storage-initializer A/B twin
    # the cache is warm and KServe + Knative are ready
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class InferenceEndpoint(pulumi.ComponentResource):
    """A ServingRuntime that warms the page cache, and a scale-to-zero InferenceService on the GPU pool
    with `storageUri: pvc://<dataset>/<model>`: KServe mounts the cache's PVC, nothing is downloaded.

    Pulumi waits for the InferenceService to be Ready (the first revision loads the model once, then
    Knative scales it to zero), so a `pulumi up` that succeeds has proven the release serves.
    """

    def __init__(self, name: str, args: InferenceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:InferenceEndpoint", name, None, opts)
        s = args.settings
        self.runtime = k8s.apiextensions.CustomResource(
            f"{name}-runtime", api_version="serving.kserve.io/v1alpha1", kind="ServingRuntime",
            metadata={"name": RUNTIME_NAME, "namespace": args.namespace},
            spec={
                "supportedModelFormats": [{"name": "huggingface", "version": "1", "autoSelect": True, "priority": 2}],
                "protocolVersions": ["v2", "v1"],
                "annotations": {"prometheus.kserve.io/path": "/metrics", "prometheus.kserve.io/port": "8080"},
                "containers": [{
                    "name": "kserve-container", "image": args.serving_image,
                    "command": ["/bin/bash", "-c", WARMUP_AND_SERVE, "serve"],
                    "args": ["--model_name={{.Name}}", f"--model_dir={MODEL_DIR}"],
                    "env": [{"name": "MODEL_DIR", "value": MODEL_DIR}, {"name": "HF_HUB_OFFLINE", "value": "1"}],
                    "volumeMounts": [{"name": "devshm", "mountPath": "/dev/shm"}],
                }],
                "volumes": [{"name": "devshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on))
        after = [self.runtime, *args.depends_on]
        self.service = self._inference_service(args.model, args, f"pvc://{args.pvc_name}{args.model_path}",
                                               SERVER_SERVICE_ACCOUNT, s.warmup_jobs, after)
        self.baseline = self._inference_service(
            baseline_name(args.model), args, args.baseline_storage_uri, READER_SERVICE_ACCOUNT, 0, after) \
            if args.baseline_storage_uri is not None else None
        self.host = self._host(args.model, args)
        self.baseline_host = self._host(baseline_name(args.model), args) if self.baseline else None
        self.register_outputs({"name": args.model, "host": self.host, "baselineHost": self.baseline_host})

    @staticmethod
    def _host(isvc: str, args: InferenceArgs) -> pulumi.Output[str]:
        return pulumi.Output.from_input(args.namespace).apply(lambda ns: model_host(isvc, ns, args.domain))

    def _inference_service(self, isvc: str, args: InferenceArgs, storage_uri: pulumi.Input[str],
                           service_account: str, warmup_jobs: int,
                           depends_on: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        s = args.settings
        limits = {"cpu": s.cpu, "memory": s.memory, "nvidia.com/gpu": str(s.gpus)}
        labels, annotations = {}, {"serving.kserve.io/deploymentMode": "Knative",
                                   "pulumi.com/waitFor": "condition=Ready"}
        if s.serverless:  # ACK virtual nodes (ECI): Fluid injects its FUSE sidecar into the pod
            labels |= {"serverless.fluid.io/inject": "true", "alibabacloud.com/fluid-sidecar-target": "eci"}
        model_args = [f"--max-model-len={s.max_model_len}", f"--dtype={s.dtype}",
                      f"--gpu-memory-utilization={s.gpu_memory_utilization}", f"--tensor-parallel-size={s.gpus}",
                      *s.extra_args]
        return k8s.apiextensions.CustomResource(
            isvc, api_version="serving.kserve.io/v1beta1", kind="InferenceService",
            metadata={"name": isvc, "namespace": args.namespace, "labels": labels, "annotations": annotations},
            spec={"predictor": {
                "minReplicas": s.min_replicas,
                "maxReplicas": s.max_replicas,
                "scaleMetric": s.scale_metric,
                "scaleTarget": s.scale_target,
                "timeout": s.timeout_seconds,
                "serviceAccountName": service_account,
                "nodeSelector": dict(scheduling.GPU_LABELS),
                "tolerations": [scheduling.toleration(scheduling.GPU_TAINT)],
                "model": {
                    "modelFormat": {"name": "huggingface"},
                    "runtime": RUNTIME_NAME,
                    "storageUri": storage_uri,
                    "args": model_args,
                    "env": [{"name": "WARMUP_JOBS", "value": str(warmup_jobs)}],
                    "resources": {"requests": limits, "limits": limits},
                },
            }},
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on,
                                        custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m")))
