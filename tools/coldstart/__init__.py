"""Cold-start measurement: reproduce the published scale-from-zero table on your own cluster.

``python -m tools.coldstart --stack aws-dev`` waits until every measured InferenceService has
scaled to zero, times the first OpenAI completions request through the ingress (like
``curl -w %{time_total}``), splits that time into phases from the pod's conditions and events,
records the state the run began in (new or existing node, images pulled or cached, page cache),
repeats, and compares the Fluid-backed InferenceService with the storage-initializer baseline
only between runs in the same state. See ``docs/coldstart.md``; ``cli.py`` has the flags.
"""
