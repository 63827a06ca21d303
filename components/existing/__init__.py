"""Bring your own cluster (a kubeconfig) and bucket: nothing cloud-side is created."""
