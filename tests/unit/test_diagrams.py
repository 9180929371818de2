"""The pictures of the README and docs (tools/diagrams.py -> docs/img/<pipeline>.svg) against the
Terraform they draw: every box names an output its pipeline's module has, every entry point the module
outputs is drawn, the committed SVG is the render of the model, and the README shows every picture."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import hcl2
import pytest

import diagrams

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def module_outputs(pipeline: str) -> dict[str, Any]:
    """The module's outputs: name -> its value expression (a dict for an object, else a string)."""
    with (REPO / "terraform" / "modules" / pipeline / "outputs.tf").open() as handle:
        document = hcl2.load(handle)
    outputs = {}
    for block in document["output"]:
        for name, body in block.items():
            outputs[name.strip('"')] = body["value"]
    return outputs


def drawable(pipeline: str) -> set[str]:
    """Every entry point of the module: an output, or each key of an output that is an object."""
    found = set()
    for name, value in module_outputs(pipeline).items():
        if isinstance(value, dict):
            found |= {f"{name}.{key.strip(chr(34))}" for key in value if not key.startswith("__")}
        else:
            found.add(name)
    return found


GRAPHS = {graph.pipeline: graph for graph in diagrams.GRAPHS}


@pytest.mark.parametrize("pipeline", sorted(GRAPHS))
def test_every_box_names_an_output_of_its_module(pipeline: str):
    graph = GRAPHS[pipeline]
    named = {output for node in graph.nodes for output in node.outputs}
    outputs = drawable(pipeline)
    assert named - outputs == set(), "boxes name outputs the module does not have"


@pytest.mark.parametrize("pipeline", sorted(GRAPHS))
def test_every_output_of_the_module_is_drawn(pipeline: str):
    graph = GRAPHS[pipeline]
    named = {output for node in graph.nodes for output in node.outputs}
    skipped = {name for name, _why in graph.not_drawn}
    missing = {o for o in drawable(pipeline) if o not in named and o.split(".")[0] not in skipped}
    assert missing == set(), "add a box for each new entry point to tools/diagrams.py, then `make docs`"


@pytest.mark.parametrize("pipeline", sorted(GRAPHS))
def test_edges_join_boxes_of_the_model(pipeline: str):
    graph = GRAPHS[pipeline]
    ids = [node.id for node in graph.nodes]
    assert len(ids) == len(set(ids))
    assert {e.source for e in graph.edges} | {e.target for e in graph.edges} <= set(ids)
    assert {e.source for e in graph.edges} | {e.target for e in graph.edges} == set(ids), (
        "a box without edges"
    )


@pytest.mark.parametrize("pipeline", sorted(GRAPHS))
def test_the_committed_picture_is_the_render_of_the_model(pipeline: str):
    graph = GRAPHS[pipeline]
    assert (REPO / "docs" / "img" / f"{pipeline}.dot").read_text() == graph.dot(), "run `make docs`"
    tree = ET.parse(REPO / "docs" / "img" / f"{pipeline}.svg")  # noqa: S314 (our own committed file)
    titles = {
        group.get("class"): set() for group in tree.iter(f"{SVG}g") if group.get("class") in ("node", "edge")
    }
    for group in tree.iter(f"{SVG}g"):
        if group.get("class") in ("node", "edge"):
            titles[group.get("class")].add(group.find(f"{SVG}title").text)
    assert titles["node"] == {node.id for node in graph.nodes}, "run `make docs`"
    assert titles["edge"] == {f"{e.source}->{e.target}" for e in graph.edges}, "run `make docs`"
    labels = "".join(tree.getroot().itertext())
    for node in graph.nodes:
        assert node.label.split("\\n")[0] in labels


def test_the_readme_shows_every_picture():
    readme = (REPO / "README.md").read_text()
    shown = set(re.findall(r"\]\(docs/img/([a-z_]+)\.svg\)", readme))
    assert shown == set(GRAPHS)
