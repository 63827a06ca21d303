"""kserve-fluid: a cloud's cluster and bucket, the serving platform, the model, its cache and its service.

The data flow, top to bottom: stack config -> the cloud's foundation (cluster, pools, bucket) -> the platform
(operators) -> the model namespace and its security -> the model version in the bucket -> the cache warm with
that version -> the InferenceService serving it -> the outputs.
"""

import pulumi

from components import clouds, config, costs, versions
from components.foundation import INGEST_SERVICE_ACCOUNT
from components.k8s.cache import ModelCache, ModelCacheArgs, TierSpec
from components.k8s.inference import EngineSettings, InferenceArgs, InferenceEndpoint, curl_command
from components.k8s.namespace import ModelNamespace, ModelNamespaceArgs
from components.k8s.platform import InstallSwitches, ServingPlatform, ServingPlatformArgs
from components.k8s.security import EndpointSecurity, EndpointSecurityArgs, JwtAuth
from components.k8s.warmup import NodeWarmer, NodeWarmerArgs
from components.model.artifact import ModelArtifact, ModelArtifactArgs
from components.names import ModelNames
from components.outputs import StackOutputs, export
from components.scheduling import CACHE_LABELS, CACHE_TAINT, toleration

s = config.load()
model, inference, endpoint = s.release.model, s.inference, s.endpoint
names = ModelNames(model.name, inference.namespace, s.platform.domain)
foundation = clouds.CLOUDS[s.cloud].build(s)
registries = {**foundation.mirrors, **s.images.registries}
store, cluster, on_cluster = foundation.store, foundation.cluster, pulumi.ResourceOptions(provider=foundation.provider)
serving_image = versions.mirrored(s.release.serving_image, registries)

platform = ServingPlatform("platform", ServingPlatformArgs(
    charts=s.chart_versions, knative_serving_version=s.knative_serving_version,
    install=InstallSwitches(**s.platform.install.model_dump(exclude={"cluster_autoscaler"})),
    domain=s.platform.domain, mesh=s.platform.mesh, cluster=cluster,
    progress_deadline_seconds=s.platform.progress_deadline_seconds,
    scale_to_zero_grace_seconds=s.platform.scale_to_zero_grace_seconds,
    stable_window_seconds=s.platform.stable_window_seconds, max_revision_timeout_seconds=inference.timeout_seconds,
    tls=endpoint.tls, private_ca=endpoint.tls and not endpoint.tls_issuer,
    allowed_cidrs=list(endpoint.allowed_cidrs), registries=registries, depends_on=foundation.capacity), on_cluster)

access = store.cache_access(s.cache.credentials, s.cache.runtime)
namespace = ModelNamespace(names.namespace, ModelNamespaceArgs(
    namespace=names.namespace, writer=store.writer, reader=store.reader, cache=access.identity,
    client_account=endpoint.cluster_tokens,
    depends_on=foundation.capacity), on_cluster)
issuer = cluster.service_account_issuer if endpoint.cluster_tokens else endpoint.jwt_issuer
security = EndpointSecurity(names.namespace, EndpointSecurityArgs(
    names=names, namespace=namespace.name, metadata_cidr=cluster.metadata_cidr,
    auth=JwtAuth(issuer, list(endpoint.audiences), endpoint.jwks_uri) if endpoint.auth == "jwt" else None,
    tls_issuer=(endpoint.tls_issuer or platform.tls_issuer) if endpoint.tls else None,
    certificates_ready=platform.certificates_ready, mesh_ready=platform.mesh_ready), on_cluster)

artifact = ModelArtifact(model.name, ModelArtifactArgs(
    model=model, store=store, namespace=namespace.name, ingest_service_account=INGEST_SERVICE_ACCOUNT,
    ingest_image=versions.mirrored(versions.INGEST_IMAGE, registries),
    placement={"nodeSelector": dict(CACHE_LABELS), "tolerations": [toleration(CACHE_TAINT)]},
    hf_token=s.hf_token, hf_endpoint=s.platform.hf_endpoint,
    job_depends_on=[*namespace.ready, namespace.ingest_account, *foundation.capacity]), on_cluster)

