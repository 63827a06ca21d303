"""Cloud-agnostic Kubernetes parts, shared by every stack on both clouds: the serving platform
(Helm releases), the model namespace and identities, the model ingest, the Fluid model cache and
the KServe InferenceService."""
