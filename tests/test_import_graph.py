"""The package layering, checked on every import statement (module level and inside functions).

    edgenet (core: models, data, training, artifacts)  <-  device_bench  <-  quantization  <-  converters
                                                      <-  edgenet.cli / edgenet.api (the front ends: anything)

A lower layer never imports a higher one, and the library never imports a front end, so there are no cycles
between the packages and the CLI stays a thin layer over the library.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgenet", "converters", "quantization", "device_bench")
FRONT_ENDS = ("edgenet.cli", "edgenet.api", "edgenet.__main__")
# layer -> the layers it may import (front ends may import anything)
ALLOWED = {
    "edgenet": {"edgenet"},
    "device_bench": {"edgenet", "device_bench"},
    "quantization": {"edgenet", "device_bench", "quantization"},
    "converters": {"edgenet", "device_bench", "quantization", "converters"},
}


def layer(module: str) -> str | None:
    for front in FRONT_ENDS:
        if module == front or module.startswith(front + "."):
            return "front end"
    top = module.split(".")[0]
    return top if top in PACKAGES else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
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
    """(file, line, importer layer, imported module, imported layer) for every cross-package import."""
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "_vendor" in path.parts:
                continue
            src = layer(module_name(path))
            for line, mod in imports(path):
                dst = layer(mod)
                if dst is not None and dst != src:
                    found.append((str(path.relative_to(ROOT)), line, src, mod, dst))
    return found


def test_lower_layers_never_import_higher_ones():
    bad = [
        f"{f}:{line}: {src} imports {mod} ({dst})"
        for f, line, src, mod, dst in edges()
        if src != "front end" and dst not in ALLOWED[src]
    ]
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_the_check_sees_function_level_imports(tmp_path):
    """The rule would be toothless if lazy imports inside functions slipped past it."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from edgenet.converters.pipeline import convert\n    import edgenet.device_bench.db\n")
    assert [m for _, m in imports(f)] == [
        "edgenet.converters.pipeline",
        "edgenet.converters.pipeline.convert",
        "edgenet.device_bench.db",
    ]
    assert layer("edgenet.cli.main") == "front end" and layer("edgenet.artifacts.runtime") == "edgenet"
    assert "converters" not in ALLOWED["quantization"] and "quantization" not in ALLOWED["device_bench"]
