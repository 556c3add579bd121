"""What the wheel installs: the stage folders (converters/, quantization/, device_bench/) as edgenet.converters and so
on, never under their generic names, which PyPI's ``converters`` and ``quantization`` packages own."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_import_graph import FOLDERS, ROOT, imports

STAGES = ("converters", "quantization", "device_bench")


def test_pyproject_installs_every_package_folder_under_edgenet():
    """The explicit list (written by the rename tool) covers every package folder on disk, mapped to its folder."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for folder, installed in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            on_disk.add(".".join([installed, *init.parent.relative_to(ROOT / folder).parts]))
    assert set(tool["packages"]) == on_disk
    assert all(p == "edgenet" or p.startswith("edgenet.") for p in tool["packages"])
    assert tool["package-dir"] == {"edgenet": "edgenet", **{f"edgenet.{s}": s for s in STAGES}}
    assert set(tool["package-data"]) == {"edgenet", "edgenet.converters._vendor"}


def test_no_code_imports_a_stage_by_its_generic_name():
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {mod}"
        for top in (*FOLDERS, "tests", "benchmarks", "scripts")
        for path in (ROOT / top).rglob("*.py")
        if "_vendor" not in path.parts
        for line, mod in imports(path)
        if mod.split(".")[0] in STAGES
    ]
    assert not bad, "\n".join(bad)


def test_from_the_repo_root_nothing_loads_under_a_generic_name():
    """Run where the folders sit on sys.path (the repo root), the product still imports edgenet.<stage> only."""
    code = (
        "import sys, edgenet.cli.main, edgenet.converters.pipeline, edgenet.device_bench.bench, edgenet.api\n"
        "import edgenet.converters, edgenet.quantization.recipe\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {STAGES!r}))\n"
        "print(edgenet.converters.__name__, edgenet.converters.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    loaded, where = out.splitlines()
    assert loaded == "[]"
    assert where.startswith("edgenet.converters ") and where.endswith("__init__.py")
