"""Where a benchmark runs: this machine (``local``), a board over ``ssh://user@host[:port]``, a phone over
``adb://SERIAL``. A target runs one configuration per call and returns the runner's raw result dict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgenet.device_bench.remote_runner import RESULT_MARKER

from edgenet.errors import EdgenetError


@dataclass(frozen=True)
class TargetOptions:
    known_hosts: Path | None = None
    identity: Path | None = None
    remote_python: str = "python3"
    connect_timeout: float = 8.0
    benchmark_binary: Path | None = None
    adb: str = "adb"


def read_result(stdout: str, stderr: str, returncode: int, where: str) -> dict:
    """The runner's last ``EDGENET_RESULT`` line as a dict; a one-line EdgenetError when it failed or said nothing."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(RESULT_MARKER)), None)
    if line is None:
        last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), f"exit status {returncode}")
        raise EdgenetError(f"{where}: the benchmark runner failed ({last[:300]})", exit_code=3)
    result = json.loads(line[len(RESULT_MARKER) :])
    if not result.get("ok"):
        raise EdgenetError(f"{where}: {result.get('error')}", exit_code=3)
    return result


def open_target(url: str, opts: TargetOptions):
    """A context manager for the target named by ``url``."""
    if url == "local":
        from edgenet.device_bench.targets.local import LocalTarget

        return LocalTarget()
    if url.startswith("ssh://"):
        from edgenet.device_bench.targets.ssh import SshTarget

        return SshTarget(url, opts)
    if url.startswith("adb://"):
        from edgenet.device_bench.targets.adb import AdbTarget

        return AdbTarget(url, opts)
    raise EdgenetError(f"--target {url}: use local, ssh://user@host[:port] or adb://SERIAL")
