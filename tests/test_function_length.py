"""No function in the library or the CLI is over 80 lines (from ``def`` to its last line): a function that long
does several jobs, and each job deserves a name. Checked with ``ast`` on every module, nested functions included."""

from __future__ import annotations

import ast
from pathlib import Path

from test_import_graph import FOLDERS, ROOT

LIMIT = 80
# being rewritten for string escaping in another change (issue 26); they are templates more than logic
EXEMPT = {("edgenet/workflows/bundle.py", "kotlin_snippet"), ("edgenet/workflows/bundle.py", "swift_snippet")}


def long_functions(path: Path) -> list[tuple[str, int]]:
    """(name, lines) of every function in ``path`` longer than LIMIT."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > LIMIT
    ]


def test_no_function_is_over_80_lines():
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "_vendor" in path.parts:
                continue
            rel = str(path.relative_to(ROOT))
            found += [f"{rel}: {name} ({n} lines)" for name, n in long_functions(path) if (rel, name) not in EXEMPT]
    assert not found, "split these functions:\n" + "\n".join(found)


def test_the_check_counts_nested_functions(tmp_path):
    f = tmp_path / "m.py"
    body = "\n".join(f"        x{i} = {i}" for i in range(LIMIT))
    f.write_text(f"def outer():\n    def inner():\n{body}\n    return inner\n")
    assert [name for name, _ in long_functions(f)] == ["outer", "inner"]
