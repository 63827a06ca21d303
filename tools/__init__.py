"""Operator tools for the kserve-fluid project, run as ``python -m tools.<name>``."""
