"""Each pipeline setting's default is declared once, in the pipeline's Terraform module (issue 8).

The roots (dev, staging, prod) and modules/stack pass a pipeline's settings through as one typed
object: the same fields as the module's variables, each ``optional(type)`` without a default, so a
field left out arrives as null and the module's variable (``nullable = false``) takes its own
default. These tests read the ``.tf`` files and fail when a default appears anywhere but the module,
or when the field lists or types of root, stack and module drift apart. That the values do arrive
is shown by ``terraform/environments/dev/tests/defaults.tftest.hcl`` (``make tf-validate``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
ROOTS = ("dev", "staging", "prod")
PIPELINES = ("alerts_to_sftp", "ndjson_to_parquet")
# Module variables the stack itself supplies (the same for every pipeline), so no root sets them.
STACK_SUPPLIED = {"project", "environment", "package_dir", "log_level", "alarm_actions", "tags"}
# Module variables that are no root's to set, with the reason.
NOT_ROOT_SETTINGS = {
    "ndjson_to_parquet": {"name_prefix"},  # the resource names docs/ndjson_to_parquet.md fixes
}
# Fields of the stack's object that are the stack's own, not a module variable.
STACK_OWN_FIELDS = {
    "ndjson_to_parquet": {"enabled"},  # whether the module exists at all (its count)
}


# ------------------------------------------------------------------------------ Terraform type syntax


@dataclass(frozen=True)
class Type:
    """A parsed type constraint: ``kind`` is a primitive name or object/list/map/set/tuple/optional."""

    kind: str
    args: tuple[Type, ...] = ()
    fields: tuple[tuple[str, Type], ...] = ()
    default: str | None = None  # optional(type, default): the default's source text

    def field_map(self) -> dict[str, Type]:
        return dict(self.fields)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def _expect(self, token: str) -> None:
        self._skip()
        assert self.text.startswith(token, self.pos), f"expected {token!r} at {self.text[self.pos :]!r}"
        self.pos += len(token)

    def _name(self) -> str:
        self._skip()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        assert self.pos > start, f"expected a name at {self.text[self.pos :]!r}"
        return self.text[start : self.pos]

    def _peek(self, token: str) -> bool:
        self._skip()
        return self.text.startswith(token, self.pos)

    def _raw_until_close(self) -> str:
        """Source text up to the ``)`` closing the current call (a default expression)."""
        depth, start, quoted = 0, self.pos, False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"' and self.text[self.pos - 1] != "\\":
                quoted = not quoted
            elif not quoted and char in "([{":
                depth += 1
            elif not quoted and char in ")]}":
                if depth == 0:
                    return self.text[start : self.pos].strip()
                depth -= 1
            self.pos += 1
        raise AssertionError(f"unclosed call in {self.text!r}")

    def parse(self) -> Type:
        kind = self._name()
        if kind in {"string", "number", "bool", "any"}:
            return Type(kind)
        self._expect("(")
        if kind == "object":
            self._expect("{")
            fields = []
            while not self._peek("}"):
                name = self._name()
                self._expect("=")
                fields.append((name, self.parse()))
                if self._peek(","):
                    self._expect(",")
            self._expect("}")
            self._expect(")")
            return Type("object", fields=tuple(fields))
        if kind == "optional":
            inner = self.parse()
            default = None
            if self._peek(","):
                self._expect(",")
                default = self._raw_until_close()
            self._expect(")")
            return Type("optional", args=(inner,), default=default)
        args = [self.parse()]
        while self._peek(","):
            self._expect(",")
            args.append(self.parse())
        self._expect(")")
        return Type(kind, args=tuple(args))


def parse_type(text: str) -> Type:
    text = text.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return _Parser(text).parse()


# ----------------------------------------------------------------------------------------- .tf files


@dataclass(frozen=True)
class Variable:
    name: str
    type: Type
    has_default: bool
    default: Any
    nullable: bool


@functools.cache
def variables(directory: Path) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle)
        for block in document.get("variable", []):
            for quoted, body in block.items():
                name = quoted.strip('"')
                found[name] = Variable(
                    name=name,
                    type=parse_type(body.get("type", "any")),
                    has_default="default" in body,
                    default=body.get("default"),
                    nullable=body.get("nullable", True) not in (False, "false"),
                )
    return found


def module_settings(pipeline: str) -> dict[str, Variable]:
    """The module's variables a root sets through the stack."""
    excluded = STACK_SUPPLIED | NOT_ROOT_SETTINGS.get(pipeline, set())
    return {
        name: var for name, var in variables(TERRAFORM / "modules" / pipeline).items() if name not in excluded
    }


def defaults_in(type_: Type, path: str) -> list[str]:
    """Every optional(type, default) inside ``type_``, as ``path: default``."""
    found = []
    if type_.kind == "optional" and type_.default is not None:
        found.append(f"{path}: optional(..., {type_.default})")
    for arg in type_.args:
        found += defaults_in(arg, path)
    for name, field in type_.fields:
        found += defaults_in(field, f"{path}.{name}")
    return found


