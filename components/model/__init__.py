"""Model bytes into the bucket, as immutable versions ``<bucket>/<prefix>/<model>/<version>/``.

Plain modules (standard library + boto3/oss2/huggingface_hub; shipped in the ingest image):
`manifest` (scan, hash cache, digest), `stores` (S3/OSS calls), `transfer` (resumable parallel
multipart), `sync` (one version: upload, verify, prune), `cli` (``python -m components.model``),
`hf` (Hugging Face lookups) and `ingest` (the in-cluster Job).

Pulumi modules (deployer only): `artifact` (ModelArtifact), `upload_provider` (ModelUpload,
VersionManifest), `hf_revision` (HfRevision), `portable` (how their providers are pickled).
"""
