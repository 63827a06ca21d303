"""Plausible cloud outputs for the mocks, so the program reads what real providers return."""
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
    if provider == "aws":
        out.setdefault("arn", f"arn:aws:{typ.split(':')[1].split('/')[0]}:{AWS_REGION}:{ACCOUNT}:{name}")
    if typ == "aws:s3/bucket:Bucket":
        out.setdefault("bucket", inputs.get("bucket") or f"{name}-bucket")
    if typ.startswith("eks:index:Cluster"):
        out |= {"kubeconfig": KUBECONFIG, "kubeconfigJson": KUBECONFIG,
                "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}", "oidcProviderUrl": OIDC}
    if typ == "alicloud:cs/managedKubernetes:ManagedKubernetes":
        out["rrsaMetadata"] = {"enabled": True, "ramOidcProviderArn": f"acs:ram::{ACCOUNT}:oidc-provider/ack-rrsa",
                               "rrsaOidcIssuerUrl": "https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/c1"}
    if typ == "alicloud:oss/bucket:Bucket":
        out |= {"intranetEndpoint": "oss-cn-hangzhou-internal.aliyuncs.com",
                "extranetEndpoint": "oss-cn-hangzhou.aliyuncs.com"}
    if typ.startswith("alicloud:ram/"):
        out.setdefault("arn", f"acs:ram::{ACCOUNT}:role/{inputs.get('roleName', name)}")
    if typ == "alicloud:servicemesh/serviceMesh:ServiceMesh":
        out["kubeconfig"] = KUBECONFIG
    if typ.startswith("kubernetes:"):
        out["metadata"] = {"name": name, "namespace": "default", **(inputs.get("metadata") or {})}
    if typ == "kubernetes:core/v1:Service":
        out["status"] = {"loadBalancer": {"ingress": [{"hostname": "gateway.example.com"}]}}
    return out


def invoke(token: str, args: dict) -> dict:
    """Results of the data-source calls the program makes."""
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return {"json": json.dumps({"Version": "2012-10-17", "Statement": [_statement(s) for s in args["statements"]]})}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{AWS_REGION}{z}" for z in "abc"]}
    if token == "aws:index/getRegion:getRegion":
        return {"region": AWS_REGION, "name": AWS_REGION}
    if token == "alicloud:index/getZones:getZones":
        return {"ids": ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]}
    if token == "alicloud:index/getRegions:getRegions":
        return {"regions": [{"id": "cn-hangzhou"}], "ids": ["cn-hangzhou"]}
    if token == "alicloud:cs/getClusterCredential:getClusterCredential":
        return {"kubeConfig": KUBECONFIG, "clusterId": args.get("clusterId")}
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
