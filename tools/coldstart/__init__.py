"""Cold-start measurement: reproduce the published scale-from-zero table on your own cluster.

``python -m tools.coldstart --stack aws-dev`` waits until the InferenceService has scaled to zero,
times the first OpenAI completions request through the ingress (like ``curl -w %{time_total}``),
splits that time into phases from the pod's conditions and events, repeats, and compares the
Fluid-backed InferenceService with the storage-initializer baseline. See ``cli.py`` for the flags.
"""
