"""Options shared by several commands, defined once."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON to stdout.")


def emit_json(obj) -> None:
    """Print a dataclass, a list of them, or plain data as indented JSON."""

    def plain(o):
        if is_dataclass(o):
            return asdict(o)
        if isinstance(o, list | tuple):
            return [plain(x) for x in o]
        return o

    click.echo(json.dumps(plain(obj), indent=2))


def print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    """A plain aligned text table; ``columns`` is (key, header)."""
    cells = [[h for _, h in columns]] + [[str(r[k]) for k, _ in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for j, line in enumerate(cells):
        click.echo("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        if j == 0:
            click.echo("  ".join("-" * w for w in widths))


def human(n: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)
