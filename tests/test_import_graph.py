"""The package layering, checked on every import statement (module level and inside functions).

The table below is the one place the layers are written down: the test reads it, and docs/architecture.md's
layer section is generated from it (``python tests/test_import_graph.py`` rewrites the block between the
``layers:start``/``layers:end`` markers; :func:`test_architecture_page_lists_the_layers` fails when it is stale).

A layer imports only the layers it lists, so there are no cycles between them: the stages (convert, quantization,
bench) know nothing of each other's packages except where the table says so, the workflows compose them, and the
library never imports a front end.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# source folder -> the package it installs as
FOLDERS = {
    "edgenet": "edgenet",
    "converters": "edgenet.converters",
    "quantization": "edgenet.quantization",
    "device_bench": "edgenet.device_bench",
}


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # module prefixes; the longest matching prefix decides a module's layer
    imports: tuple[str, ...]  # the other layers it may import
    what: str


LAYERS = (
    Layer("core", ("edgenet",), (), "models, data, training, preprocessing, artefact runners, atomic writes"),
    Layer(
        "bench", (FOLDERS["device_bench"],), ("core",), "timing and accuracy of model files on targets, the results db"
    ),
    Layer(
        "quantization",
        (FOLDERS["quantization"],),
        ("core",),
        "calibration, recipes, quantizers, int8 fixes and analysis",
    ),
    Layer(
        "convert",
        (FOLDERS["converters"],),
        ("core", "quantization"),
        "PyTorch → ONNX → TFLite/other runtimes, verified",
    ),
    Layer(
        "workflows",
        ("edgenet.workflows", "edgenet.api"),
        ("core", "bench", "quantization", "convert"),
        "fit, scale search, quant-report, bundle, the Python API: convert *and* bench together",
    ),
    Layer(
        "front end",
        ("edgenet.cli", "edgenet.__main__"),
        ("core", "bench", "quantization", "convert", "workflows"),
        "the `edgenet` command: parse, call one library function, print",
    ),
)
BY_NAME = {lay.name: lay for lay in LAYERS}
START, END = "<!-- layers:start -->", "<!-- layers:end -->"
PAGE = ROOT / "docs" / "architecture.md"


def layer(module: str) -> str | None:
    """The layer of ``module`` (longest prefix wins), None for modules outside edgenet."""
    best, length = None, -1
    for lay in LAYERS:
        for prefix in lay.modules:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = lay.name, len(prefix)
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = FOLDERS[parts[0]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports (``from a.b import c`` counts as ``a.b`` and ``a.b.c``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def edges() -> list[tuple[str, int, str, str, str]]:
    """(file, line, importer layer, imported module, imported layer) for every cross-layer import."""
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "_vendor" in path.parts:
                continue
            src = layer(module_name(path))
            for line, mod in imports(path):
                dst = layer(mod)
                if dst is not None and dst != src:
                    found.append((str(path.relative_to(ROOT)), line, src, mod, dst))
    return found


def layers_markdown() -> str:
    """The layer table as markdown, highest layer first (what docs/architecture.md shows)."""
    rows = ["| layer | modules | may import | what it holds |", "|---|---|---|---|"]
    for lay in reversed(LAYERS):
        mods = ", ".join(f"`{m}`" for m in lay.modules)
        rows.append(f"| {lay.name} | {mods} | {', '.join(lay.imports) or '—'} | {lay.what} |")
    note = "Generated from `tests/test_import_graph.py` (`python tests/test_import_graph.py`); edit the table there."
    return "\n".join([note, "", *rows])


def page_with_layers(text: str) -> str:
    """``text`` with the block between the layer markers replaced by :func:`layers_markdown`."""
    if START not in text or END not in text:
        raise SystemExit(f"{PAGE}: add the lines {START} and {END} where the layer table goes")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{layers_markdown()}\n{END}{tail}"


def test_lower_layers_never_import_higher_ones():
    bad = [
        f"{f}:{line}: {src} imports {mod} ({dst})"
        for f, line, src, mod, dst in edges()
        if dst not in BY_NAME[src].imports
    ]
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_convert_and_bench_do_not_import_each_other():
    """The rule this table exists for: a stage that imports another stage's package hides a workflow."""
    assert "bench" not in BY_NAME["convert"].imports and "convert" not in BY_NAME["bench"].imports
    crossing = [e for e in edges() if {e[2], e[4]} == {"convert", "bench"}]
    assert not crossing


def test_no_private_name_crosses_a_layer():
    """What one layer uses of another is public (``tflite_schema``, not ``_schema``): a private import across layers
    is an API nobody promised to keep."""
    bad = [
        f"{f}:{line}: {src} imports {mod}"
        for f, line, src, mod, _ in edges()
        if mod.rsplit(".", 1)[-1].startswith("_") and not mod.rsplit(".", 1)[-1].startswith("__")
    ]
    assert not bad, "\n".join(bad)


def test_the_table_has_no_cycles():
    order = [lay.name for lay in LAYERS]
    for lay in LAYERS:
        assert all(order.index(dep) < order.index(lay.name) for dep in lay.imports), lay.name


def test_the_check_sees_function_level_imports(tmp_path):
    """The rule would be toothless if lazy imports inside functions slipped past it."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from edgenet.converters.pipeline import convert\n    import edgenet.device_bench.db\n")
    assert [m for _, m in imports(f)] == [
        "edgenet.converters.pipeline",
        "edgenet.converters.pipeline.convert",
        "edgenet.device_bench.db",
    ]
    assert layer("edgenet.cli.main") == "front end" and layer("edgenet.artifacts.runtime") == "core"
    assert layer("edgenet.workflows.fit") == "workflows" and layer("edgenet.api") == "workflows"
    assert layer("edgenet.workflowsx") == "core" and layer("numpy") is None


def test_architecture_page_lists_the_layers():
    text = PAGE.read_text(encoding="utf-8")
    assert page_with_layers(text) == text, "docs/architecture.md is stale: run python tests/test_import_graph.py"


def test_the_page_generator_replaces_only_the_block():
    text = f"intro\n{START}\nold table\n{END}\noutro\n"
    new = page_with_layers(text)
    assert new.startswith("intro\n") and new.endswith("\noutro\n") and "old table" not in new
    assert "| workflows | `edgenet.workflows`, `edgenet.api` |" in new
    assert page_with_layers(new) == new


if __name__ == "__main__":  # rewrite docs/architecture.md's layer block from the table
    PAGE.write_text(page_with_layers(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the layer table into {PAGE}", file=sys.stderr)
