"""Keep GPU nodes ready for a cold start before any request arrives: the serving image pulled, the cache's
FUSE mounted, the model version in the node's page cache.

Kubelet mounts a pod's volumes before it pulls its images, so on a new GPU node the InferenceService pod's
multi-GB pull would wait for Fluid's FUSE to come up, in series. Two DaemonSets on GPU nodes take both off the
request's critical path:
- `<model>-prepull` runs the serving image (no volumes), so the pull starts as soon as the node joins;
- `<model>-warmer` mounts the cache's PVC and reads the current version in parallel 1 GiB ranges, then keeps
  the mount (and so the FUSE pod, and the page cache it filled) while the node lives; pages stay cached
  across the InferenceService's scale-to-zero.
Neither asks for a GPU, and the autoscaler ignores DaemonSet pods when it removes an idle node. The page
cache a reader fills is charged to its memory cgroup, so the warmer's memory limit holds the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import scheduling
from components.k8s.inference import SECURITY_CONTEXT, WARM_AND_SERVE
from components.names import ModelNames

MOUNT = "/mnt/models"


@dataclass
class NodeWarmerArgs:
    names: ModelNames
    namespace: pulumi.Input[str]
    serving_image: str
    pvc_name: str
    version: pulumi.Input[str]  # resolves once the version is cached
    size_gi: float
    jobs: int  # parallel range readers
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class NodeWarmer(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodeWarmerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:k8s:NodeWarmer", name, None, opts)
        model = args.names.model
        self.prepull = self._daemonset(f"{name}-prepull", f"{model}-prepull", args, {
            "name": "image", "image": args.serving_image, "command": ["sleep", "infinity"],
            "resources": _resources("10m", "32Mi", "64Mi"), "securityContext": SECURITY_CONTEXT}, [])
        # the serving runtime's own warm-up function, run once per node, then hold the mount
        script = WARM_AND_SERVE.replace('exec python3 -m huggingfaceserver "$@"\n', "wait\nexec sleep infinity\n")
        memory = f"{math.ceil(args.size_gi) + 2}Gi"
        self.warmer = self._daemonset(f"{name}-warmer", f"{model}-warmer", args, {
            "name": "warm", "image": args.serving_image, "command": ["/bin/bash", "-c", script],
            "env": [{"name": "MODEL_DIR", "value": pulumi.Output.concat(MOUNT, "/", args.version)},
                    {"name": "WARMUP_JOBS", "value": str(args.jobs)}],
            "volumeMounts": [{"name": "model", "mountPath": MOUNT, "readOnly": True,
                              "subPath": args.names.mount_path.lstrip("/")}],
            "resources": _resources("100m", "128Mi", memory), "securityContext": SECURITY_CONTEXT},
            [{"name": "model", "persistentVolumeClaim": {"claimName": args.pvc_name, "readOnly": True}}])
        self.register_outputs({})

    def _daemonset(self, resource: str, name: str, args: NodeWarmerArgs, container: dict,
                   volumes: list[dict]) -> k8s.apps.v1.DaemonSet:
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kserve-fluid"}
        return k8s.apps.v1.DaemonSet(
            resource, metadata={"name": name, "namespace": args.namespace},
            spec={"selector": {"matchLabels": labels},
                  "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "nodeSelector": dict(scheduling.GPU_LABELS),
                      "tolerations": [scheduling.toleration(scheduling.GPU_TAINT)],
                      "automountServiceAccountToken": False, "enableServiceLinks": False,
                      "terminationGracePeriodSeconds": 1,
                      "containers": [container], "volumes": volumes}}},
            # a DaemonSet on a pool at zero nodes is ready with zero pods: nothing to wait for here
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, custom_timeouts=pulumi.CustomTimeouts(create="5m", update="5m")))


def _resources(cpu: str, memory_request: str, memory_limit: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory_request}, "limits": {"memory": memory_limit}}
