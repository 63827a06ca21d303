"""Plausible cloud outputs for the mocks, in the shapes the real providers return (pulumi-aws 7, pulumi-eks 4,
pulumi-alicloud 4), so the program reads what a real `pulumi up` would give it."""

from __future__ import annotations

import json

ACCOUNT = "123456789012"
AWS_REGION = "us-west-2"
OIDC = f"oidc.eks.{AWS_REGION}.amazonaws.com/id/EXAMPLE"
KUBECONFIG = json.dumps({
    "apiVersion": "v1", "kind": "Config", "current-context": "test",
    "clusters": [{"name": "test", "cluster": {"server": "https://cluster.example.com"}}],
    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    "users": [{"name": "test", "user": {"token": "test"}}],
})


def outputs(typ: str, name: str, inputs: dict) -> dict:
    """State of a created resource: its inputs plus the computed outputs the program reads."""
    out = {"id": f"{name}-id", **inputs}
    provider = typ.split(":")[0]
    if provider in ("aws", "eks"):
        out |= _aws_outputs(typ, name, inputs)
    if provider == "alicloud":
        out |= _alicloud_outputs(typ, name, inputs)
    if typ.startswith("pulumi-python:dynamic"):
        out |= _model_outputs(typ, inputs)
    if typ.startswith("kubernetes:"):
        out["metadata"] = {"name": name, "namespace": "default", **(inputs.get("metadata") or {})}
    if typ.endswith(":InferenceService"):  # as Pulumi reads it once `condition=Ready` held
        out["status"] = {"url": f"https://{name}.models.example.com", "conditions": [{"type": "Ready", "status": "True"}],
                         "components": {"predictor": {"latestReadyRevision": f"{name}-predictor-00001"}}}
    if typ.endswith("data.fluid.io/v1alpha1:DataLoad"):
        out["status"] = {"phase": "Complete"}
    if typ == "kubernetes:core/v1:Service":
        out["status"] = {"loadBalancer": {"ingress": [{"hostname": "gateway.example.com"}]}}
    return out


def invoke(token: str, args: dict) -> dict:
    """Results of the data-source calls the program makes."""
    if token.startswith("aws:"):
        return _aws_invoke(token, args)
    if token.startswith("alicloud:"):
        return _alicloud_invoke(token, args)
    raise AssertionError(f"the program called an unexpected data source: {token}")


def _model_outputs(typ: str, inputs: dict) -> dict:
    """What the model's dynamic resources compute: a resolved commit, a manifest digest."""
    import hashlib

    kind = typ.rsplit(":", 1)[-1]
    if kind == "HfRevision":
        revision = inputs.get("revision") or ""
        return {"commit": revision if len(revision) == 40 else hashlib.sha1(revision.encode()).hexdigest()}
    if kind == "ModelUpload":
        digest = hashlib.sha256(str(inputs.get("source_dir")).encode()).hexdigest()
        return {"digest": digest, "version": digest, "url": f"{inputs.get('root_url')}/{digest}", "file_count": 3,
                "total_bytes": 1024}
    if kind == "VersionManifest":
        return {"digest": hashlib.sha256(str(inputs.get("url")).encode()).hexdigest()}
    return {}


def _aws_outputs(typ: str, name: str, inputs: dict) -> dict:
    out = {}
    if typ.startswith("aws:"):
        out["arn"] = inputs.get("arn") or f"arn:aws:{typ.split(':')[1].split('/')[0]}:{AWS_REGION}:{ACCOUNT}:{name}"
    if typ == "aws:s3/bucket:Bucket":
        out["bucket"] = inputs.get("bucket") or f"{name}-bucket"
    if typ == "eks:index:Cluster":
        out |= {"kubeconfig": KUBECONFIG, "kubeconfigJson": KUBECONFIG, "clusterSecurityGroupId": "sg-cluster",
                "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}", "oidcProviderUrl": f"https://{OIDC}",
                "oidcIssuer": OIDC}
    return out


def _aws_invoke(token: str, args: dict) -> dict:
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return {"json": json.dumps({"Version": "2012-10-17", "Statement": [_statement(s) for s in args["statements"]]})}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{AWS_REGION}{z}" for z in "abc"]}
    if token == "aws:index/getRegion:getRegion":
        return {"region": AWS_REGION, "name": AWS_REGION}
    if token == "aws:ssm/getParameter:getParameter":
        return {"name": args.get("name"), "value": "ami-0123456789abcdef0", "type": "String"}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "userId": "AIDEXAMPLE"}
    raise AssertionError(f"the program called an unexpected data source: {token}")


