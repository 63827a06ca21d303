"""What the program needs to know about one cloud; each cloud's `defaults.py` declares its `CLOUD`, and
`components.clouds` registers them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from components.instances import InstanceFacts

if TYPE_CHECKING:
    from components.config import Raw, Settings
    from components.foundation import Foundation


@dataclass(frozen=True)
class Cloud:
    """What the rest of the program needs to know about one cloud."""

    name: str
    builder: str  # "module:function" returning a Foundation
    defaults: dict[str, Any]  # stack-config defaults for this cloud, merged under the stack's own values
    validate: Callable[[Settings, Raw], list[str]]  # the cloud's own rules, one line per problem
    provider_namespace: str | None = None  # the provider's config namespace, checked for misspelt keys
    gpu_families: tuple[str, ...] = ()  # instance-type globs of GPU pools
    instances: dict[str, InstanceFacts] = field(default_factory=dict)  # sizes of the types the stacks allow
    deployer_instance_type: str | None = None  # the in-VPC deployer's machine (cluster.deployer), priced in costs.py

    def build(self, settings: Settings) -> Foundation:
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(settings)
