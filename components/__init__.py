"""kserve-fluid: reusable Pulumi components for fast, cheap scale-from-zero LLM inference.

Layout: `config` turns stack config into validated settings; `versions` pins every chart and image;
`aws/` and `alicloud/` create the cloud parts (network, cluster, node pools, bucket, identities);
`k8s/` holds the cloud-agnostic Kubernetes parts both clouds share (platform, model, cache, inference);
`model/` moves model bytes into the bucket.
"""
