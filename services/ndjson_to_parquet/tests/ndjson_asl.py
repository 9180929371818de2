"""The processor state machine's definition as Terraform renders it, and what its tasks send: enough
of Step Functions' Parameters evaluation (JSONPath field references, ``$$`` context references and
``States.Format``) to compute the payloads the definition builds, for contract tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MODULE = REPO / "terraform" / "modules" / "ndjson_to_parquet"
TEMPLATE = MODULE / "processor.asl.json"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")

VALUES: dict[str, object] = {
    "table_name": "ndjson-parquet-sqs-file-tracking-dev",
    "status_updater_arn": (
        "arn:aws:lambda:eu-west-1:123456789012:function:ndjson-parquet-batch-status-updater-dev"
    ),
    "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ndjson-parquet-alerts-dev",
    "environment": "dev",
    "glue_poll_seconds": 30,
    "concurrent_runs_retry_seconds": 60,
    "concurrent_runs_max_attempts": 6,
    "retry_interval_seconds": 2,
    "timeout_seconds": 14400,
}


def definition(values: dict[str, object] = VALUES) -> dict[str, Any]:
    """templatefile() for this template: ``${name}`` placeholders only."""
    text = TEMPLATE.read_text()
    return json.loads(PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text))


def terraform_local(name: str, file: str = "main.tf") -> str:
    """A plain string of the module's ``locals`` (``name = "value"``)."""
    found = re.search(
        rf'^\s*{re.escape(name)}\s*=\s*"([^"$]*)"\s*$', (MODULE / file).read_text(), re.MULTILINE
    )
    if found is None:
        raise LookupError(f'no {name} = "..." in {file}')
    return found.group(1)


def path_value(path: str, state: Any, context: Any) -> Any:
    """``$.a.b`` in the state input, ``$$.a.b`` in the context object."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (state, path[1:])
    value = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def evaluate(parameters: Any, state: Any, context: Any) -> Any:
    """The payload Step Functions builds from ``Parameters`` for the given state input and context."""
    if isinstance(parameters, list):
        return [evaluate(item, state, context) for item in parameters]
    if not isinstance(parameters, dict):
        return parameters
    result: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            result[key[:-2]] = _expression(value, state, context)
        else:
            result[key] = evaluate(value, state, context)
    return result


def _expression(text: str, state: Any, context: Any) -> Any:
    if text.startswith("States.Format("):
        template, arguments = _format_call(text)
        values = [_text(path_value(argument, state, context)) for argument in arguments]
        pieces = template.split("{}")
        if len(pieces) != len(values) + 1:
            raise ValueError(f"{text}: {len(pieces) - 1} placeholders, {len(values)} arguments")
        return "".join(piece + value for piece, value in zip(pieces, [*values, ""], strict=True))
    if text.startswith("$"):
        return path_value(text, state, context)
    raise ValueError(f"unsupported expression {text!r}")


def _format_call(text: str) -> tuple[str, list[str]]:
    """``States.Format('template', $.a, $.b)`` -> (template, ["$.a", "$.b"]); \\' escapes a quote."""
    body = text[len("States.Format(") :].rstrip()
    if not body.startswith("'") or not body.endswith(")"):
        raise ValueError(f"unsupported States.Format call {text!r}")
    index, template = 1, []
    while body[index] != "'":
        if body[index] == "\\" and body[index + 1] in "'{}\\":
            index += 1
        template.append(body[index])
        index += 1
    arguments = [argument.strip() for argument in body[index + 1 : -1].split(",") if argument.strip()]
    return "".join(template), arguments


def _text(value: Any) -> str:
    """How States.Format writes an argument: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
