"""Alibaba Cloud: VPC, ACK, node pools and autoscaler, the OSS model bucket, RAM/RRSA, ASM, the in-VPC deployer (see foundation.py)."""
