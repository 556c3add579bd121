"""The ssh target end to end against a real sshd on 127.0.0.1 (conftest), and its failure modes."""

import contextlib
import socket
import sys
import threading
import time

import pytest
from edgenet.device_bench.bench import EvalOptions, Plan, run_benchmarks
from edgenet.device_bench.targets import TargetOptions

from edgenet.errors import EdgenetError

pytestmark = [pytest.mark.ssh, pytest.mark.slow]  # a real sshd and remote runs: seconds each
FAST = dict(warmup=1, runs=5)


def opts(sshd, **kw):
    base = dict(known_hosts=sshd.known_hosts, identity=sshd.identity, remote_python=sys.executable)
    return TargetOptions(**(base | kw))


def test_end_to_end_with_eval(sshd, tiny):
    model = tiny / "tflite" / "model_int8.tflite"
    res = run_benchmarks(
        [model],
        Plan(threads=(1, 2), **FAST),
        target=sshd.url,
        target_opts=opts(sshd),
        eval_opts=EvalOptions(tiny / "eval", limit=6),
        progress=False,
    )
    (local,) = run_benchmarks([model], Plan(**FAST), eval_opts=EvalOptions(tiny / "eval", limit=6), progress=False)
    assert [r.threads for r in res] == [1, 2] and all(r.target == sshd.url for r in res)
    assert all(len(r.latencies_ms) == 5 and r.latency_ms.p50 > 0 and r.peak_rss_mb > 0 for r in res)
    assert res[0].top1 == res[1].top1 == local.top1 and res[0].eval_samples == 6  # same runner, same answers
    assert res[0].config_key != local.config_key  # where it ran is part of the key
    assert res[0].env["python"] and res[0].options["interpreter"] == "ai_edge_litert"


def test_remote_work_folder_is_removed(sshd, tiny):
    import subprocess

    before = set(subprocess.run(["ls", "/tmp"], capture_output=True, text=True).stdout.split())
    run_benchmarks(
        [tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), target=sshd.url, target_opts=opts(sshd), progress=False
    )
    after = set(subprocess.run(["ls", "/tmp"], capture_output=True, text=True).stdout.split())
    assert not {d for d in after - before if d.startswith("edgenet-bench.")}


def _fails_fast(sshd, tiny, match, url=None, limit=10.0, **kw):
    t0 = time.monotonic()
    with pytest.raises(EdgenetError, match=match) as e:
        run_benchmarks(
            [tiny / "tflite" / "model_fp32.tflite"],
            Plan(**FAST),
            target=url or sshd.url,
            target_opts=opts(sshd, **kw),
            progress=False,
        )
    assert time.monotonic() - t0 < limit
    assert "\n" not in str(e.value)
    return e.value


def test_connection_refused(sshd, tiny):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    _fails_fast(sshd, tiny, f"connection refused on port {port}", url=f"ssh://root@127.0.0.1:{port}")


def test_silent_server_times_out_within_10s(sshd, tiny):
    """A host that accepts TCP but never speaks SSH (a hung board): an error within the timeout, never a hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(srv.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        url = f"ssh://root@127.0.0.1:{srv.getsockname()[1]}"
        _fails_fast(sshd, tiny, "no answer within 3 s", url=url, connect_timeout=3)
    finally:
        stop.set()
        srv.close()
        for c in held:
            c.close()


def test_auth_refused(sshd, tiny, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    _fails_fast(sshd, tiny, "authentication refused.*--identity KEY", identity=tmp_path / "k")


def test_unknown_host_key_is_refused(sshd, tiny, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    _fails_fast(sshd, tiny, "host key not trusted.*ssh-keyscan", known_hosts=empty)


def test_changed_host_key_is_refused(sshd, tiny, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "h")], check=True)
    typ, key = (tmp_path / "h.pub").read_text().split()[:2]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {typ} {key}\n")
    _fails_fast(sshd, tiny, "host key not trusted", known_hosts=wrong)


def test_board_without_tflite_names_the_package(sshd, tiny, tmp_path):
    blocker = tmp_path / "blocker"
    for mod in ("ai_edge_litert", "tflite_runtime", "tensorflow"):
        (blocker / mod).mkdir(parents=True)
        (blocker / mod / "__init__.py").write_text("raise ImportError('not on this board')\n")
    python = f"env PYTHONPATH={blocker} {sys.executable}"
    _fails_fast(
        sshd, tiny, "no TFLite interpreter on this machine: pip install ai-edge-litert", limit=30, remote_python=python
    )


def test_board_without_numpy_or_python(sshd, tiny, tmp_path):
    blocker = tmp_path / "nonumpy"
    (blocker / "numpy").mkdir(parents=True)
    (blocker / "numpy" / "__init__.py").write_text("raise ImportError('no numpy')\n")
    _fails_fast(sshd, tiny, "numpy is not installed", remote_python=f"env PYTHONPATH={blocker} {sys.executable}")
    _fails_fast(sshd, tiny, "'/no/such/python3' not found on the board", remote_python="/no/such/python3")


def test_ssh_runs_tflite_only(sshd, tiny):
    with pytest.raises(EdgenetError, match="runs tflite models only, not onnxruntime"):
        run_benchmarks(
            [tiny / "torch" / "model.onnx"], Plan(**FAST), target=sshd.url, target_opts=opts(sshd), progress=False
        )
