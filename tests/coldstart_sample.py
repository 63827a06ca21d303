"""A recorded fake run of ``python -m tools.coldstart``, replayed for its documentation.

Not a measurement: the timeline is scripted with the test fakes (``coldstart_fakes``), shaped
like Llama-3.1-8B on one g5.8xlarge GPU node, with the GPU pool at zero nodes before the first
run and the node's clock 3 s behind the API server. ``replay`` runs the real command (``cli.main``)
against it in fake time, so the output below is exactly what the tool prints for such a cluster.
``docs/coldstart.md`` shows it, and a test checks that the docs still match the tool.

    .venv/bin/python -m tests.coldstart_sample docs    # rewrites its blocks in docs/coldstart.md, and the PNG
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.coldstart_fakes import ColdStart, FakeClock, FakeCluster, FakeSender
from tools.coldstart.cli import main

#: The ``pulumi stack output`` of the recorded stack; the .invalid gateway marks it as made up.
STACK = {
    "namespace": "models",
    "inferenceService": "llama",
    "baselineInferenceService": "llama-baseline",
    "modelHost": "llama.models.example.com",
    "baselineModelHost": "llama-baseline.models.example.com",
    "ingressAddress": "gateway.recorded-fake-run.invalid",
    "modelName": "llama-31-8b",
    "scaleToZeroSeconds": 90,
}
COMMAND = ["--stack", "aws-dev", "--runs", "3"]

# Fluid's first run brings up the GPU node (the pool was at zero) and pulls the model server's
# image; the FUSE mount waits for the node's Fluid runtime. Later runs find the node, the images
# and the page cache warm.
FLUID_NEW_NODE = ColdStart(
    created=1, scheduled=118, mounted=131, pulling=131, pulled=189, started=190, ready=244,
    image_cached=False, scale_up=True,
)
FLUID_WARM = [
    ColdStart(created=1, scheduled=2, mounted=4, pulled=4, started=5, ready=27),
    ColdStart(created=1, scheduled=2, mounted=4, pulled=4, started=5, ready=29),
]
# The baseline runs on the node Fluid left up (its model server uses the same image as Fluid's):
# the first time it still pulls the storage-initializer image.
BASELINE_FIRST = ColdStart(
    created=2, scheduled=3, mounted=4, init_pulled=12, init_started=13, initialized=95, pulled=96, started=97,
    ready=126, init_containers=("storage-initializer",), init_image_cached=False,
)
BASELINE_CACHED = [
    ColdStart(created=2, scheduled=3, mounted=4, init_started=5, initialized=84, pulled=85, started=86, ready=114,
              init_containers=("storage-initializer",)),
    ColdStart(created=2, scheduled=3, mounted=4, init_started=5, initialized=88, pulled=89, started=90, ready=119,
              init_containers=("storage-initializer",)),
]
TOTALS = {"llama": [247.6, 30.4, 32.1], "llama-baseline": [130.2, 118.3, 123.0]}


def replay() -> tuple[int, str, dict[str, Any], bytes]:
    """Run the command against the recorded timeline: exit code, console output (stderr and
    stdout interleaved as on a terminal), the JSON report and the PNG."""
    clock = FakeClock()
    cluster = FakeCluster(
        {"llama": [FLUID_NEW_NODE, *FLUID_WARM], "llama-baseline": [BASELINE_FIRST, *BASELINE_CACHED]},
        skew=0.4, node_skew=-3.0, busy_polls=18,  # 18 polls of 5 s: at zero 90 s after the last request (the defaults)
    )
    send = FakeSender(cluster, clock, TOTALS)
    console = io.StringIO()
    with tempfile.TemporaryDirectory() as directory:
        out, png = Path(directory) / "coldstart.json", Path(directory) / "coldstart.png"
        code = main(
            [*COMMAND, "--out", str(out), "--png", str(png)],
            run=lambda argv: json.dumps(STACK),
            cluster_factory=lambda kubeconfig, context: cluster,
            clock=clock,
            send=send,
            stdout=console,
            stderr=console,
            environ={},
        )
        text = console.getvalue().replace(f"{directory}/", "")
        return code, text, json.loads(out.read_text()), png.read_bytes()


def transcript(text: str) -> str:
    """The console output as it appears in the docs, under the command that produced it."""
    return f"$ python -m tools.coldstart {' '.join(COMMAND)}\n{text}"


def json_excerpt(data: dict[str, Any]) -> str:
    """The first baseline run of the JSON report as shown in the docs: its events cut to the first
    three, and one list item a line so the page stays readable (still valid JSON)."""
    run = dict(data["results"][0]["runs"][0])
    run["events"] = run["events"][:3]
    lines = []
    for key, value in run.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {json.dumps(item)}" for item in value)
            lines.append(f'  "{key}": [\n{items}\n  ]')
        else:
            lines.append(f'  "{key}": {json.dumps(value)}')
    return "{\n" + ",\n".join(lines) + "\n}"


def docs_blocks(docs: str) -> dict[str, str]:
    """The generated blocks of ``docs`` (the page's text), by marker name."""
    blocks = {}
    for name, fence in MARKERS.items():
        start = docs.index(f"<!-- {name}:")
        body = docs.index(f"```{fence}\n", start) + len(fence) + 4
        blocks[name] = docs[body:docs.index("```\n<!-- end", body)]
    return blocks


def render(docs: str, blocks: dict[str, str]) -> str:
    """``docs`` with its generated blocks replaced by ``blocks``."""
    for name, current in docs_blocks(docs).items():
        fence = MARKERS[name]
        docs = docs.replace(f"```{fence}\n{current}```", f"```{fence}\n{blocks[name]}```", 1)
    return docs


def generated() -> tuple[dict[str, str], bytes]:
    """What the docs should show: the blocks' text and the PNG."""
    code, text, data, png = replay()
    assert code == 0, text
    return {"sample-output": transcript(text), "sample-json": json_excerpt(data) + "\n"}, png


MARKERS = {"sample-output": "text", "sample-json": "json"}


def write(directory: Path) -> None:
    """Rewrite the generated parts of ``directory``/coldstart.md and its PNG."""
    blocks, png = generated()
    page = directory / "coldstart.md"
    page.write_text(render(page.read_text(encoding="utf-8"), blocks), encoding="utf-8")
    (directory / "coldstart-sample.png").write_bytes(png)
    print(f"updated {page} and {directory / 'coldstart-sample.png'}")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
