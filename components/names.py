"""Every per-model name, computed once: Kubernetes object names, hosts, and the limits Fluid's derived names
impose on the model name.

Fluid derives object names from the Dataset's and the DataLoad's (fluid v1.0.8): the JindoRuntime's workers
are the StatefulSet `<dataset>-jindofs-worker`, whose pods carry `controller-revision-hash=<sts>-<10 chars>`,
a label value (at most 63); a DataLoad runs as the Helm release `<dataload>-loader`, and Helm names are at
most 53. Both bound the model name, so the limit is computed here rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_VALUE_MAX = 63  # Kubernetes label values
HELM_RELEASE_MAX = 53  # Helm release names
REVISION_HASH = 1 + 10  # "-" + the controller-revision-hash suffix StatefulSet pods carry
DATASET_SUFFIX = "-cache"
WORKER_SUFFIX = "-jindofs-worker"  # the longest runtime suffix Fluid appends (AlluxioRuntime: "-worker")
DATALOAD_INFIX = "-warm-"
VERSION_CHARS = 10  # of the model version in the DataLoad's name
LOADER_SUFFIX = "-loader"  # Fluid's DataLoad Helm release

MODEL_NAME_MAX = min(
    LABEL_VALUE_MAX - REVISION_HASH - len(WORKER_SUFFIX) - len(DATASET_SUFFIX),
    HELM_RELEASE_MAX - len(LOADER_SUFFIX) - len(DATALOAD_INFIX) - VERSION_CHARS,
)


def name_problems(model: str) -> list[str]:
    """Why a model name cannot carry Fluid's derived names (empty when it can)."""
    if len(model) > MODEL_NAME_MAX:
        return [f"at most {MODEL_NAME_MAX} characters: Fluid names the cache workers {model}{DATASET_SUFFIX}{WORKER_SUFFIX} "
                f"and the prefetch job {model}{DATALOAD_INFIX}<version>{LOADER_SUFFIX}, which must fit Kubernetes' 63 and Helm's 53"]
    return []


def ingest_job(model: str, version: str) -> str:
    """The Job that ingests one version of a Hugging Face model."""
    return f"{model}-ingest-{version[:VERSION_CHARS]}"


@dataclass(frozen=True)
class ModelNames:
    """The names of one model's objects in its namespace, and the hosts it answers on."""

    model: str
    namespace: str
    domain: str

    @property
    def inference_service(self) -> str:
        return self.model

    @property
    def baseline_service(self) -> str:
        return f"{self.model}-baseline"

    @property
    def dataset(self) -> str:
        """The Fluid Dataset and its runtime; Fluid names the PVC after the Dataset."""
        return f"{self.model}{DATASET_SUFFIX}"

    @property
    def pvc(self) -> str:
        return self.dataset

    @property
    def mount_path(self) -> str:
        """The model's directory inside the PVC: one subdirectory per version below it."""
        return f"/{self.model}"

    def dataload(self, version: str) -> str:
        return f"{self.model}{DATALOAD_INFIX}{version[:VERSION_CHARS]}"

    def host(self, service: str) -> str:
        """KServe's top-level host (Knative's domain template `{{.Name}}.{{.Namespace}}.{{.Domain}}`)."""
        return f"{service}.{self.namespace}.{self.domain}"

    @property
    def hosts_pattern(self) -> str:
        """Every external host of the namespace: KServe's `<isvc>.` and Knative's `<isvc>-predictor.` alike."""
        return f"*.{self.namespace}.{self.domain}"

    @property
    def local_hosts(self) -> list[str]:
        """Hosts of the namespace on the cluster-local gateway."""
        return [f"*.{self.namespace}.svc.cluster.local", f"*.{self.namespace}.svc", f"*.{self.namespace}"]
