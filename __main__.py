"""kserve-fluid: a cloud's cluster and bucket, the serving platform, the model, its cache and its service."""
import pulumi

from components import alicloud, aws, config, existing
from components.k8s.cache import ModelCache, ModelCacheArgs
from components.k8s.inference import InferenceArgs, InferenceEndpoint, baseline_name, curl_command, model_host
from components.k8s.model import ModelArtifact, ModelArtifactArgs
from components.k8s.namespace import ModelNamespace
from components.k8s.platform import ServingPlatform, ServingPlatformArgs
from components.k8s.security import EndpointSecurity, EndpointSecurityArgs

settings = config.load()
model, ns, domain = settings.release.model, settings.inference.namespace, settings.platform.domain
isvcs = [model.name, *([baseline_name(model.name)] if settings.inference.baseline else [])]
hosts = [model_host(isvc, ns, domain) for isvc in isvcs]
foundation = {"aws": aws.build, "alicloud": alicloud.build, "existing": existing.build}[settings.cloud](settings)
store, on_cluster = foundation.store, pulumi.ResourceOptions(provider=foundation.provider)

platform = ServingPlatform("platform", ServingPlatformArgs(
    charts=settings.chart_versions, knative_serving_version=settings.knative_serving_version,
    install=settings.platform.install, domain=domain, mesh=settings.platform.mesh,
    progress_deadline_seconds=settings.platform.progress_deadline_seconds,
    scale_to_zero_grace_seconds=settings.platform.scale_to_zero_grace_seconds,
    stable_window_seconds=settings.platform.stable_window_seconds, kubelet_root_dir=foundation.kubelet_root_dir,
    tls_issuer=settings.endpoint.tls_issuer if settings.endpoint.tls else None, tls_hosts=hosts,
    depends_on=foundation.capacity), on_cluster)
namespace = ModelNamespace("models", ns, store, on_cluster)
security = EndpointSecurity("models", EndpointSecurityArgs(
    namespace=namespace.name, hosts=hosts, depends_on=platform.mesh_ready,
    jwt_issuer=settings.endpoint.jwt_issuer if settings.endpoint.auth == "jwt" else None,
    jwks_uri=settings.endpoint.jwks_uri), on_cluster)
artifact = ModelArtifact(model.name, ModelArtifactArgs(
    model=model, store=store, namespace=namespace.name, hf_token=settings.hf_token,
    depends_on=[namespace.ingest_account, *foundation.capacity]), on_cluster)
cache = ModelCache(model.name, ModelCacheArgs(
    namespace=namespace.name, model=model.name, store=store, cache=settings.cache, model_digest=artifact.digest,
    access_key_id=settings.storage_access_key_id, secret_access_key=settings.storage_secret_access_key,
    depends_on=[*platform.fluid_ready, namespace.cache_account, artifact.ready]), on_cluster)
endpoint = InferenceEndpoint(model.name, InferenceArgs(
    namespace=namespace.name, model=model.name, serving_image=settings.release.serving_image,
    settings=settings.inference, pvc_name=cache.pvc_name, model_path=cache.path, domain=domain,
    baseline_storage_uri=artifact.url if settings.inference.baseline else None,
    depends_on=[*platform.serving_ready, *cache.warm, namespace.server_account, namespace.reader_account]),
    on_cluster)

for key, value in {**foundation.outputs, **{
    "release": settings.release.model_dump(by_alias=True, mode="json"),
    "namespace": ns, "modelName": model.name, "modelUrl": artifact.url, "modelDigest": artifact.digest,
    "modelRevision": model.revision or artifact.digest,
    "inferenceService": isvcs[0], "modelHost": hosts[0],
    "baselineInferenceService": isvcs[1] if len(isvcs) > 1 else None,
    "baselineModelHost": hosts[1] if len(hosts) > 1 else None,
    "ingressAddress": platform.ingress_address, "datasetName": cache.dataset_name, "pvcName": cache.pvc_name,
    "platformVersions": platform.versions, "endpointAuth": settings.endpoint.auth, "endpointScheme": platform.scheme,
    "endpointOpen": not security.authenticated,
    "scaleToZeroGraceSeconds": settings.platform.scale_to_zero_grace_seconds
    + settings.platform.stable_window_seconds,
}}.items():
    pulumi.export(key, value)
pulumi.export("inferenceServiceReady", endpoint.service.id.apply(lambda _: True))  # created = awaited Ready
pulumi.export("curl", platform.ingress_address.apply(
    lambda address: curl_command(platform.scheme, address, hosts[0], model.name, security.authenticated)))
