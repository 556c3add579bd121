"""remote_runner.py (and edgenet/cpu.py, which travels beside it) must run on a board's Python 3.7 + NumPy 1.x with
nothing from edgenet."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from edgenet.device_bench import remote_runner

from edgenet import cpu

SOURCES = {
    "remote_runner.py": Path(remote_runner.__file__).read_text(),
    remote_runner.CPU_MODULE: Path(cpu.__file__).read_text(),
}
SOURCE = "\n".join(SOURCES.values())


def test_parses_with_python37_grammar():
    for source in SOURCES.values():
        ast.parse(source, feature_version=(3, 7))  # rejects walrus, positional-only params, match, ...


def test_no_newer_features_or_edgenet_imports():
    tree = ast.parse(SOURCE)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # f"{x=}" (3.8) leaves "x=" text before the value
            for part in node.values:
                assert not (isinstance(part, ast.Constant) and str(part.value).endswith("=")), "f-string '='"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            names = [n for n in names if n != "edgenet.cpu"]  # the in-process fallback; boards get edgenet_cpu.py
            assert not any(n and n.split(".")[0] in ("edgenet", "device_bench", "converters") for n in names)
    for newer in ("removeprefix", "removesuffix", "math.prod", "functools.cache", "default_rng", "shlex.join"):
        assert newer not in SOURCE, newer  # 3.8+/3.9+ stdlib, NumPy ≥ 1.17


def test_vermin_minimum_version():
    """vermin (a dev dependency) finds the minimum Python version from every stdlib/builtin use."""
    exe = Path(sys.executable).with_name("vermin")
    out = subprocess.run(
        [str(exe), "-t=3.7-", "--no-tips", "--violations", "--eval-annotations", remote_runner.__file__, cpu.__file__],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_runs_as_a_standalone_script(tiny, tmp_path):
    """Copied into a folder with its CPU module and run with -I (isolated: no cwd, no PYTHONPATH), as the ssh target
    does on a board."""
    for name, source in SOURCES.items():
        (tmp_path / name).write_text(source)
    script = tmp_path / "remote_runner.py"
    spec = {"model": str(tiny / "tflite" / "model_int8.tflite"), "threads": 1, "warmup": 1, "runs": 4}
    out = subprocess.run(
        [sys.executable, "-I", str(script), json.dumps(spec)], capture_output=True, text=True, cwd=tmp_path
    )
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith(remote_runner.RESULT_MARKER), out.stderr
    result = json.loads(line[len(remote_runner.RESULT_MARKER) :])
    assert result["ok"] and len(result["latencies_ms"]) == 4 and result["input"]["dtype"] == "int8"
    # the record every backend returns (edgenet.device_bench.backends build it with run_record from this very file)
    assert set(remote_runner.RECORD_FIELDS) <= set(result) and result["delegate_ran"] == "xnnpack"
    bad = subprocess.run([sys.executable, "-I", str(script), "{}"], capture_output=True, text=True)
    assert bad.returncode == 4 and '"ok": false' in bad.stdout
