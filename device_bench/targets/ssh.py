"""A board over ssh: copy ``remote_runner.py`` and the model, run it with the board's python, read JSON back.

Uses the system ``ssh`` client (OpenSSH, present wherever there is a board to reach; it honours the user's
~/.ssh/config, agents and jump hosts, which a Python SSH library would not) with:

* ``BatchMode=yes`` — never a password prompt that would hang an unattended run;
* ``ConnectTimeout`` — an unreachable host fails within seconds, and a subprocess timeout backs it up;
* ``StrictHostKeyChecking=yes`` against ``--known-hosts`` (or the user's own) — an unknown or changed host key is
  an error, never silently accepted;
* ``ServerAliveInterval`` — a board that drops off mid-run ends the run instead of hanging it.

Files travel as ``ssh host 'cat > file'`` streams rather than scp: that works against dropbear and boards without
an sftp-server, which modern scp needs.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
from pathlib import Path

from edgenet.device_bench import remote_runner
from edgenet.device_bench.targets import TargetOptions, read_result

from edgenet import cpu
from edgenet.errors import EdgenetError

_URL = re.compile(r"^ssh://(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^:/@]+)(?::(?P<port>\d+))?/?$")


def parse_ssh_url(url: str) -> tuple[str | None, str, int]:
    m = _URL.match(url)
    if not m:
        raise EdgenetError(f"--target {url}: expected ssh://user@host[:port]")
    return m["user"], m["host"].strip("[]"), int(m["port"] or 22)


class SshTarget:
    backends = ("tflite",)

    def __init__(self, url: str, opts: TargetOptions) -> None:
        self.user, self.host, self.port = parse_ssh_url(url)
        self.name = url.rstrip("/")
        self.opts = opts
        self.dir: str | None = None
        self._copied: dict[str, str] = {}
        if opts.known_hosts is not None and not Path(opts.known_hosts).is_file():
            raise EdgenetError(f"--known-hosts {opts.known_hosts}: file not found")
        if opts.identity is not None and not Path(opts.identity).is_file():
            raise EdgenetError(f"--identity {opts.identity}: file not found")

    # ------------------------------------------------------------------------------------------------ plumbing
    def ssh_args(self) -> list[str]:
        o = self.opts
        args = ["ssh", "-p", str(self.port), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(o.connect_timeout)}"]
        args += ["-o", "StrictHostKeyChecking=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        if o.known_hosts is not None:
            args += [
                "-o",
                f"UserKnownHostsFile={Path(o.known_hosts).resolve()}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ]
        if o.identity is not None:
            args += ["-i", str(Path(o.identity).resolve()), "-o", "IdentitiesOnly=yes"]
        return [*args, f"{self.user}@{self.host}" if self.user else self.host]

    def _ssh(self, command: str, stdin=None, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run ``command`` on the board; connection-level failures become one-line errors naming the fix."""
        try:
            proc = subprocess.run(
                [*self.ssh_args(), command], stdin=stdin, capture_output=True, text=stdin is None, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise EdgenetError(
                f"{self.name}: no answer within {timeout:.0f} s (host down, wrong port, or not an SSH server)",
                exit_code=3,
            ) from None
        except FileNotFoundError:
            raise EdgenetError("ssh client not found: install OpenSSH (apt-get install openssh-client)") from None
        if proc.returncode == 255:  # ssh's own failure, not the remote command's
            err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
            raise EdgenetError(self._explain(err), exit_code=3)
        return proc

    def _explain(self, stderr: str) -> str:
        where = f"{self.name}"
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("@@@")]
        text = " ".join(lines)
        if "Host key verification failed" in text or "host key" in text.lower():
            kh = self.opts.known_hosts or "~/.ssh/known_hosts"
            return (
                f"{where}: host key not trusted (unknown or changed); check the board's fingerprint and add it to "
                f"{kh} (ssh-keyscan -p {self.port} {self.host}), or pass --known-hosts FILE"
            )
        if "Permission denied" in text or "Too many authentication failures" in text:
            return (
                f"{where}: authentication refused; key-based login is required (no password prompts): pass "
                "--identity KEY or add your public key to the board's ~/.ssh/authorized_keys"
            )
        if "Connection refused" in text:
            return f"{where}: connection refused on port {self.port} (is sshd running there?)"
        if "timed out" in text.lower():
            return f"{where}: no answer within {self.opts.connect_timeout:.0f} s (host down or unreachable)"
        if "Could not resolve hostname" in text:
            return f"{where}: unknown host name {self.host}"
        return f"{where}: ssh failed ({(lines[-1] if lines else 'no message')[:200]})"

    # ------------------------------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> SshTarget:
        t = self.opts.connect_timeout + 10
        proc = self._ssh('mktemp -d "${TMPDIR:-/tmp}/edgenet-bench.XXXXXX"', timeout=t)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise EdgenetError(
                f"{self.name}: cannot create a temporary folder ({proc.stderr.strip()[:200]})", exit_code=3
            )
        self.dir = proc.stdout.strip().splitlines()[-1]
        self.put(Path(remote_runner.__file__), "remote_runner.py")
        self.put(Path(cpu.__file__), remote_runner.CPU_MODULE)
        return self

    def __exit__(self, *exc) -> None:
        if self.dir:
            with contextlib.suppress(EdgenetError):  # best effort: the folder lives in the board's tmp
                self._ssh(f"rm -rf {shlex.quote(self.dir)}", timeout=self.opts.connect_timeout + 10)
            self.dir = None

    def put(self, local: Path, name: str) -> str:
        """Copy ``local`` to the board's work folder as ``name``; returns the remote path."""
        remote = f"{self.dir}/{name}"
        with open(local, "rb") as f:
            proc = self._ssh(f"cat > {shlex.quote(remote)}", stdin=f)
        if proc.returncode != 0:
            raise EdgenetError(f"{self.name}: copying {local.name} failed ({proc.stderr.decode()[:200]})", exit_code=3)
        return remote

    def run(self, model: Path, spec: dict, inputs: Path | None = None) -> dict:
        key = str(model.resolve())
        if key not in self._copied:
            self._copied[key] = self.put(model, f"model{len(self._copied)}.tflite")
        remote_inputs = self.put(inputs, "inputs.npy") if inputs else None
        spec = spec | {"model": self._copied[key], "inputs": remote_inputs}
        runner = shlex.quote(f"{self.dir}/remote_runner.py")
        proc = self._ssh(f"{self.opts.remote_python} {runner} {shlex.quote(json_dumps(spec))}")
        if proc.returncode == 127:
            raise EdgenetError(
                f"{self.name}: '{self.opts.remote_python}' not found on the board; install python3 or pass "
                "--remote-python PATH",
                exit_code=3,
            )
        return read_result(proc.stdout, proc.stderr, proc.returncode, f"{self.name} ({model.name})")


def json_dumps(d: dict) -> str:
    import json

    return json.dumps(d, separators=(",", ":"))