def _alicloud_outputs(typ: str, name: str, inputs: dict) -> dict:
    """pulumi-alicloud 4.x shapes: `connections` and `certificateAuthorities` are lists, RRSA metadata is set
    (an empty one would render trust policies with an empty Federated principal)."""
    region = "ap-southeast-1"
    out: dict = {}
    if typ == "alicloud:cs/managedKubernetes:ManagedKubernetes":
        out["connections"] = [{"apiServerInternet": "https://47.236.0.1:6443", "apiServerIntranet": "https://192.168.0.10:6443",
                               "masterPublicIp": "47.236.0.1", "serviceDomain": f"c1.{region}.alicontainer.com"}]
        out["certificateAuthorities"] = [{"clusterCert": "Y2E=", "clientCert": "Y2VydA==", "clientKey": "a2V5"}]
        out["rrsaMetadata"] = {"enabled": True, "ramOidcProviderArn": f"acs:ram::{ACCOUNT}:oidc-provider/ack-rrsa-c1",
                               "ramOidcProviderName": "ack-rrsa-c1",
                               "rrsaOidcIssuerUrl": f"https://oidc-ack-{region}.oss-{region}.aliyuncs.com/c1"}
    if typ == "alicloud:oss/bucket:Bucket":
        out |= {"intranetEndpoint": f"oss-{region}-internal.aliyuncs.com", "extranetEndpoint": f"oss-{region}.aliyuncs.com"}
    if typ == "alicloud:ram/role:Role":
        out["arn"] = f"acs:ram::{ACCOUNT}:role/{inputs.get('roleName', name)}"
    if typ == "alicloud:ram/accessKey:AccessKey":
        out |= {"secret": "fake-access-key-secret", "status": "Active"}
    if typ == "alicloud:servicemesh/serviceMesh:ServiceMesh":
        out["kubeconfig"] = KUBECONFIG
    return out


def _alicloud_invoke(token: str, args: dict) -> dict:
    region = "ap-southeast-1"
    zones = [f"{region}{z}" for z in "abc"]
    if token == "alicloud:index/getZones:getZones":
        # the GPU families are sold in two of the three zones
        ids = zones[:2] if str(args.get("availableInstanceType", "")).startswith("ecs.gn") else zones
        return {"ids": ids, "zones": [{"id": z} for z in ids]}
    if token == "alicloud:vpc/getEnhancedNatAvailableZones:getEnhancedNatAvailableZones":
        return {"ids": zones, "zones": [{"zoneId": z, "localName": z} for z in zones]}
    if token == "alicloud:index/getRegions:getRegions":
        return {"regions": [{"id": region}], "ids": [region]}
    if token == "alicloud:cs/getClusterCredential:getClusterCredential":
        return {"kubeConfig": KUBECONFIG, "clusterId": args.get("clusterId"), "expiration": "2029-01-01T00:00:00Z",
                "certificateAuthorities": [{"clusterCert": "Y2E=", "clientCert": "Y2VydA==", "clientKey": "a2V5"}]}
    if token == "alicloud:cs/getKubernetesVersion:getKubernetesVersion":
        return {"clusterType": args.get("clusterType"), "metadatas": [
            {"version": v, "runtimes": [{"name": "containerd", "version": "1.6.38"}]}
            for v in ("1.32.7-aliyun.1", "1.33.3-aliyun.1", "1.34.1-aliyun.1", "1.34.10-aliyun.1")]}
    if token == "alicloud:servicemesh/getVersions:getVersions":
        versions = ("v1.16.4.12-gd3f3f8b-aliyun", "v1.22.6.71-g3b3b5b1-aliyun", "v1.24.6.31-g6a5e08e-aliyun")
        return {"ids": [f"Pro:{v}" for v in versions], "versions": [{"edition": "Pro", "id": f"Pro:{v}", "version": v} for v in versions]}
    if token == "alicloud:ecs/getImages:getImages":
        return {"ids": ["aliyun_3_x64_20G_alibase_20260101.vhd"], "images": []}
    raise AssertionError(f"the program called an unexpected data source: {token}")


def _statement(s: dict) -> dict:
    out = {"Effect": s.get("effect", "Allow"), "Action": s.get("actions"), "Resource": s.get("resources")}
    if s.get("sid"):
        out["Sid"] = s["sid"]
    if s.get("principals"):
        out["Principal"] = {p["type"]: p["identifiers"] for p in s["principals"]}
    if s.get("conditions"):
        out["Condition"] = {}
        for c in s["conditions"]:
            out["Condition"].setdefault(c["test"], {})[c["variable"]] = c["values"]
    return {k: v for k, v in out.items() if v is not None}
