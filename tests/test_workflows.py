"""The CI/CD definition keeps its promises (docs/promotion.md): each stack is deployed from the merged commit
behind its own environment, pull requests never reach a staging or prod identity, no static credential exists,
every update runs the policy pack, and everything third-party is pinned."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from tools.promote import ci, rules

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
SETUP = GITHUB / "actions" / "setup" / "action.yml"
DEFINITIONS = [*WORKFLOWS, SETUP]


def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text())


def workflow(name: str) -> dict[Any, Any]:
    return load(GITHUB / "workflows" / name)


def triggers(parsed: dict[Any, Any]) -> dict[str, Any]:
    return parsed["on"] if "on" in parsed else parsed[True]  # YAML 1.1 reads a bare `on` as true


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()]


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"pulumi.yml", "deploy.yml", "promote.yml", "images.yml"}


# ------------------------------------------------------------------------------------------- supply chain


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_sha_with_its_version(path: Path) -> None:
    """A tag can be moved to other code; a full commit SHA cannot. The comment keeps it readable and lets
    Dependabot (dependabot.yml) update both."""
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for ref, rest in uses:
        if ref.startswith("./"):
            continue  # this repository's own composite action, at the commit being run
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", rest), f"{ref}: no `# vX.Y.Z` comment"


def test_dependabot_keeps_the_pins_current() -> None:
    updates = load(GITHUB / "dependabot.yml")["updates"]
    (actions,) = [u for u in updates if u["package-ecosystem"] == "github-actions"]
    assert set(actions["directories"]) == {"/", "/.github/actions/setup"}


def test_the_pulumi_cli_version_comes_from_components_versions() -> None:
    """One pin (versions.PULUMI_CLI) for the in-VPC deployer and for CI; the action's default would be any 3.x."""
    setup = load(SETUP)["runs"]
    (version_step,) = [s for s in setup["steps"] if s.get("id") == "versions"]
    assert "from components.versions import PULUMI_CLI" in version_step["run"]
    (cli,) = [s for s in setup["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert cli["with"] == {"pulumi-version": "${{ steps.versions.outputs.pulumi }}"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions.PULUMI_CLI)
    for file, name, job in all_jobs():
        assert not using(job, "pulumi/actions"), f"{file}:{name} installs the CLI without the pin"


def test_scripts_never_interpolate_expressions() -> None:
    """Inputs and contexts reach shell scripts through env variables only (no script injection)."""
    for path in DEFINITIONS:
        parsed = load(path)
        jobs = parsed.get("jobs", {}).items() if "jobs" in parsed else [("setup", parsed["runs"])]
        for name, job in jobs:
            for step in steps(job):
                assert "${{" not in step.get("run", ""), f"{path.name}:{name}: {step.get('name')} interpolates"


# -------------------------------------------------------------------------------------------- credentials


def test_no_static_credentials_anywhere() -> None:
    """Every cloud and Pulumi credential is minted per job through OIDC; the one secret is the GitHub App key of
    the promotion environment (which can open pull requests, nothing else)."""
    text = "\n".join(p.read_text() for p in DEFINITIONS)
    assert set(re.findall(r"secrets\.(\w+)", text)) == {"PROMOTION_APP_PRIVATE_KEY"}
    for key in ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "AWS_ACCESS_KEY_ID", "aws-secret-access-key",
                "PULUMI_ACCESS_TOKEN"):
        assert key not in text, key
    setup = load(SETUP)["runs"]["steps"]
    (pulumi,) = [s for s in setup if s.get("uses", "").startswith("pulumi/auth-actions@")]
    assert pulumi["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
    assert pulumi["with"]["scope"] == "team:${{ inputs.pulumi-team }}"
    (aws,) = [s for s in setup if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert set(aws["with"]) == {"role-to-assume", "aws-region", "role-duration-seconds"}
    (ali,) = [s for s in setup if s.get("uses", "").startswith("aliyun/configure-aliyun-credentials-action@")]
    assert set(ali["with"]) == {"role-to-assume", "oidc-provider-arn", "role-session-expiration"}


def credentialed_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(f, n, j) for f, n, j in all_jobs() if any(s.get("uses") == "./.github/actions/setup" for s in steps(j))]


def test_every_credentialed_job_is_bound_to_an_environment_and_asks_for_an_oidc_token() -> None:
    """The identity a job gets is decided by its GitHub environment (the trust policies name
    `environment:<name>`), so a job without one could get none; and the variables it uses are that environment's."""
    jobs = credentialed_jobs()
    assert {(f, n) for f, n, _ in jobs} == {("pulumi.yml", "preview"), ("deploy.yml", "preview"), ("deploy.yml", "up"),
                                            ("promote.yml", "promote")}
    for file, name, job in jobs:
        assert job["environment"], (file, name)
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, (file, name)


def test_pull_requests_reach_only_dev_preview_identities() -> None:
    """Unreviewed code runs in pull-request jobs: the only environments it can use are `<dev stack>-preview`."""
    preview = workflow("pulumi.yml")["jobs"]["preview"]
    assert preview["environment"] == "${{ matrix.stack }}-preview"
    dev_heads = {chain[0] for chain in rules.CHAINS}
    assert set(preview["strategy"]["matrix"]["stack"]) == dev_heads
    assert all(load(ROOT / "stacks" / f"Pulumi.{s}.yaml")["config"]["kserve-fluid:environment"] == "dev"
               for s in dev_heads)
    assert "pull_request" in preview["if"] and "head.repo.full_name == github.repository" in preview["if"]
    assert '.venv/bin/python -m tools.promote deploy "$STACK" --preview' in scripts(preview)
    pulumi_jobs = workflow("pulumi.yml")["jobs"]
    assert [n for n, j in pulumi_jobs.items() if "environment" in j] == ["preview"]


def test_jobs_that_touch_staging_or_prod_run_only_from_main() -> None:
    """Dispatched by hand from any branch, these workflows do nothing: every job is, or needs, one gated on main
    (the environments' deployment-branch rules say the same on GitHub's side)."""
    for file in ("deploy.yml", "promote.yml"):
        parsed = workflow(file)
        assert set(triggers(parsed)) == {"workflow_dispatch"}, file
        jobs = parsed["jobs"]

        def gated(name: str, jobs: dict[str, Any] = jobs) -> bool:  # this file's jobs, bound now
            job = jobs[name]
            needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
            return job.get("if", "").startswith("github.ref == 'refs/heads/main'") or any(gated(n) for n in needs)
        assert all(gated(name) for name in jobs), file


# ----------------------------------------------------------------------------------------------- deploying


def test_every_merge_to_main_starts_a_deploy_of_every_stack_after_the_tests() -> None:
    parsed = workflow("pulumi.yml")
    assert triggers(parsed)["push"]["branches"] == ["main"]
    job = parsed["jobs"]["deploy"]
    assert job["needs"] == "tests" and "push" in job["if"] and "refs/heads/main" in job["if"]
    assert job["strategy"]["matrix"]["stack"] == list(rules.deployed_by_ci())
    assert job["permissions"] == {"actions": "write"}
    assert 'gh workflow run deploy.yml --repo "$GITHUB_REPOSITORY" --ref main -f stack="$STACK" -f sha="$GITHUB_SHA"' \
        in scripts(job)


def test_deploys_are_serialized_per_stack_and_planned() -> None:
    """Workflow-level concurrency per stack (one running, the newest pending) plus the plan's head check: a stack
    never ends on an older commit when merges race."""
    parsed = workflow("deploy.yml")
    assert parsed["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}
    assert triggers(parsed)["workflow_dispatch"]["inputs"]["stack"]["options"] == list(rules.deployed_by_ci())
    plan = parsed["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read", "deployments": "read"}
    assert 'python -m tools.promote plan "$STACK" --sha "$SHA"' in scripts(plan)
    assert plan["outputs"]["deploy"] == "${{ steps.plan.outputs.deploy }}"


def test_each_stack_is_previewed_then_deployed_behind_its_own_environment_from_the_planned_commit() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    preview, up = jobs["preview"], jobs["up"]
    assert preview["needs"] == "plan" and preview["if"] == "needs.plan.outputs.deploy == 'true'"
    assert up["needs"] == ["plan", "preview"]  # the approver of `up` has the preview of the same commit
    assert preview["environment"] == "${{ inputs.stack }}-preview" and up["environment"] == "${{ inputs.stack }}"
    for job in (preview, up):
        assert job["runs-on"] == "${{ fromJSON(needs.plan.outputs.runs-on) }}"
        (checkout,) = using(job, "actions/checkout")
        assert checkout["with"]["ref"] == "${{ needs.plan.outputs.sha }}"
        assert checkout["with"]["persist-credentials"] is False
    assert '.venv/bin/python -m tools.promote deploy "$STACK" --preview' in scripts(preview)
    assert scripts(up).strip() == '.venv/bin/python -m tools.promote deploy "$STACK"'  # up, then verification


def test_private_api_servers_are_deployed_from_their_in_vpc_runners() -> None:
    assert ci.runs_on("aws-prod") == '["self-hosted", "kf-prod"]'
    assert ci.runs_on("alicloud-prod") == '["self-hosted", "kf-alicloud-prod"]'
    assert ci.runs_on("aws-staging") == '["self-hosted", "kf-staging"]'  # staging rehearses prod's private API
    assert ci.runs_on("aws-dev") == '"ubuntu-latest"'


def test_every_update_runs_the_policy_pack() -> None:
    """CI runs `pulumi` only through `tools.promote deploy`, which always passes --policy-pack (tested in
    test_promote_deploy.py), and builds the pack's virtualenv first."""
    for file, name, job in all_jobs():
        text = scripts(job)
        assert not re.search(r"(^|[;&|(]) *pulumi +(up|preview|destroy|refresh)", text, re.MULTILINE), (file, name)
    setup = "\n".join(s.get("run", "") for s in load(SETUP)["runs"]["steps"])
    assert "policy/.venv/bin/pip install --quiet -r policy/requirements.txt" in setup


# --------------------------------------------------------------------------------------------- promoting


def test_promotion_opens_a_pull_request_that_starts_ci() -> None:
    parsed = workflow("promote.yml")
    inputs = triggers(parsed)["workflow_dispatch"]["inputs"]
    assert set(inputs["source"]["options"]) == {s for c in rules.CHAINS for s in c[:-1]}
    assert set(inputs["target"]["options"]) == {s for c in rules.CHAINS for s in c[1:]}
    job = parsed["jobs"]["promote"]
    assert job["environment"] == "promotion"
    (app,) = using(job, "actions/create-github-app-token")
    (pr,) = using(job, "peter-evans/create-pull-request")
    assert pr["with"]["token"] == "${{ steps.app.outputs.token }}"  # GITHUB_TOKEN's pull requests start no CI
    assert "github.token" not in str(pr["with"])
    assert pr["with"]["branch"].endswith("-${{ github.run_id }}")  # never rewrites a reviewed pull request
    assert pr["with"]["add-paths"] == "stacks/Pulumi.${{ inputs.target }}.yaml"
    assert pr["with"]["commit-message"] == "${{ steps.promote.outputs.message }}"
    script = scripts(job)
    assert '--message-file "$RUNNER_TEMP/message.txt"' in script
    assert 'args+=(--skip-stage "$REASON")' in script
    assert "--no-verify" not in script


# ------------------------------------------------------------------------------------------------ images


def test_the_model_ingest_image_is_built_from_the_root_and_its_digest_printed() -> None:
    parsed = workflow("images.yml")
    on = triggers(parsed)
    assert on["push"] == {"tags": ["v*"]} and "workflow_dispatch" in on
    job = parsed["jobs"]["model-ingest"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    (build,) = using(job, "docker/build-push-action")
    assert build["with"]["context"] == "." and build["with"]["file"] == "components/model/Dockerfile"
    assert (ROOT / build["with"]["file"]).is_file() and build["with"]["push"] is True
    text = scripts(job)
    assert 'name="ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/model-ingest"' in text
    (printing,) = [s for s in steps(job) if s.get("name") == "Print the digest"]
    assert printing["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert 'echo "$NAME@$DIGEST"' in printing["run"] and "GITHUB_STEP_SUMMARY" in printing["run"]


def test_codeowners_guard_prod_and_the_pipeline() -> None:
    owners = (GITHUB / "CODEOWNERS").read_text()
    for pattern in ("/stacks/Pulumi.*-prod.yaml", "/.github/", "/tools/promote/"):
        assert re.search(rf"^{re.escape(pattern)}\s+@\S+", owners, re.MULTILINE), pattern
