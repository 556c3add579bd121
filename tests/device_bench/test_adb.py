"""adb target: the real adb client's error when no device is attached, and its other error paths.
(The benchmark_model log parser is tested on recorded output in test_benchmark_model_log.py.)"""

import os
import shutil
import socket
import subprocess

import pytest
from edgenet.device_bench.bench import Plan, run_benchmarks
from edgenet.device_bench.targets import TargetOptions
from helpers import missing_tool

from edgenet.errors import EdgenetError

FAST = dict(warmup=1, runs=3)


@pytest.fixture
def adb_port(monkeypatch):
    """A private adb server port, so the test neither uses nor disturbs a real server; killed afterwards."""
    if shutil.which("adb") is None:
        missing_tool("adb client not installed (apt-get install adb)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", port)
    yield port
    subprocess.run(["adb", "kill-server"], env=os.environ | {"ANDROID_ADB_SERVER_PORT": port}, capture_output=True)


def test_no_device_attached(adb_port, tiny, tmp_path):
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")  # never pushed: the device check comes first
    with pytest.raises(
        EdgenetError,
        match=r"adb://emulator-5554: adb get-state failed: error: device "
        r"'emulator-5554' not found",
    ) as e:
        run_benchmarks(
            [tiny / "tflite" / "model_fp32.tflite"],
            Plan(**FAST),
            target="adb://emulator-5554",
            target_opts=TargetOptions(benchmark_binary=binary),
            progress=False,
        )
    assert e.value.exit_code == 3


def test_missing_adb_client_and_binary(tiny, tmp_path):
    model = tiny / "tflite" / "model_fp32.tflite"
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    with pytest.raises(EdgenetError, match="adb not found; install Android platform-tools"):
        run_benchmarks(
            [model],
            Plan(**FAST),
            target="adb://X",
            target_opts=TargetOptions(benchmark_binary=binary, adb="no-such-adb"),
            progress=False,
        )
    with pytest.raises(EdgenetError, match="needs --benchmark-binary PATH"):
        run_benchmarks([model], Plan(**FAST), target="adb://X", progress=False)
    with pytest.raises(EdgenetError, match=r"--benchmark-binary .*: file not found"):
        run_benchmarks(
            [model],
            Plan(**FAST),
            target="adb://X",
            target_opts=TargetOptions(benchmark_binary=tmp_path / "nope"),
            progress=False,
        )
    with pytest.raises(EdgenetError, match="needs the device's serial"):
        run_benchmarks([model], Plan(**FAST), target="adb://", progress=False)
