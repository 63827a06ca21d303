"""The static rules of a promotion: the order of the stages, clouds, prod confirmation, what prod accepts,
and that the promoted file is a configuration the program takes."""
from __future__ import annotations

from dataclasses import dataclass, field

from tools.promote.errors import Refused
from tools.promote.stackfile import StackFile, parse_config

# The promotion order, one chain per cloud. A release reaches a stage only from the stage before it, so
# prod serves only what staging served. Alibaba has no staging stack: alicloud-prod takes alicloud-dev's
# release, verified, with the prod approval as the one extra gate (add a stack here to change that).
CHAINS: tuple[tuple[str, ...], ...] = (
    ("aws-dev", "aws-staging", "aws-prod"),
    ("alicloud-dev", "alicloud-prod"),
)
# Where each stack is deployed from: a private API server is only reachable from inside its VPC, where the
# deployer instance is registered as a GitHub self-hosted runner with this label (docs/promotion.md).
RUNNER_LABELS = {"aws-staging": "kf-staging", "aws-prod": "kf-prod", "alicloud-prod": "kf-alicloud-prod"}


def deployed_by_ci() -> tuple[str, ...]:
    """The stacks CI deploys: every stage of a chain (byo-dev uses your kubeconfig, so you deploy it)."""
    return tuple(stack for chain in CHAINS for stack in chain)


def next_stage(stack: str) -> str | None:
    for chain in CHAINS:
        if stack in chain[:-1]:
            return chain[chain.index(stack) + 1]
    return None


def order_description() -> str:
    return "; ".join(" -> ".join(chain) for chain in CHAINS)


@dataclass
class Notes:
    """What a promotion tells the person (stderr) and records in the commit message and pull request."""

    warnings: list[str] = field(default_factory=list)
    record: list[str] = field(default_factory=list)


def check_order(source: str, target: str, skip_reason: str | None, notes: Notes) -> None:
    """Refuse a step that is not the next stage (a skip, a step back, a jump between chains) unless a reason is given."""
    if next_stage(source) == target:
        return
    reason = (skip_reason or "").strip()
    if not reason:
        following = next_stage(source)
        raise Refused(f"{source} -> {target} is not the next stage (the order is {order_description()}; "
                      f"{source} promotes to {following or 'no further stage'}); to go out of order anyway, "
                      "pass --skip-stage REASON: the reason is recorded in the commit")
    notes.record.append(f"Out of order ({source} -> {target}, the next stage of {source} is "
                        f"{next_stage(source) or 'none'}): {reason}")


def check_static(source: StackFile, target: StackFile, *, yes_prod: bool, cross_cloud: bool, verify: bool,
                 notes: Notes) -> None:
    """The refusals that need no deployment: clouds, prod confirmation, unverified prod, secrets, image pins."""
    if source.cloud != target.cloud and not cross_cloud:
        raise Refused(f"{source.name} runs on {source.cloud!r} and {target.name} on {target.cloud!r}; a release can "
                      "name a local model path or a cloud-specific image, so pass --cross-cloud if this is intended")
    if target.environment == "prod" and not yes_prod:
        raise Refused(f"{target.name} is a prod stack; review the diff (--dry-run) and confirm with --yes-prod")
    if target.environment == "prod" and not verify:
        raise Refused(f"{target.name} is a prod stack: a promotion into prod is always verified against what "
                      f"{source.name} serves; drop --no-verify")
    secret = _secure_path(source.release)
    if secret:
        raise Refused(f"{source.path}: release.{secret} is a `secure:` value, encrypted for {source.name} only; keep "
                      "secrets out of the release (set them per stack with `pulumi config set --secret`)")
    image = str(source.release.get("servingImage", ""))
    if target.pinned and "@sha256:" not in image:
        if target.environment == "prod":
            raise Refused(f"{target.name} is prod and runs images by digest only, but the release's servingImage is "
                          f"{image or 'the default'!r}, a tag that can be re-pushed; pin it in the dev stack as "
                          "<image>:<tag>@sha256:<digest> and promote it through every stage")
        notes.warnings.append(f"servingImage {image or '(the default)'} is a tag, not a digest: {target.name} accepts "
                              "it, prod will not; pin the digest now so the stage tests the bytes prod runs")


def _secure_path(value: object, path: str = "") -> str | None:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return path or "<block>"
        for key, child in value.items():
            found = _secure_path(child, f"{path}.{key}" if path else str(key))
            if found:
                return found
    return None


def validate_target(target: StackFile, new_text: str) -> None:
    """Run the program's own validation (`components.config.build_settings`, a pure function) on the target as
    it would be written: an unknown key, a non-exact version or an unpinned model in staging/prod is refused
    here, before the file changes, instead of at the target's next `pulumi up`."""
    from components import config

    settings_input = target.settings_input(parse_config(new_text, target.path))
    try:
        config.build_settings(**settings_input)
    except config.ConfigError as e:
        raise Refused(f"{target.path} would not be a valid configuration of {target.name}:\n  "
                      + "\n  ".join(e.problems)) from None
