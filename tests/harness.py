"""Run the Pulumi program (or any function creating resources) under mocks and record what it registers.

Every registration is kept with its type, name, inputs, dependencies and options, so tests assert on
what would really be sent to the engine. The monitor never rehydrates resource references on its
executor thread (the stock MockMonitor does, which breaks on component packages such as pulumi-eks).
"""
from __future__ import annotations

import json
import os
import re
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from tests import fakes

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "kserve-fluid"
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Secret:
    """A secret value as it reached the engine."""

    value: Any


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        sig = v.get(_SIG)
        if sig == _SECRET:
            return Secret(_plain(v.get("value")))
        if sig == _RESOURCE:
            return {"urn": v.get("urn")}
        if sig == _OUTPUT:
            inner = _plain(v.get("value")) if "value" in v else None
            return Secret(inner) if v.get("secret") else inner
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def reveal(v: Any) -> Any:
    """Inputs with Secret wrappers removed (for asserting on content)."""
    if isinstance(v, Secret):
        return reveal(v.value)
    if isinstance(v, dict):
        return {k: reveal(x) for k, x in v.items()}
    if isinstance(v, list):
        return [reveal(x) for x in v]
    return v


def _wire(v: Any) -> Any:
    if isinstance(v, Secret):
        return {_SIG: _SECRET, "value": _wire(v.value)}
    if isinstance(v, dict):
        return {k: _wire(x) for k, x in v.items() if not (isinstance(x, dict) and "urn" in x and len(x) == 1)}
    if isinstance(v, list):
        return [_wire(x) for x in v]
    return v


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool | None
    retain_on_delete: bool | None
    provider: str
    delete_before_replace: bool
    ignore_changes: list[str]
    custom_timeouts: dict[str, str]
    replace_on_changes: list[str] = field(default_factory=list)
    remote: bool = False  # a multi-language component (pulumi-eks): its provider builds its children

    @property
    def plain(self) -> dict:
        return reveal(self.inputs)

    @property
    def metadata(self) -> dict:
        return self.plain.get("metadata") or {}


class Recorder(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", fakes.outputs(args.typ, args.name, dict(args.inputs))

    def call(self, args):
        return fakes.invoke(args.token, dict(args.args))


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recorder: Recorder):
        super().__init__(recorder)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        inputs = _plain(json_format.MessageToDict(request.object))
        revealed = reveal(inputs)
        state = self.mocks.new_resource(mocks.MockResourceArgs(
            typ=request.type, name=request.name, inputs=revealed, provider=request.provider,
            resource_id=request.importId, custom=request.custom or False))[1]
        state = {k: (inputs[k] if k in inputs and v == revealed.get(k) else v) for k, v in state.items()}
        obj = _sync_await(rpc.serialize_properties(_wire(state), {}))
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, f"{request.name}-id", state)
        self.registrations.append(Registration(
            urn=urn, type=request.type, name=request.name, parent=request.parent, custom=request.custom,
            inputs=inputs, dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            protect=request.protect if request.HasField("protect") else None,
            retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
            provider=request.provider, delete_before_replace=request.deleteBeforeReplace,
            ignore_changes=list(request.ignoreChanges),
            custom_timeouts={"create": request.customTimeouts.create, "update": request.customTimeouts.update,
                             "delete": request.customTimeouts.delete},
            replace_on_changes=list(request.replaceOnChanges), remote=request.remote))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=f"{request.name}-id", object=obj)


