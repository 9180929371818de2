"""Tables for people, JSON for scripts: every command prints through :func:`emit`."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def emit(
    data: Any,
    *,
    as_json: bool,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Print ``data``: a list of rows (mappings) as a table with ``columns``, or a mapping as two
    columns; with ``as_json`` the same data as JSON on stdout, nothing else."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        return
    if isinstance(data, Mapping):
        table = Table(title=title, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in data.items():
            table.add_row(str(key), _cell(value))
        console.print(table)
        return
    rows = list(data)
    if not rows:
        console.print(f"{title}: none" if title else "none")
        return
    table = Table(title=title)
    for column in columns or list(rows[0]):
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns or list(rows[0])))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)
