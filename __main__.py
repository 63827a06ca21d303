"""kserve-fluid: a cloud's cluster and bucket, the serving platform, the model, its cache and its service."""
import pulumi

from components import alicloud, aws, config, existing
from components.k8s.cache import ModelCache, ModelCacheArgs
from components.k8s.inference import InferenceArgs, InferenceEndpoint
from components.k8s.model import ModelArtifact, ModelArtifactArgs
from components.k8s.namespace import ModelNamespace
from components.k8s.platform import ServingPlatform, ServingPlatformArgs

settings = config.load()
model = settings.release.model
foundation = {"aws": aws.build, "alicloud": alicloud.build, "existing": existing.build}[settings.cloud](settings)
store = foundation.store
on_cluster = pulumi.ResourceOptions(provider=foundation.provider)

platform = ServingPlatform("platform", ServingPlatformArgs(
    charts=settings.chart_versions, knative_serving_version=settings.knative_serving_version,
    install=settings.platform.install, domain=settings.platform.domain, mesh=settings.platform.mesh,
    progress_deadline_seconds=settings.platform.progress_deadline_seconds,
    scale_to_zero_grace_seconds=settings.platform.scale_to_zero_grace_seconds,
    stable_window_seconds=settings.platform.stable_window_seconds,
    kubelet_root_dir=foundation.kubelet_root_dir, depends_on=foundation.capacity), on_cluster)

namespace = ModelNamespace("models", settings.inference.namespace, store, on_cluster)
artifact = ModelArtifact(model.name, ModelArtifactArgs(
    model=model, store=store, namespace=namespace.name, hf_token=settings.hf_token,
    depends_on=[namespace.ingest_account, *foundation.capacity]), on_cluster)
cache = ModelCache(model.name, ModelCacheArgs(
    namespace=namespace.name, model=model.name, store=store, cache=settings.cache, model_digest=artifact.digest,
    access_key_id=settings.storage_access_key_id, secret_access_key=settings.storage_secret_access_key,
    depends_on=[*platform.fluid_ready, namespace.cache_account, artifact.ready]), on_cluster)
endpoint = InferenceEndpoint(model.name, InferenceArgs(
    namespace=namespace.name, model=model.name, serving_image=settings.release.serving_image,
    settings=settings.inference, pvc_name=cache.pvc_name, model_path=cache.path, domain=platform.domain,
    baseline_storage_uri=artifact.url if settings.inference.baseline else None,
    depends_on=[*platform.serving_ready, *cache.warm, namespace.server_account, namespace.reader_account]), on_cluster)

for key, value in foundation.outputs.items():
    pulumi.export(key, value)
pulumi.export("release", settings.release.model_dump(by_alias=True, mode="json"))
pulumi.export("namespace", settings.inference.namespace)
pulumi.export("modelName", model.name)
pulumi.export("modelUrl", artifact.url)
pulumi.export("modelDigest", artifact.digest)
pulumi.export("inferenceService", model.name)
pulumi.export("modelHost", endpoint.host)
pulumi.export("baselineInferenceService", f"{model.name}-baseline" if endpoint.baseline else None)
pulumi.export("baselineModelHost", endpoint.baseline_host)
pulumi.export("ingressAddress", platform.ingress_address)
pulumi.export("datasetName", cache.dataset_name)
pulumi.export("pvcName", cache.pvc_name)
pulumi.export("platformVersions", platform.versions)
pulumi.export("scaleToZeroGraceSeconds",
              settings.platform.scale_to_zero_grace_seconds + settings.platform.stable_window_seconds)
pulumi.export("endpointAuth", settings.endpoint.auth)
pulumi.export("curl", pulumi.Output.all(platform.ingress_address, endpoint.host).apply(
    lambda a: f"curl -H 'Host: {a[1]}' -H 'Content-Type: application/json' http://{a[0]}/openai/v1/completions "
              f"-d '{{\"model\": \"{model.name}\", \"prompt\": \"Hello\", \"max_tokens\": 32}}'"))
