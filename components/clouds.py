"""The registry of clouds: how `kserve-fluid:cloud` picks defaults, validation rules and the builder.

Adding a cloud is one folder under `components/` (see README, "Adding a cloud") and one line in `CLOUDS`.
Each cloud's `defaults.py` stays free of cloud SDK imports, so validation runs (and fails fast) before
any provider is loaded; its builder is imported only when the program builds that cloud.
"""

from __future__ import annotations

from components.cloud import Cloud


def _registry() -> dict[str, Cloud]:
    from components.alicloud.defaults import CLOUD as ALICLOUD
    from components.aws.defaults import CLOUD as AWS
    from components.existing.defaults import CLOUD as EXISTING

    return {cloud.name: cloud for cloud in (AWS, ALICLOUD, EXISTING)}


CLOUDS: dict[str, Cloud] = _registry()