cache = ModelCache(model.name, ModelCacheArgs(
    names=names, namespace=namespace.name, root_url=artifact.root_url, version=artifact.version, access=access,
    replicas=s.cache.replicas, dataload_replicas=s.cache.dataload_replicas, size_gi=model.size_gi,
    tiers=[TierSpec(t.medium, t.path or f"{cluster.local_nvme_path or '/mnt'}/fluid-cache", t.quota_gi, t.high, t.low)
           for t in s.cache.levels],
    images={k: versions.mirrored(v, registries) for k, v in versions.CACHE_IMAGES.items()},
    depends_on=[*platform.fluid_ready, *namespace.ready, *artifact.ready]), on_cluster)

service = InferenceEndpoint(model.name, InferenceArgs(
    names=names, namespace=namespace.name, serving_image=serving_image, pvc_name=cache.pvc_name, version=cache.warm,
    release_digest=s.release.digest(),
    engine=EngineSettings(**inference.model_dump(include=set(EngineSettings.__dataclass_fields__) - {"annotations"})),
    baseline_storage_uri=artifact.url if inference.baseline else None,
    serverless_labels={"serverless.fluid.io/inject": "true", "alibabacloud.com/fluid-sidecar-target": "eci"}
    if inference.serverless else {},
    depends_on=[*platform.serving_ready, *security.ready, namespace.server_account, namespace.reader_account]), on_cluster)
if inference.warmup_jobs:
    NodeWarmer(model.name, NodeWarmerArgs(
        names=names, namespace=namespace.name, serving_image=serving_image, pvc_name=cache.pvc_name,
        version=cache.warm, size_gi=model.size_gi, jobs=inference.warmup_jobs), on_cluster)

host, out = names.host(names.inference_service), foundation.outputs
export(StackOutputs(
    release=s.release.model_dump(by_alias=True, mode="json"), releaseDigest=s.release.digest(),
    servedRelease=service.served_release, servedRevision=service.served_revision,
    inferenceServiceReady=service.served_revision.apply(bool), servingImage=s.release.serving_image,
    modelName=model.name, modelRevision=artifact.revision, modelDigest=artifact.digest, modelVersion=artifact.version,
    modelUrl=artifact.url, namespace=names.namespace, inferenceService=names.inference_service, modelHost=host,
    baselineInferenceService=names.baseline_service if inference.baseline else None,
    baselineModelHost=names.host(names.baseline_service) if inference.baseline else None,
    ingressAddress=platform.ingress_address, endpointScheme=platform.scheme, endpointAuth=endpoint.auth,
    endpointOpen=not security.authenticated, caCertificate=platform.ca_certificate,
    tokenCommand=namespace.token_command(endpoint.audiences) if endpoint.cluster_tokens else None,
    curl=platform.ingress_address.apply(lambda a: curl_command(platform.scheme, a, host, model.name, security.authenticated)),
    datasetName=cache.dataset_name, pvcName=cache.pvc_name,
    scaleToZeroSeconds=s.platform.scale_to_zero_seconds, scaleToZeroGraceSeconds=s.platform.scale_to_zero_seconds,
    gpuNodeIdleMinutes=s.platform.gpu_node_idle_minutes, platformVersions=platform.versions,
    progress=f"kubectl -n {names.namespace} get jobs,dataloads,inferenceservices,pods -w",
    idleCostPerHour=cost.idle_total if (cost := costs.estimate(s)) else None,
    clusterName=out.cluster_name, kubeconfig=out.kubeconfig, kubectlAccess=out.kubectl_access, deployer=out.deployer,
    bucketName=out.bucket_name, modelReadRole=out.model_read_role, modelWriteRole=out.model_write_role,
    gpuNodePool=out.gpu_node_pool, cacheNodePool=out.cache_node_pool, cloudOutputs=out.extra))
