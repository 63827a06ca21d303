"""ECR pull-through caches: the cluster's images come from this account's ECR, in region, after the first pull.

ECR caches ECR Public, registry.k8s.io and Quay without credentials; Docker Hub and GHCR need a Secrets Manager
secret whose name begins with `ecr-pullthroughcache/` (docs.aws.amazon.com/AmazonECR/latest/userguide/
pull-through-cache.html). A cached image is `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<upstream path>`,
so each rule is one `images.registries` entry. The first pull of a repository creates it, which the pulling
node's role must be allowed to do (pull-through-cache-iam.html).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# source registry -> (ECR repository prefix, upstream registry URL)
UPSTREAMS = {
    "public.ecr.aws": ("ecr-public", "public.ecr.aws"),
    "registry.k8s.io": ("k8s", "registry.k8s.io"),
    "quay.io": ("quay", "quay.io"),
    "docker.io": ("docker-hub", "registry-1.docker.io"),
    "ghcr.io": ("ghcr", "ghcr.io"),
}
NEEDS_CREDENTIALS = ("docker.io", "ghcr.io")


class PullThroughCache(pulumi.ComponentResource):
    """One rule per source registry; `mirrors` maps each to its ECR path, `node_policy` lets nodes fill them."""

    mirrors: dict[str, str]
    node_policy: pulumi.Output[str]

    def __init__(self, name: str, region: str, credentials: dict[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("kserve-fluid:aws:PullThroughCache", name, None, opts)
        account = aws.get_caller_identity().account_id
        host = f"{account}.dkr.ecr.{region}.amazonaws.com"
        sources = [s for s in UPSTREAMS if s not in NEEDS_CREDENTIALS or s in credentials]
        for source in sources:
            prefix, upstream = UPSTREAMS[source]
            aws.ecr.PullThroughCacheRule(f"{name}-{prefix}", ecr_repository_prefix=prefix, upstream_registry_url=upstream,
                                         credential_arn=credentials.get(source), opts=pulumi.ResourceOptions(parent=self))
        self.mirrors = {source: f"{host}/{UPSTREAMS[source][0]}" for source in sources}
        repositories = [f"arn:aws:ecr:{region}:{account}:repository/{UPSTREAMS[s][0]}/*" for s in sources]
        self.node_policy = aws.iam.get_policy_document_output(statements=[{
            "sid": "FillPullThroughCache", "actions": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
            "resources": repositories}]).json
        self.register_outputs({"mirrors": self.mirrors})
