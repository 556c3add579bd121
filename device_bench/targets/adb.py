"""An Android phone over adb: push the model and TFLite's official ``benchmark_model`` binary
(``--benchmark-binary``, e.g. the prebuilt android_aarch64_benchmark_model), run it, parse its log.

The binary prints mean/std/min/max (no percentiles), and it measures latency only, so ``--eval-data`` needs a
local or ssh target."""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from edgenet.device_bench.benchmark_model_log import BenchmarkModelLogError, parse_benchmark_model
from edgenet.device_bench.targets import TargetOptions

from edgenet.errors import EdgenetError

REMOTE_DIR = "/data/local/tmp/edgenet"
DELEGATE_FLAGS = {
    "xnnpack": ["--use_xnnpack=true"],
    "none": ["--use_xnnpack=false"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
}


def benchmark_model_args(graph: str, spec: dict) -> list[str]:
    """benchmark_model's flags for one configuration: exactly ``runs`` runs, or as many as fit in ``seconds``."""
    delegate = spec.get("delegate", "xnnpack")
    if delegate not in DELEGATE_FLAGS:
        raise EdgenetError(f"--delegate {delegate} is not available over adb: use one of {', '.join(DELEGATE_FLAGS)}")
    args = [f"--graph={graph}", f"--num_threads={int(spec.get('threads', 1))}"]
    args += [f"--warmup_runs={int(spec.get('warmup', 10))}", "--warmup_min_secs=0"]
    if spec.get("seconds"):
        args += ["--num_runs=1", f"--min_secs={float(spec['seconds'])}", f"--max_secs={float(spec['seconds']) * 4}"]
    else:
        args += [f"--num_runs={int(spec.get('runs', 100))}", "--min_secs=0", "--max_secs=100000"]
    return args + DELEGATE_FLAGS[delegate]


class AdbTarget:
    backends = ("tflite",)

    def __init__(self, url: str, opts: TargetOptions) -> None:
        self.serial = url.removeprefix("adb://").strip("/")
        if not self.serial:
            raise EdgenetError("--target adb:// needs the device's serial: adb://SERIAL (`adb devices` lists them)")
        self.name = f"adb://{self.serial}"
        self.opts = opts
        if opts.benchmark_binary is None:
            raise EdgenetError(
                "--target adb:// needs --benchmark-binary PATH: TFLite's benchmark_model built for the phone "
                "(e.g. android_aarch64_benchmark_model from the TFLite performance-measurement page)"
            )
        if not Path(opts.benchmark_binary).is_file():
            raise EdgenetError(f"--benchmark-binary {opts.benchmark_binary}: file not found")
        self.adb = shutil.which(opts.adb)
        if self.adb is None:
            raise EdgenetError(f"{opts.adb}: adb not found; install Android platform-tools (apt-get install adb)")
        self.env: dict = {}

    def _adb(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run([self.adb, "-s", self.serial, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EdgenetError(
                f"{self.name}: adb {args[0]} gave no answer within {timeout:.0f} s", exit_code=3
            ) from None
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            msg = next((ln for ln in lines if ln.startswith("error")), lines[-1] if lines else "")  # skip "* daemon…"
            raise EdgenetError(
                f"{self.name}: adb {args[0]} failed: {msg[:200] or f'exit {proc.returncode}'}", exit_code=3
            )
        return proc

    def __enter__(self) -> AdbTarget:
        self._adb("get-state", timeout=30)  # "error: device 'X' not found" when it is not attached
        props = {}
        for key in (
            "ro.product.manufacturer",
            "ro.product.model",
            "ro.soc.model",
            "ro.product.cpu.abi",
            "ro.build.version.release",
        ):
            props[key] = self._adb("shell", "getprop", key).stdout.strip()
        self.env = {
            "hostname": self.serial,
            "os": f"Android {props['ro.build.version.release']}",
            "arch": props["ro.product.cpu.abi"],
            "cpu_model": " ".join(
                p for p in (props["ro.product.manufacturer"], props["ro.product.model"], props["ro.soc.model"]) if p
            ),
        }
        self._adb("shell", "mkdir", "-p", REMOTE_DIR)
        self._adb("push", str(self.opts.benchmark_binary), f"{REMOTE_DIR}/benchmark_model")
        self._adb("shell", "chmod", "755", f"{REMOTE_DIR}/benchmark_model")
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(EdgenetError):
            self._adb("shell", "rm", "-rf", REMOTE_DIR, timeout=30)

    def run(self, model: Path, spec: dict, inputs: Path | None = None) -> dict:
        if inputs is not None:
            raise EdgenetError("--eval-data is not available over adb (benchmark_model times, it does not classify)")
        if int(spec.get("batch", 1)) != 1:
            raise EdgenetError("--batch over adb: benchmark_model runs the model's own batch; use --batch 1")
        graph = f"{REMOTE_DIR}/{re.sub(r'[^A-Za-z0-9_.-]', '_', model.name)}"
        self._adb("push", str(model), graph)
        cmd = " ".join(shlex.quote(a) for a in [f"{REMOTE_DIR}/benchmark_model", *benchmark_model_args(graph, spec)])
        proc = subprocess.run([self.adb, "-s", self.serial, "shell", cmd], capture_output=True, text=True)
        try:
            log = parse_benchmark_model(proc.stdout + "\n" + proc.stderr)
        except BenchmarkModelLogError as e:
            raise EdgenetError(f"{self.name} ({model.name}): {e}", exit_code=3) from None
        return {
            "ok": True,
            "latency_summary": {"mean": log.mean_ms, "std": log.std_ms, "min": log.min_ms, "max": log.max_ms},
            "runs": log.count,
            "load_ms": log.init_ms,
            "first_inference_ms": log.first_ms,
            "peak_rss_mb": log.peak_memory_mb,
            "backend_version": "benchmark_model",
            "interpreter": "benchmark_model",
            "env": self.env | {"memory_source": log.memory_source, "xnnpack": log.xnnpack},
        }
