"""Moving model bytes into the bucket: the uploader (`sync`), its Pulumi dynamic provider
(`upload_provider`) for local directories, and the in-cluster Hugging Face ingest (`ingest`)."""