def without_defaults(type_: Type) -> Type:
    """The type a root or the stack must declare for a module type: every default dropped."""
    return Type(
        type_.kind,
        args=tuple(without_defaults(arg) for arg in type_.args),
        fields=tuple((name, without_defaults(field)) for name, field in type_.fields),
    )


def expected_field(var: Variable) -> Type:
    """What the stack's object declares for a module variable: optional(...) when the module has a default."""
    plain = without_defaults(var.type)
    return Type("optional", args=(plain,)) if var.has_default else plain


# ----------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_stack_fields_are_the_modules_settings(pipeline):
    stack = variables(TERRAFORM / "modules" / "stack")[pipeline].type
    module = module_settings(pipeline)
    fields = stack.field_map()
    own = STACK_OWN_FIELDS.get(pipeline, set())
    assert set(fields) - own == set(module), (
        f"modules/stack's {pipeline} object and modules/{pipeline}'s variables differ: "
        f"only in stack {sorted(set(fields) - own - set(module))}, "
        f"only in module {sorted(set(module) - set(fields))}"
    )
    mismatched = {
        name: (fields[name], expected_field(var))
        for name, var in module.items()
        if fields[name] != expected_field(var)
    }
    assert not mismatched, f"{pipeline}: stack types differ from the module's: {mismatched}"


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("root", ROOTS)
def test_roots_declare_the_stacks_type(root, pipeline):
    stack = variables(TERRAFORM / "modules" / "stack")[pipeline]
    declared = variables(TERRAFORM / "environments" / root)[pipeline]
    assert declared.type.kind == "object", f"{root}: {pipeline} must be a typed object, not {declared.type}"
    assert declared.type == stack.type, f"{root}: {pipeline}'s type differs from modules/stack's"
    assert (declared.has_default, declared.default, declared.nullable) == (
        stack.has_default,
        stack.default,
        stack.nullable,
    ), f"{root}: {pipeline}'s default/nullable differ from modules/stack's"


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("where", ["modules/stack", *(f"environments/{root}" for root in ROOTS)])
def test_no_pipeline_default_outside_its_module(where, pipeline):
    var = variables(TERRAFORM / where)[pipeline]
    assert not defaults_in(var.type, pipeline), (
        f"{where} declares defaults of {pipeline} settings; they belong in modules/{pipeline} only: "
        f"{defaults_in(var.type, pipeline)}"
    )
    # The whole object may default to {} (every setting then takes the module's default), nothing else.
    assert not var.has_default or var.default == {}, f"{where}: {pipeline} may default to {{}} only"


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_module_settings_with_a_default_take_it_for_null(pipeline):
    """The stack passes a setting a root left out as null: the module must then use its default."""
    nullable = [
        name
        for name, var in module_settings(pipeline).items()
        if var.has_default and var.default is not None and var.nullable
    ]
    assert not nullable, f"modules/{pipeline}: these variables need `nullable = false`: {nullable}"


def test_the_checks_see_a_default_declared_in_the_stack():
    """The parser finds a default however deep it is written (guards the tests above)."""
    type_ = parse_type(
        'object({a = optional(number), b = optional(object({c = optional(string, "x,)")})), d = string})'
    )
    assert defaults_in(type_, "p") == ['p.b.c: optional(..., "x,)")']
    assert without_defaults(type_) == parse_type(
        "object({a = optional(number), b = optional(object({c = optional(string)})), d = string})"
    )


def _without_comments(value: Any) -> Any:
    """python-hcl2 keeps comments under ``__comments__``-style keys: not settings."""
    if isinstance(value, dict):
        return {key: _without_comments(item) for key, item in value.items() if not key.startswith("__")}
    return value


def _unknown_fields(value: Any, type_: Type, path: str) -> list[str]:
    """Fields of ``value`` (parsed HCL) that ``type_`` does not declare, and required ones it lacks."""
    if type_.kind == "optional":
        return _unknown_fields(value, type_.args[0], path)
    if type_.kind != "object" or not isinstance(value, dict):
        return []
    fields = type_.field_map()
    problems = [f"{path}.{name}: not a field" for name in value if name not in fields]
    problems += [
        f"{path}.{name}: required, missing"
        for name, field in fields.items()
        if field.kind != "optional" and name not in value
    ]
    for name, item in value.items():
        if name in fields:
            problems += _unknown_fields(item, fields[name], f"{path}.{name}")
    return problems


@pytest.mark.parametrize("root", ROOTS)
def test_tfvars_example_fits_the_root(root):
    """A copied `<env>.tfvars.example` sets only fields the root declares, and every required one."""
    with (TERRAFORM / "environments" / root / f"{root}.tfvars.example").open() as handle:
        example = _without_comments(hcl2.load(handle))
    declared = variables(TERRAFORM / "environments" / root)
    assert set(example) <= set(declared), (
        f"{root}.tfvars.example sets undeclared {set(example) - set(declared)}"
    )
    problems = [
        problem
        for pipeline in PIPELINES
        if pipeline in example
        for problem in _unknown_fields(example[pipeline], declared[pipeline].type, pipeline)
    ]
    assert not problems, f"{root}.tfvars.example: {problems}"
