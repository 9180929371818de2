"""The message contracts as JSON Schema (``docs/<pipeline>/schemas/<message>.schema.json``), loaded and
checked in one place for the producer and consumer tests of every pipeline.

    from contract_schemas import contract

    pointer = contract("alerts_to_sftp", "alert-pointer")
    pointer.assert_produced(json.loads(AlertPointer(...).to_body()))   # a producer's output
    for example in pointer.examples: ...                               # what a consumer must accept
    pointer.errors(document)                                           # why the schema refuses it

Schemas refer to each other by ``$id`` (``urn:lambda-pipelines:<pipeline>:<message>``), resolved from
this registry only: nothing is fetched.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SUFFIX = ".schema.json"
META_SCHEMA = "https://json-schema.org/draft/2020-12/schema"

_DOLLAR = re.compile(r"(?<!\\)\$")


def ecma_regex(pattern: str) -> str:
    """JSON Schema patterns are ECMA-262, where ``$`` matches only at the very end; in Python's ``re``
    it also matches before a trailing newline, so ``^[a-z]+$`` would let ``"abc\\n"`` through.
    Our patterns use no ``$`` inside character classes."""
    return _DOLLAR.sub(r"\\Z", pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not re.search(ecma_regex(pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# propertyNames descends into "pattern" too; patternProperties keeps jsonschema's re.search, which
# is why our schemas restrict map keys with propertyNames rather than patternProperties.
EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


def schema_files() -> list[Path]:
    """Every schema file of every pipeline, sorted."""
    return sorted(DOCS.glob(f"*/schemas/*{SUFFIX}"))


def schema_id(pipeline: str, message: str) -> str:
    return f"urn:lambda-pipelines:{pipeline}:{message}"


def pipeline_and_message(path: Path) -> tuple[str, str]:
    """``docs/<pipeline>/schemas/<message>.schema.json`` -> (pipeline, message)."""
    return path.parents[1].name, path.name.removesuffix(SUFFIX)


@functools.cache
def _documents() -> dict[tuple[str, str], dict[str, Any]]:
    return {pipeline_and_message(path): json.loads(path.read_text()) for path in schema_files()}


@functools.cache
def registry() -> Registry:
    """Every schema under its ``$id``."""
    resources = [
        (document["$id"], Resource.from_contents(document, default_specification=DRAFT202012))
        for document in _documents().values()
        if "$id" in document
    ]
    return Registry().with_resources(resources)


@dataclass(frozen=True)
class Contract:
    """One message's schema."""

    pipeline: str
    message: str
    schema: dict[str, Any]

    @property
    def path(self) -> Path:
        return DOCS / self.pipeline / "schemas" / f"{self.message}{SUFFIX}"

    @property
    def examples(self) -> list[Any]:
        return list(self.schema.get("examples", []))

    @functools.cached_property
    def validator(self) -> Any:
        return EcmaValidator(self.schema, registry=registry())

    def errors(self, document: Any) -> list[str]:
        """Why the schema refuses ``document`` (empty: it is valid)."""
        found = [
            ("/".join(map(str, e.absolute_path)) or "(root)", e.message)
            for e in self.validator.iter_errors(document)
        ]
        return [f"{where}: {message}" for where, message in sorted(found)]

    def is_valid(self, document: Any) -> bool:
        return not self.errors(document)

    def assert_valid(self, document: Any) -> None:
        problems = self.errors(document)
        assert not problems, f"{self.message} breaks {self.path.relative_to(REPO)}: {problems}\n{document!r}"

    def assert_produced(self, document: Any) -> None:
        """What a producer emits: valid, and every field it writes is declared in the schema (open
        schemas let consumers ignore new fields; they must still be documented before they are sent)."""
        self.assert_valid(document)
        extra = undeclared(self.schema, document)
        assert not extra, f"{self.message}: fields not declared in {self.path.relative_to(REPO)}: {extra}"


