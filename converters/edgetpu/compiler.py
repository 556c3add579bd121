"""Run Coral's ``edgetpu_compiler`` and parse what it prints.

The compiler writes a summary to stdout (sizes, on-chip/off-chip parameter memory, operation counts) and an
operation log ``<model>_edgetpu.log`` (with ``-s`` the same table is printed too). The parser reads both formats,
and the refusals and failures it prints ("Model not quantized", "Model could not be parsed", "Compilation failed:
..."); it is tested on real recorded output in tests/fixtures/edgetpu_compiler/, each file labelled with its source.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgenet.errors import EdgenetError

MAPPED = "Mapped to Edge TPU"
INSTALL_HINT = (
    "install Coral's compiler (x86-64 Debian/Ubuntu): "
    "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | "
    "sudo gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg && "
    'echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt '
    'coral-edgetpu-stable main" | sudo tee /etc/apt/sources.list.d/coral-edgetpu.list && sudo apt-get update && '
    "sudo apt-get install edgetpu-compiler (elsewhere: Coral's Colab compiler, "
    "https://colab.research.google.com/github/google-coral/tutorials/blob/master/compile_for_edgetpu.ipynb)"
)

_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 1e3, "MB": 1e6, "GB": 1e9}
_SIZE = re.compile(r"^([\d.]+)\s*([KMG]?i?B)$")
_ROW = re.compile(r"^([A-Z][A-Z0-9_:\-]*)\s+(\d+)\s+(\S.*?)\s*$")
_FIELDS = {  # summary line prefix -> attribute
    "Input model": "input_model",
    "Input": "input_model",
    "Output model": "output_model",
    "Output": "output_model",
    "Input size": "input_bytes",
    "Output size": "output_bytes",
    "On-chip memory used for caching model parameters": "on_chip_used_bytes",
    "On-chip memory remaining for caching model parameters": "on_chip_remaining_bytes",
    "On-chip memory available for caching model parameters": "on_chip_available_bytes",
    "Off-chip memory used for streaming uncached model parameters": "off_chip_used_bytes",
    "Number of Edge TPU subgraphs": "edgetpu_subgraphs",
    "Total number of operations": "total_ops",
    "Number of operations that will run on Edge TPU": "ops_edgetpu",
    "Number of operations that will run on CPU": "ops_cpu",
    "Operation log": "operation_log",
}


@dataclass
class OperatorRow:
    op: str
    count: int
    status: str

    @property
    def mapped(self) -> bool:
        return self.status == MAPPED


@dataclass
class CompilerLog:
    """Everything ``edgetpu_compiler`` reported about one model; None where it did not say."""

    compiler_version: str | None = None
    compiled: bool = False
    error: str | None = None
    compile_ms: int | None = None
    input_model: str | None = None
    output_model: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    on_chip_used_bytes: int | None = None
    on_chip_remaining_bytes: int | None = None
    on_chip_available_bytes: int | None = None  # compiler 2.0 printed "available" instead of "remaining"
    off_chip_used_bytes: int | None = None
    edgetpu_subgraphs: int | None = None
    total_ops: int | None = None
    ops_edgetpu: int | None = None
    ops_cpu: int | None = None
    operation_log: str | None = None
    operators: list[OperatorRow] = field(default_factory=list)

    @property
    def unmapped(self) -> list[OperatorRow]:
        """Rows not mapped to the Edge TPU, each with the compiler's reason."""
        return [r for r in self.operators if not r.mapped]

    def counts(self) -> dict[str, int | None]:
        """Ops on the Edge TPU / CPU: the printed totals, else the table, else 'all mapped' when nothing says so."""
        tpu, cpu = self.ops_edgetpu, self.ops_cpu
        if tpu is None and self.compiled and self.total_ops is not None:
            # Without "Number of operations that will run on ..." lines the compiler mapped everything.
            tpu, cpu = self.total_ops, 0
        if tpu is None and self.operators:
            tpu = sum(r.count for r in self.operators if r.mapped)
            cpu = sum(r.count for r in self.operators if not r.mapped)
        total = self.total_ops if self.total_ops is not None else (tpu + cpu if tpu is not None else None)
        return {"edgetpu": tpu, "cpu": cpu, "total": total}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = self.counts()
        return d