@dataclass
class Run:
    """What one program run registered, with lookup helpers."""

    registrations: list[Registration]
    outputs: dict[str, Any]
    error: BaseException | None = None

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ or r.type.endswith(":" + typ)]

    def one(self, typ: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration | None:
        return next((r for r in self.registrations if r.urn == urn), None)

    def depends_on(self, res: Registration, target: Registration) -> bool:
        """True if the engine makes `res` wait for `target`, as a real `pulumi up` orders them.

        A dependency on a component is a dependency on every custom resource below it; a component's own
        `depends_on` does not reach its children (the Python SDK passes it to none of them), so a chain through
        a component's option counts only when that component is itself `res` (as for a remote component, which
        its provider builds). `target` is reached when it is, or every custom resource below it is, waited for.
        """
        def deps(r: Registration) -> list[str]:
            return r.dependencies + [u for us in r.property_dependencies.values() for u in us]

        def customs(urn: str) -> list[str]:
            r = self.by_urn(urn)
            if r is None or r.custom or r.remote:
                return [urn]
            return [c for child in self.registrations if child.parent == urn for c in customs(child.urn)]

        reached: set[str] = set()
        todo = [c for urn in deps(res) for c in customs(urn)]
        while todo:
            urn = todo.pop()
            if urn in reached:
                continue
            reached.add(urn)
            r = self.by_urn(urn)
            if r is not None:
                todo += [c for dep in deps(r) for c in customs(dep)]
        wanted = customs(target.urn)
        return bool(wanted) and all(urn in reached for urn in wanted)

    def helm(self, chart: str) -> Registration:
        found = [r for r in self.of_type("kubernetes:helm.sh/v3:Release")
                 if r.plain.get("chart", "").rstrip("/").split("/")[-1] == chart]
        assert len(found) == 1, f"expected one helm release of chart {chart}, found {[r.name for r in found]}"
        return found[0]

    def charts(self) -> set[str]:
        return {r.plain.get("chart", "").split("/")[-1] for r in self.of_type("kubernetes:helm.sh/v3:Release")}


def _path(key: str) -> tuple[str, list[str | int]]:
    """'gpuPool.maxSize' -> ('kserve-fluid:gpuPool', ['maxSize']); 'cache.levels[0].medium' -> (..., ['levels', 0, 'medium']);
    'aws:region' -> ('aws:region', [])."""
    head, _, rest = key.partition(".")
    full = head if ":" in head else f"{PROJECT}:{head}"
    parts: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", rest):
        parts.append(int(part[1:-1]) if part.startswith("[") else part)
    return full, parts


def stack_config(stack: str, overrides: dict[str, Any] | None = None, secrets: dict[str, str] | None = None,
                 drop: tuple[str, ...] = (), text: str | None = None) -> dict[str, str]:
    """The config a real `pulumi up` hands the program for a committed stack file (or `text`): the file's keys,
    then Pulumi.yaml's defaults for declared keys the file does not set, as the CLI merges them. Overrides
    and drops take paths, e.g. {"gpuPool.instanceType": "g5.xlarge"} or drop=("cache.levels[0].path",)."""
    data = yaml.safe_load(text if text is not None else (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    cfg: dict[str, Any] = {(k if ":" in k else f"{PROJECT}:{k}"): v for k, v in ((data or {}).get("config") or {}).items()}
    for key in drop:
        full, parts = _path(key)
        if not parts:
            cfg.pop(full, None)
            continue
        node = cfg.get(full)
        for part in parts[:-1]:
            node = node[part] if node is not None else None
        if isinstance(node, (dict, list)):
            del node[parts[-1]]
    for key, value in (overrides or {}).items():
        full, parts = _path(key)
        if not parts:
            cfg[full] = value
            continue
        node = cfg.setdefault(full, {})
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        node[parts[-1]] = value
    for key, value in (secrets or {}).items():
        cfg[f"{PROJECT}:{key}"] = value
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    for key, decl in (project.get("config") or {}).items():
        if key not in cfg and isinstance(decl, dict) and "default" in decl:
            cfg[key] = decl["default"]
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in cfg.items()}


def load(stack: str, config: dict[str, str] | None = None, secret_keys: tuple[str, ...] = ()) -> Any:
    """`components.config.load()` as the program calls it, for a stack's config: Settings, or the error."""
    from components import config as project_config

    found: list[Any] = []

    def program() -> None:
        found.append(project_config.load())

    result = run(stack, program=program, config=config, secret_keys=secret_keys)
    if result.error is not None:
        return result.error
    return found[0]


def run(stack: str, program: Callable[[], Any] | None = None, config: dict[str, str] | None = None,
        secret_keys: tuple[str, ...] = (), preview: bool = False) -> Run:
    """Run `program` (default: the project's __main__.py) with the config of `stack` under mocks."""
    config = stack_config(stack) if config is None else config
    pulumi.runtime.config.set_all_config(config, [f"{PROJECT}:{k}" for k in secret_keys])
    recorder = Recorder()
    monitor = RecordingMonitor(recorder)
    pulumi.runtime.settings.ROOT.set(None)  # a fresh stack resource, so exports do not leak between runs
    mocks.set_mocks(recorder, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    program = program or (lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"))
    error = None
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        def body():
            program()
            return 1
        _sync_await(run_pulumi_func(lambda: _sync_await(pulumi.Output.from_input(body()).future())))
    except BaseException as e:  # noqa: BLE001 - surfaced to the test through Run.error
        error = e
    finally:
        os.chdir(cwd)
    try:
        outputs = _stack_outputs()
    except Exception as e:  # noqa: BLE001 - an output that failed (e.g. a check inside an apply) is the run's error
        outputs, error = {}, error or e
    return Run(monitor.registrations, outputs, error)


def run_isolated(stack: str, patch: str) -> tuple[str | None, list[str]]:
    """`run` in a fresh interpreter, for a run that fails on purpose: an Output whose apply raised leaves the
    Pulumi runtime's global state unusable for the next run in the same process. `patch` ("module:function")
    runs first in that interpreter. Returns the error's text and the types and names registered."""
    import subprocess
    import sys

    module, function = patch.split(":")
    script = (f"import json, importlib; from tests import harness; importlib.import_module({module!r}).{function}(); "
              f"r = harness.run({stack!r}); "
              "print(json.dumps([None if r.error is None else str(r.error), [f'{x.type} {x.name}' for x in r.registrations]]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    error, registered = json.loads(done.stdout.strip().splitlines()[-1])
    return error, registered


def _stack_outputs() -> dict[str, Any]:
    from pulumi.runtime.settings import get_root_resource
    root = get_root_resource()
    exported = getattr(root, "outputs", {}) or {}

    async def resolve():
        out = {}
        for key, value in exported.items():
            o = pulumi.Output.from_input(value)
            v = await o.future()
            out[key] = Secret(v) if await o.is_secret() else v
        return out
    return _sync_await(resolve())
