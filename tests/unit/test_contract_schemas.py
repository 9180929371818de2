"""The contract schemas themselves (docs/<pipeline>/schemas/*.schema.json): each a valid draft 2020-12
schema with an id, a title, a description, additionalProperties decided on every object, and examples
that validate; each linked from its pipeline's page (docs/<pipeline>.md), every pipeline has a page,
and no file points at a docs page that does not exist."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contract_schemas import (
    DOCS,
    META_SCHEMA,
    REPO,
    SUFFIX,
    Contract,
    EcmaValidator,
    contract,
    pipeline_and_message,
    schema_files,
    schema_id,
    undeclared,
)

FILES = schema_files()
PIPELINES = sorted(
    path.name for path in (REPO / "services").iterdir() if path.is_dir() and path.name[0] not in "._"
)


def contract_of(path: Path) -> Contract:
    return contract(*pipeline_and_message(path))


def subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside a schema document, with a JSON pointer to it."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key in ("examples", "const", "enum", "default"):
                continue
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, child in value.items():
                    yield from subschemas(child, f"{where}/{key}/{name}")
            else:
                yield from subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from subschemas(child, f"{where}/{index}")


def test_every_pipeline_has_a_page_and_its_message_schemas():
    assert {"alerts_to_sftp", "example", "ndjson_to_parquet"} <= set(PIPELINES)
    for pipeline in PIPELINES:
        assert (DOCS / f"{pipeline}.md").is_file(), f"docs/{pipeline}.md is missing"
        assert list((DOCS / pipeline / "schemas").glob(f"*{SUFFIX}")), f"docs/{pipeline}/schemas is empty"
    # Nothing else lives under docs/<pipeline>/schemas/ (a typo in a suffix would hide a schema).
    strays = [p for p in DOCS.glob("*/schemas/*") if not p.name.endswith(SUFFIX)]
    assert strays == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_a_schema_is_a_valid_2020_12_schema_with_id_title_and_description(path: Path):
    schema = contract_of(path).schema
    assert schema["$schema"] == META_SCHEMA
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == schema_id(*pipeline_and_message(path))
    assert schema["title"].strip()
    assert len(schema["description"]) > 40, "say who writes it, who reads it and where it travels"
    assert schema["type"] == "object"


def test_schema_ids_are_unique():
    ids = [contract_of(path).schema["$id"] for path in FILES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_every_object_decides_on_additional_properties(path: Path):
    schema = contract_of(path).schema
    undecided = [
        where
        for where, node in subschemas(schema)
        if node.get("type") == "object" and "additionalProperties" not in node
    ]
    assert undecided == []
    assert "$comment" in schema, "say why the top level is open or closed"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_examples_validate_and_every_reference_resolves(path: Path):
    message = contract_of(path)
    assert message.examples, "give at least one example"
    for example in message.examples:
        message.assert_valid(example)
    for where, node in subschemas(message.schema):
        if "$ref" in node:
            uri, _, fragment = node["$ref"].partition("#")
            target = contract(*uri.split(":")[2:]).schema if uri else message.schema
            for part in filter(None, fragment.split("/")):
                assert part in target, f"{where}: $ref {node['$ref']} does not resolve"
                target = target[part]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_every_schema_is_linked_from_its_pipelines_page(path: Path):
    pipeline, _ = pipeline_and_message(path)
    page = (DOCS / f"{pipeline}.md").read_text()
    link = path.relative_to(DOCS).as_posix()
    assert f"]({link})" in page, f"docs/{pipeline}.md does not link {link}"


def test_every_schema_link_of_the_pages_exists():
    for page in DOCS.glob("*.md"):
        for link in re.findall(r"\]\(([^)#]+\.schema\.json)\)", page.read_text()):
            assert (DOCS / link).is_file(), f"{page.name} links {link}, which does not exist"


def test_no_file_points_at_a_docs_page_that_does_not_exist():
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    dangling = []
    for name in tracked:
        path = REPO / name
        if (
            not name
            or path.suffix not in (".py", ".md", ".tf", ".json", ".toml", ".yml")
            or not path.is_file()
        ):
            continue
        for reference in set(
            re.findall(r"(?<![\w/.])docs/[\w./-]+?\.md\b", path.read_text(errors="replace"))
        ):
            if not (REPO / reference).is_file():
                dangling.append(f"{name}: {reference}")
    assert dangling == []


# -- the helper the producer and consumer tests rely on ---------------------------------------------


SAMPLE = {
    "type": "object",
    "properties": {
        "kind": {"enum": ["a", "b"]},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "additionalProperties": True,
    "allOf": [{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"properties": {"only_a": {}}}}],
    "$defs": {"item": {"type": "object", "properties": {"name": {}}, "additionalProperties": True}},
}


def test_undeclared_names_every_member_no_schema_declares():
    document = {
        "kind": "b",
        "only_a": 1,
        "items": [{"name": "x", "colour": "red"}],
        "counts": {"anything": 1},
        "extra": True,
    }
    assert undeclared(SAMPLE, document) == ["/extra", "/items/0/colour", "/only_a"]
    assert undeclared(SAMPLE, {**document, "kind": "a"}) == ["/extra", "/items/0/colour"]


def test_patterns_match_as_in_ecma_262_where_dollar_is_the_very_end():
    validator = EcmaValidator({"type": "string", "pattern": "^[a-z]+$"})
    assert validator.is_valid("abc")
    assert not validator.is_valid("abc\n")
    keys = EcmaValidator({"type": "object", "propertyNames": {"pattern": "^[0-9]+$"}})
    assert not keys.is_valid({"1\n": 0})