def contract(pipeline: str, message: str) -> Contract:
    documents = _documents()
    if (pipeline, message) not in documents:
        raise LookupError(f"no schema docs/{pipeline}/schemas/{message}{SUFFIX}")
    return Contract(pipeline, message, documents[(pipeline, message)])


REMOVE = object()
"""A value for :func:`variant`: delete the member instead of setting it."""


def variant(document: Any, changes: dict[str, Any]) -> Any:
    """A deep copy of ``document`` with members set (or deleted with :data:`REMOVE`) at
    ``/``-separated paths: ``variant(example, {"files/0/size": -1, "etag": REMOVE})``."""
    result = copy.deepcopy(document)
    for path, value in changes.items():
        *parents, last = path.split("/")
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is REMOVE:
            del node[key]
        else:
            node[key] = value
    return result


def undeclared(
    schema: dict[str, Any], document: Any, root: dict[str, Any] | None = None, path: str = ""
) -> list[str]:
    """JSON paths of object members that no (sub)schema names in ``properties``,
    ``patternProperties`` or a schema-valued ``additionalProperties``, in objects whose schema
    names their members at all."""
    root = schema if root is None else root
    found: list[str] = []
    nodes = list(_applicable(schema, document, root))
    if isinstance(document, dict):
        declared: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for node, base in nodes:
            for name, subschema in node.get("properties", {}).items():
                declared.setdefault(name, []).append((subschema, base))
            for pattern, subschema in node.get("patternProperties", {}).items():
                for name in document:
                    if re.search(ecma_regex(pattern), name):
                        declared.setdefault(name, []).append((subschema, base))
            if isinstance(node.get("additionalProperties"), dict):
                for name in document:
                    declared.setdefault(name, []).append((node["additionalProperties"], base))
        # A schema that names no member of this object (e.g. {} for "any JSON") leaves it free.
        described = any("properties" in node or "patternProperties" in node for node, _ in nodes)
        for name, value in document.items():
            if name not in declared and described:
                found.append(f"{path}/{name}")
            for subschema, base in declared.get(name, []):
                found += undeclared(subschema, value, base, f"{path}/{name}")
    elif isinstance(document, list):
        for node, base in nodes:
            if isinstance(node.get("items"), dict):
                for index, value in enumerate(document):
                    found += undeclared(node["items"], value, base, f"{path}/{index}")
    return sorted(set(found))


def _applicable(
    schema: Any, document: Any, root: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(subschema, the document its local ``#`` references point into) for the schema and every
    subschema that applies to ``document`` where it is: ``$ref``, ``allOf``, the valid branches of
    ``oneOf``/``anyOf``, and ``if``/``then``/``else``."""
    if not isinstance(schema, dict):
        return
    yield schema, root
    if "$ref" in schema:
        target, base = _resolve(schema["$ref"], root)
        yield from _applicable(target, document, base)
    for member in schema.get("allOf", []):
        yield from _applicable(member, document, root)
    for keyword in ("oneOf", "anyOf"):
        for member in schema.get(keyword, []):
            if _valid_within(member, root, document):
                yield from _applicable(member, document, root)
    if "if" in schema:
        branch = "then" if _valid_within(schema["if"], root, document) else "else"
        yield from _applicable(schema.get(branch), document, root)


def _resolve(reference: str, root: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``$ref`` (``#/$defs/x`` or ``urn:...[#/...]``) -> (its subschema, its document)."""
    uri, _, fragment = reference.partition("#")
    document = registry().contents(uri) if uri else root
    node: Any = document
    for part in filter(None, fragment.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, document


def _valid_within(subschema: Any, root: dict[str, Any], document: Any) -> bool:
    """Whether ``document`` is valid against a subschema whose local references point into ``root``."""
    if not isinstance(subschema, dict):
        return bool(subschema)
    wrapper = {**subschema, "$defs": {**root.get("$defs", {}), **subschema.get("$defs", {})}}
    return EcmaValidator(wrapper, registry=registry()).is_valid(document)