def _bytes(text: str) -> int | None:
    m = _SIZE.match(text.strip())
    return int(round(float(m.group(1)) * _UNITS[m.group(2)])) if m else None


def parse_log(text: str, log: CompilerLog | None = None) -> CompilerLog:
    """Parse compiler stdout and/or an operation log (several texts may be fed into the same ``log``)."""
    log = log or CompilerLog()
    rows: list[OperatorRow] = []
    in_table = False
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("Edge TPU Compiler version"):
            log.compiler_version = line.rsplit(" ", 1)[-1]
        elif m := re.match(r"Models? compiled successfully in (\d+) ms", line):
            log.compiled, log.compile_ms = True, int(m.group(1))
        elif line.startswith("Invalid model"):
            reason = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
            log.error = f"{line}: {reason}" if reason else line
        elif line.startswith(("Compilation failed:", "Internal compiler error")) or (
            line.startswith("Compilation failed!") and log.error is None
        ):
            log.error = line
        elif re.match(r"Operator\s+Count\s+Status$", line):
            in_table = True
        elif (m := _ROW.match(line)) and (in_table or "  " in raw):
            rows.append(OperatorRow(m.group(1), int(m.group(2)), m.group(3)))
            in_table = True
        elif ":" in line and (key := line.split(":", 1)[0]) in _FIELDS:
            attr, value = _FIELDS[key], line.split(":", 1)[1].strip()
            if attr.endswith("_bytes"):
                value = _bytes(value)
            elif attr in ("edgetpu_subgraphs", "total_ops", "ops_edgetpu", "ops_cpu"):
                value = int(value)
            if getattr(log, attr) is None:
                setattr(log, attr, value)
        elif line and in_table and not _ROW.match(line):
            in_table = False
    if rows and not log.operators:
        log.operators = rows
    if log.error and log.error.startswith("Compilation failed"):
        log.compiled = False
    return log


@dataclass
class CompileRun:
    """One run of the compiler: the parsed log plus where its output went."""

    log: CompilerLog
    compiler: str
    command: list[str]
    returncode: int
    seconds: float
    output: Path | None  # the compiled ``*_edgetpu.tflite``, None when compilation failed
    log_file: Path | None
    stdout: str


def find_compiler() -> str | None:
    return shutil.which("edgetpu_compiler")


def run_compiler(tflite: Path, out_dir: Path, timeout_s: float = 180, compiler: str | None = None) -> CompileRun:
    """``edgetpu_compiler -s -o OUT_DIR --timeout_sec T MODEL``; a hang past ``timeout_s`` is killed and reported."""
    compiler = compiler or find_compiler()
    if compiler is None:
        raise EdgenetError(f"edgetpu_compiler not found on PATH; {INSTALL_HINT}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [compiler, "-s", "-o", str(out_dir), "--timeout_sec", str(int(timeout_s)), str(tflite)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 30)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        log = parse_log(out)
        log.compiled, log.error = False, f"edgetpu_compiler did not finish within {timeout_s + 30:.0f} s (killed)"
        return CompileRun(log, compiler, cmd, -9, time.perf_counter() - start, None, None, out)
    stdout = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
    log = parse_log(stdout)
    log_file = out_dir / f"{tflite.stem}_edgetpu.log"
    if log_file.is_file():
        parse_log(log_file.read_text(errors="replace"), log)
    output = out_dir / f"{tflite.stem}_edgetpu.tflite"
    if proc.returncode != 0 or not output.is_file():
        log.compiled = False
        log.error = log.error or f"edgetpu_compiler exited with code {proc.returncode}"
        output = None
    return CompileRun(
        log,
        compiler,
        cmd,
        proc.returncode,
        time.perf_counter() - start,
        output,
        log_file if log_file.is_file() else None,
        stdout,
    )
