"""A custom resource whose `status`, as Pulumi read it after waiting, the program can inspect.

pulumi-kubernetes' Python `CustomResource` registers only apiVersion, kind, metadata and spec, so the live
status it returns is dropped; declaring `status` as an output-only property (None is never sent as an
input) keeps it, the way the SDK's typed resources do.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes import _utilities


class Awaited(pulumi.CustomResource):
    def __init__(self, resource_name: str, api_version: str, kind: str, metadata: Any, spec: Any,
                 opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(version=_utilities.get_version()))
        props = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": None}
        super().__init__(f"kubernetes:{api_version}:{kind}", resource_name, props, opts)

    @property
    def metadata(self) -> pulumi.Output[Any]:
        return self.__dict__["metadata"]

    @property
    def status(self) -> pulumi.Output[Any]:
        return self.__dict__["status"]
