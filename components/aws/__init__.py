"""AWS: VPC, EKS, GPU/cache/system node groups, the S3 model bucket, IRSA, the autoscaler (see foundation.py)."""
