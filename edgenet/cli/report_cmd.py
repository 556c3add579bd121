"""``edgenet report``: the results database as one self-contained HTML page (and optionally markdown)."""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """Examples:

\b
  edgenet report --db results.sqlite --out report.html
  edgenet report --db results.sqlite --out report.html --markdown report.md
"""


@click.command(epilog=EPILOG)
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path), help="Results database.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="HTML file to write.")
@click.option("--markdown", type=click.Path(path_type=Path), help="Also write the table as markdown.")
def report(db_path: Path, out: Path, markdown: Path | None) -> None:
    """Top-1 vs latency (Pareto), latency by threads, size by format and the full table of every result."""
    import matplotlib

    matplotlib.use("Agg")
    from edgenet.atomic import check_writable_file, refuse_input_as_output, write_text_atomic
    from edgenet.device_bench.db import ResultsDB
    from edgenet.device_bench.report import render_html, render_markdown
    from edgenet.errors import EdgenetError

    if not db_path.is_file():
        raise EdgenetError(f"--db {db_path}: not found; create it with edgenet bench … --db {db_path}")
    refuse_input_as_output(out, "--out", {"--db": db_path})
    check_writable_file(out, "--out")
    if markdown:
        refuse_input_as_output(markdown, "--markdown", {"--db": db_path, "--out": out})
        check_writable_file(markdown, "--markdown")
    with ResultsDB(db_path) as db:
        rows = db.rows()
    if not rows:
        raise EdgenetError(f"--db {db_path}: holds no results yet; run edgenet bench … --db {db_path}")
    write_text_atomic(out, render_html(rows, db_path.name))
    if markdown:
        write_text_atomic(markdown, render_markdown(rows, db_path.name))
    click.echo(f"wrote {out} ({len(rows)} configurations)" + (f" and {markdown}" if markdown else ""))
