"""Fixtures: tiny models (built once per session) and a real sshd on 127.0.0.1 with keys made for this run."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import missing_tool

sys.path.insert(0, str(Path(__file__).parent))
import tiny_models


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """Folder with tflite/, torch/ and eval/ (see tiny_models.py)."""
    return tiny_models.ensure(tmp_path_factory.getbasetemp() / "tiny_models")


@dataclass
class SshServer:
    url: str
    port: int
    known_hosts: Path
    identity: Path
    folder: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd -D on 127.0.0.1:<free port> with its own config, host key and one authorized client key.

    Runs as whoever runs the tests: started by an ordinary user, sshd skips privilege separation's chroot and lets
    in only that user (which is all the tests need); as root it also needs /run/sshd. Needs openssh-server
    (.ci/run installs it): skipped without it, a failure under EDGENET_REQUIRE_TOOLS=1."""
    sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd_bin).exists() or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        missing_tool("openssh-server/client not installed (apt-get install openssh-server)")
    user = pwd.getpwuid(os.getuid())
    if Path(user.pw_shell).name in ("nologin", "false"):
        missing_tool(f"user {user.pw_name} has no login shell ({user.pw_shell}): sshd cannot run commands as it")
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "host_key")
    _keygen(d / "client_key")
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    (d / "authorized_keys").chmod(0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory (root only)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel ERROR
"""
    )
    log = open(d / "sshd.log", "w")  # noqa: SIM115 - sshd writes to it until teardown
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")], stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                missing_tool(f"sshd did not start: {(d / 'sshd.log').read_text()[:300]}")
            time.sleep(0.1)
    host_pub = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    yield SshServer(f"ssh://{user.pw_name}@127.0.0.1:{port}", port, d / "known_hosts", d / "client_key", d)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
