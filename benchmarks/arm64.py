"""ARM, emulated: do the pretrained Lite0's fp32 and int8 TFLite models answer on aarch64 as they do on x86?

A Debian arm64 root run by qemu-user (``scripts/arm64_root.sh``: its own Python, NumPy and the aarch64
ai-edge-litert wheel) stands in for a board, reached the way ``edgenet bench --target ssh://`` reaches one: a real
sshd on 127.0.0.1 (keys made for this run) and ``--remote-python`` naming the root's launcher. The aarch64 build
runs different kernels from x86's (XNNPACK picks them from the CPU's features), so its answers are checked, not
assumed. For each emulated CPU model (``QEMU_CPU``: which features qemu reports, and so which kernels XNNPACK picks)
and precision, on the same real photos:

- top-1 agreement with x86 and the largest output difference (in quantization steps for int8; in logits for fp32);
- top-1 accuracy on both (the classes whose index is a multiple of 10 calibrate int8; ``--eval-images`` others are
  scored, as in benchmarks/imagenet_pretrained.py);
- which int8/fp32 kernel families ran: the aarch64 instructions in the code qemu translated while running one
  image (``QEMU_LOG=in_asm``: sdot = dot-product kernels, smmla = i8mm, SVE and SME encodings, smlal = plain NEON).

Timings from the emulator are recorded as **emulated** (rows, db, report) and are never set against real ones.

    sudo scripts/arm64_root.sh                       # once (5-9 minutes on 2 shared cores)
    python benchmarks/arm64.py [--eval-images 100]   # about 20 minutes, almost all of it emulated inference
    python benchmarks/arm64.py --render docs/benchmarks/arm64.json

Writes docs/benchmarks/arm64.md and arm64.json.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log
from edgenet.device_bench.bench import make_result
from edgenet.device_bench.db import ResultsDB
from edgenet.device_bench.evaldata import accuracy, build_eval_set, list_labeled_images, resolve_preprocess
from edgenet.device_bench.modelinfo import inspect_model
from edgenet.device_bench.report import render_markdown
from edgenet.device_bench.results import BenchConfig
from edgenet.device_bench.targets import TargetOptions, open_target
from imagenet_pretrained import SAMPLE, split

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EDGENET_ARM64_CACHE", "/var/cache/edgenet/arm64"))
GOAL = 0.99
# QEMU_CPU → what it stands for. qemu 7.2's "max" has every feature it emulates (SVE2, i8mm, bf16, SME);
# "sme=off" removes the one phones mostly lack.
CPUS = {
    "cortex-a72": "NEON only (Raspberry Pi 4, phones before 2019)",
    "cortex-a76": "NEON + dot-product (most phones since 2019)",
    "max,sme=off": "+ i8mm, SVE2, bf16 (Armv9 phones)",
    "max": "+ SME (qemu's every-feature CPU)",
}
# (precision, QEMU_CPU, TFLite delegate): XNNPACK on each CPU class; TFLite's builtin kernels once (delegate none:
# what runs when XNNPACK's cpuinfo cannot start, as in issue 23's first feasibility check)
CONFIGS = [
    ("fp32", "cortex-a76", "xnnpack"),
    ("fp32", "max", "xnnpack"),
    *(("int8", cpu, "xnnpack") for cpu in CPUS),
    ("int8", "cortex-a76", "none"),
]
# aarch64 encodings (mask, value) of the instruction families that tell int8 kernels apart (Arm ARM, A64)
FAMILIES = {
    "sdot/udot": [(0xBFC0F400, 0x0F80E000), (0xBFC0F400, 0x2F80E000),  # by element
                  (0xBFE0FC00, 0x0E809400), (0xBFE0FC00, 0x2E809400)],  # vector
    "smmla/ummla/usmmla": [(0xFFE0FC00, 0x4E80A400), (0xFFE0FC00, 0x6E80A400), (0xFFE0FC00, 0x4E80AC00)],
    "SVE": [(0x1E000000, 0x04000000)],  # op1 (bits 28:25) = 0010
    "SME": [(0x9E000000, 0x80000000)],  # op0 bit 31 = 1, op1 = 0000
}  # fmt: skip
NEON_MNEMONICS = ("smlal", "smlal2", "smull", "smull2", "sadalp", "fmla")


# ---------------------------------------------------------------------------------------------------- the sshd


@contextlib.contextmanager
def local_sshd(folder: Path):
    """sshd on 127.0.0.1:<free port> with its own host key and one client key (as tests/device_bench/conftest.py)."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        sys.exit("sshd not found: apt-get install openssh-server (it is started here on 127.0.0.1 only)")
    folder.mkdir(parents=True, exist_ok=True)
    for key in ("host_key", "client_key"):
        (folder / key).unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder}/host_key\nPidFile {folder}/sshd.pid\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nLogLevel ERROR\n"
    )
    proc = subprocess.Popen([sshd, "-D", "-E", str(folder / "sshd.log"), "-f", str(folder / "sshd_config")])
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            time.sleep(0.1)
        host = (folder / "host_key.pub").read_text().split()
        (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host[0]} {host[1]}\n")
        user = os.environ.get("USER") or "root"
        yield f"ssh://{user}@127.0.0.1:{port}", folder / "known_hosts", folder / "client_key"
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------------------------------------------- measuring


def run_on(target: str, opts: TargetOptions, model: Path, inputs: Path, runs: int, delegate: str) -> dict:
    """One configuration through a bench target, with every input's raw output row returned."""
    spec = BenchConfig("tflite", delegate=delegate, warmup=1, runs=runs).spec() | {"outputs": True}
    with open_target(target, opts) as tgt:
        return tgt.run(model, spec, inputs)


def compare(x86: dict, arm: dict, targets: np.ndarray, quantized: bool) -> dict:
    a, b = np.asarray(arm["outputs"], np.float64), np.asarray(x86["outputs"], np.float64)
    diff = np.abs(a - b).max()
    return {
        "photos": len(a),
        "agreement": round(float((a.argmax(1) == b.argmax(1)).mean()), 4),
        "flips": int((a.argmax(1) != b.argmax(1)).sum()),
        "max_diff": int(diff) if quantized else float(f"{diff:.3g}"),
        "max_diff_unit": "quantization steps" if quantized else "logits",
        "bit_identical": bool(diff == 0),
        "top1_x86": round(accuracy(x86["predictions"], targets)[0], 2),
        "top1_arm": round(accuracy(arm["predictions"], targets)[0], 2),
    }


def executed_families(launcher: Path, model: Path, cpu: str, delegate: str = "xnnpack") -> dict:
    """Instruction families in the aarch64 code qemu translated while loading the model and running one image.

    qemu translates a block the first time it runs, so a family present here ran; the counts are translated
    blocks, not executions. Disassembled by encoding, since qemu 7.2's disassembler predates dot-product."""
    from edgenet.device_bench import remote_runner

    from edgenet import cpu

    log_dir = Path(tempfile.mkdtemp(prefix="qemu-in-asm-", dir="/tmp"))
    runner = shutil.copy(remote_runner.__file__, log_dir / "runner.py")  # the root sees the host's /tmp only
    shutil.copy(cpu.__file__, log_dir / remote_runner.CPU_MODULE)
    spec = {"model": str(shutil.copy(model, log_dir / model.name)), "warmup": 0, "runs": 1, "delegate": delegate}
    env = os.environ | {"QEMU_CPU": cpu, "QEMU_LOG": "in_asm", "QEMU_LOG_FILENAME": f"{log_dir}/%d.log"}
    subprocess.run([str(launcher), str(runner), json.dumps(spec)], env=env, capture_output=True, check=True)
    counts: collections.Counter = collections.Counter()
    line_re = re.compile(r"0x[0-9a-f]+:\s+([0-9a-f]{8})\s+(\S+)\s*(\S*)")
    for f in log_dir.glob("*.log"):  # one per process: python, and the uname it may start
        with open(f, errors="replace") as fh:
            for line in fh:
                m = line_re.match(line)
                if not m:
                    continue
                word = int(m.group(1), 16)
                fam = next((k for k, encs in FAMILIES.items() for mask, val in encs if word & mask == val), None)
                if fam is None and m.group(2) in NEON_MNEMONICS and m.group(3).startswith("v"):
                    fam = "NEON " + m.group(2).rstrip("2")
                if fam:
                    counts[fam] += 1
    shutil.rmtree(log_dir)
    return dict(counts.most_common())


# ---------------------------------------------------------------------------------------------------- the run


def convert(cal: Path, out: Path) -> dict[str, Path]:
    files = {"fp32": out / "model_fp32.tflite", "int8": out / "model_int8.tflite"}
    if not all(p.exists() for p in files.values()):
        cmd = [sys.executable, "-m", "edgenet.cli", "convert", "--pretrained", "lite0", "--int8", "--int8-io", "uint8"]
        subprocess.run([*cmd, "--calib-data", str(cal), "--out", str(out)], check=True, cwd=ROOT)
    return files


def main_run(args) -> dict:
    launcher = args.cache / "python"
    if not (args.cache / "ready").is_file():
        sys.exit(f"no arm64 root in {args.cache}: build it first with sudo scripts/arm64_root.sh")
    cal, ev = split(args.data, args.work, 10, args.eval_images)
    files = convert(cal, args.work / "lite0")
    (args.work / "arm64.sqlite").unlink(missing_ok=True)  # this run's rows only
    db = ResultsDB(args.work / "arm64.sqlite")
    run_id = db.start_run("benchmarks/arm64.py")
    rows, kernels, x86, evalsets = [], {}, {}, {}
    with local_sshd(args.work / "sshd") as (url, known_hosts, identity):
        for precision, cpu, delegate in CONFIGS:
            model = files[precision]
            info = inspect_model(model)
            if precision not in evalsets:
                evalsets[precision] = _eval_set(info, ev, args.work / f"eval_{precision}.npy")
            inputs, targets = evalsets[precision]
            for d in ("xnnpack", delegate):  # x86's XNNPACK is every row's reference
                if (precision, d) not in x86:
                    log(f"{precision}: x86, {d}, {len(targets)} photos")
                    x86[precision, d] = run_on("local", TargetOptions(), model, inputs, args.runs, d)
                    db.add_result(run_id, _row(info, "local", x86[precision, d], targets, d))
            log(f"{precision}: arm64 emulated as {cpu}, {delegate}")
            opts = TargetOptions(known_hosts, identity, f"env QEMU_CPU={cpu} {launcher}", connect_timeout=20)
            t0 = time.perf_counter()
            arm = run_on(url, opts, model, inputs, 3, delegate)
            db.add_result(run_id, _row(info, url, arm, targets, delegate))
            row = {"precision": precision, "qemu_cpu": cpu, "delegate": delegate, "stands_for": CPUS[cpu]}
            row |= compare(x86[precision, "xnnpack"], arm, targets, precision == "int8")
            if delegate != "xnnpack":  # and against the same kernels' x86 build
                same = compare(x86[precision, delegate], arm, targets, precision == "int8")
                row["vs_x86_same_delegate"] = {k: same[k] for k in ("agreement", "flips", "max_diff")}
            row |= {"hwcaps": arm["env"].get("hwcaps"), "delegate_ran": arm["delegate_ran"]}
            row |= {"emulated_s_per_photo": round((time.perf_counter() - t0) / len(targets), 2)}
            log(f"  agreement {row['agreement']:.2%}, max diff {row['max_diff']} {row['max_diff_unit']}")
            kernels[f"{precision} {cpu} {delegate}"] = executed_families(launcher, model, cpu, delegate)
            rows.append(row)
    db.finish_run(run_id, "complete")
    report_rows = db.rows()
    db.close()
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "loadavg_end": loadavg()},
        "arm64_root": (args.cache / "ready").read_text().strip(),
        "data": {"calibration": "100 photos, class index % 10 == 0", "scored": args.eval_images},
        "goal_agreement": GOAL,
        "x86": {f"{p} {d}": _x86_summary(raw) for (p, d), raw in x86.items()},
        "rows": rows,
        "kernels": kernels,
        "report_table": render_markdown(report_rows, "benchmarks/arm64.py's results db"),
    }


def _eval_set(info, folder: Path, out: Path) -> tuple[Path, np.ndarray]:
    """The photos in the model's input type, as ``edgenet bench --eval-data`` builds them."""
    from edgenet.device_bench.backends import backend_module

    pre = resolve_preprocess(info, None, None, None)
    items = list_labeled_images(folder, info.labels, info.num_outputs)
    es = build_eval_set(items, pre, info.layout, backend_module("tflite").input_converter(info), out, progress=False)
    return es.inputs, es.targets


def _row(info, target: str, raw: dict, targets: np.ndarray, delegate: str):
    from dataclasses import replace

    cfg = BenchConfig("tflite", delegate=delegate, precision=info.precision, warmup=1, runs=len(raw["latencies_ms"]))
    top1, top5 = accuracy(raw["predictions"], targets)
    return replace(make_result(info, cfg, target, raw), top1=top1, top5=top5, top5_k=5, eval_samples=len(targets))


def _x86_summary(raw: dict) -> dict:
    lat = sorted(raw["latencies_ms"])
    env = raw["env"]
    return {"cpu": env["cpu_model"], "interpreter": raw["interpreter"] + " " + raw["backend_version"],
            "delegate_ran": raw["delegate_ran"], "p50_ms": round(lat[len(lat) // 2], 2)}  # fmt: skip


# ---------------------------------------------------------------------------------------------------- the report


def _kernel_text(fams: dict) -> str:
    return ", ".join(f"{k} ({v})" for k, v in fams.items()) or "none of these"


def render(res: dict) -> str:
    lines = [
        "# ARM (aarch64), emulated: does the pretrained Lite0 answer as on x86?",
        "",
        "Written by `benchmarks/arm64.py` from a real run: a Debian arm64 root (`scripts/arm64_root.sh`: "
        f"{res['arm64_root']}) run by qemu-user, reached through the bench ssh target (a sshd on 127.0.0.1, "
        "`--remote-python` naming the root's launcher), on the host "
        f"{res['host']['cpu']} ({res['host']['cores']} cores, load {res['host']['loadavg_end']} at the end). "
        f"Photos: ImageNet-sample, int8 calibrated on {res['data']['calibration']}; "
        f"{res['data']['scored']} other photos scored. Created {res['created'][:16]} UTC.",
        "",
        "x86 reference (every row is compared with x86's XNNPACK): "
        + "; ".join(
            f"{k} on {v['cpu']} with {v['interpreter']} (ran: {v['delegate_ran']})" for k, v in res["x86"].items()
        )
        + ".",
        "",
        *_findings(res),
        "",
        "| model | emulated CPU (`QEMU_CPU`) | stands for | TFLite kernels | photos | top-1 agreement with x86 | "
        "max difference | top-1 x86 / arm64 | HWCAPs qemu reports | instruction families that ran (translated "
        "blocks) | emulated s/photo |",
        "|---|---|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in res["rows"]:
        ok = "" if r["agreement"] >= res["goal_agreement"] else " **✗**"
        unit = "steps" if r["max_diff_unit"].startswith("quant") else "logits"
        diff = f"{r['max_diff']} {unit}" + (" (bit-identical)" if r["bit_identical"] else "")
        same = r.get("vs_x86_same_delegate")
        agree = f"{r['agreement']:.0%} ({r['flips']} differ){ok}"
        if same:
            agree += f"; {same['agreement']:.0%} with x86's builtin kernels"
            diff += f"; {same['max_diff']} {unit} vs x86 builtin"
        fams = res["kernels"][f"{r['precision']} {r['qemu_cpu']} {r['delegate']}"]
        kind = "XNNPACK" if r["delegate"] == "xnnpack" else "builtin (delegate none)"
        lines.append(
            f"| Lite0 {r['precision']} | `{r['qemu_cpu']}` | {r['stands_for']} | {kind} (ran: {r['delegate_ran']}) | "
            f"{r['photos']} | {agree} | {diff} | {r['top1_x86']:.1f} / {r['top1_arm']:.1f} % | "
            f"{' '.join(r['hwcaps'] or [])} | {_kernel_text(fams)} | {r['emulated_s_per_photo']} |"
        )
    lines += [
        "",
        EXPLAIN.strip().replace("\n", " "),
        "",
        "**Timings here are emulated**: qemu translating aarch64 code on the x86 host. They say nothing about any "
        "ARM CPU and are not comparable with real measurements; bench marks such rows `emulated` (its table's note "
        "column, the db's `emulated` column, the report's machine name and note), and `edgenet fit` refuses them.",
        "",
        "## The bench rows as `edgenet report` shows them",
        "",
        res["report_table"].split("\n", 2)[2].strip(),
        "",
        "## Using the stand-in",
        "",
        USAGE.strip(),
        "",
    ]
    return "\n".join(lines)


def _findings(res: dict) -> list[str]:
    """The verdict per row group, from the numbers (so a rerun that changes them changes the words)."""
    rows = res["rows"]
    good = [r for r in rows if r["agreement"] >= res["goal_agreement"]]
    bad = [r for r in rows if r["agreement"] < res["goal_agreement"]]
    xnn_int8 = [r for r in good if r["precision"] == "int8" and r["delegate"] == "xnnpack"]
    same = [f"`{r['qemu_cpu']}`" for r in xnn_int8 if r["bit_identical"]]
    out = [
        f"**{len(good)} of {len(rows)} emulated configurations give x86's top-1 on at least "
        f"{res['goal_agreement']:.0%} of the photos**"
        + (": " + ", ".join(f"{r['precision']} on `{r['qemu_cpu']}`/{r['delegate']}" for r in good) if good else "")
        + "."
    ]
    if same:
        out.append(f"XNNPACK's int8 output is bit-identical to x86's on {', '.join(same)}.")
    no_sme = next((r for r in good if r["qemu_cpu"] == "max,sme=off" and r["precision"] == "int8"), None)
    for r in bad:
        if r["delegate"] != "xnnpack" and r.get("vs_x86_same_delegate"):
            same_k = r["vs_x86_same_delegate"]
            out.append(
                f"**Below the goal: TFLite's builtin int8 kernels** (delegate none, what runs when XNNPACK cannot "
                f"start) on `{r['qemu_cpu']}`: {r['agreement']:.0%} top-1 agreement with x86's XNNPACK ({r['flips']} "
                f"photo(s), up to {r['max_diff']} steps) and {same_k['agreement']:.0%} with x86's own builtin kernels "
                f"({same_k['flips']} photo(s), up to {same_k['max_diff']} steps): those kernels' int8 results differ "
                "between the two architectures" + (", XNNPACK's do not." if same else ".")
            )
            continue
        out.append(
            f"**Wrong: {r['precision']} on `{r['qemu_cpu']}` ({r['delegate']})**: {r['agreement']:.0%} top-1 "
            f"agreement, top-1 {r['top1_arm']:.1f} % against x86's {r['top1_x86']:.1f} %."
        )
        if r["qemu_cpu"] == "max" and r["precision"] == "int8" and no_sme:
            out.append(
                "The same CPU without SME (`max,sme=off`: SVE2 and i8mm still on) is right, so the fault is in the "
                "SME path: XNNPACK's SME int8 kernels (KleidiAI) or qemu 7.2's SME emulation (new in qemu 7.1); "
                "without SME hardware here this cannot be split further. Phones with SME are few (Armv9.2+ cores "
                "from 2025); the launcher therefore defaults to `cortex-a76`, and a result from `max` is no "
                "evidence against a model."
            )
    return [" ".join(out)]


EXPLAIN = """
Instruction families: those in the aarch64 code qemu translated while loading the model and running one image under
that CPU (`QEMU_LOG=in_asm`, decoded by encoding, since qemu 7.2's disassembler predates dot-product):
`sdot/udot` are dot-product kernels, `smmla` i8mm ones, SVE and SME encodings the SVE and SME (KleidiAI) kernels,
`NEON smlal/smull/sadalp` plain-NEON int8 kernels (XNNPACK's depthwise convolutions use them on every CPU) and
`NEON fmla` fp32 ones. XNNPACK reads the CPU's features (the HWCAPs above: the auxiliary vector qemu builds, which
the runner records with every result) through cpuinfo. The root's launcher gives cpuinfo the two files it needs
from /sys (`devices/system/cpu/possible`, `present`): without them cpuinfo fails and TFLite silently runs its
builtin kernels instead of XNNPACK (issue 23's first feasibility check ran that way, and saw int8 outputs up to 7
steps from x86's: the builtin row above is that case), and with the host's whole /sys qemu 7.2 crashes.
"""


USAGE = """
```bash
sudo scripts/arm64_root.sh          # once: Debian bookworm arm64 + python3 + ai-edge-litert in /var/cache/edgenet/arm64
# any sshd on 127.0.0.1 that lets you in with a key will do; the launcher enters the arm64 root for python
edgenet bench model_int8.tflite --target ssh://$USER@127.0.0.1 \\
    --remote-python "env QEMU_CPU=cortex-a76 /var/cache/edgenet/arm64/python" --eval-data data/val --db results.sqlite
```

The launcher runs the root's python under qemu in a private mount namespace (it sees the host's /tmp, where bench
copies the runner and the model; nothing stays mounted); it works for root and, through a user namespace, for
other users. `QEMU_CPU` picks the emulated CPU and so XNNPACK's kernels. The launcher's default is `cortex-a76`
(dot-product, the commonest phone class), not qemu's own default `max`, whose SME path gives wrong int8 answers under
qemu 7.2 (table above). The slow test `tests/device_bench/test_arm64.py` runs a tiny model through it and skips,
naming the script, where the root has not been built; `make arm64-check` builds the root and requires the test. CI
does not build it: 4 min 57 s and about 9 min in two builds on 2 shared cores, on top of CI's ~12 minutes, would
leave its 20-minute budget no margin or break it.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SAMPLE, help="ImageNet-1k image folder (1,000 WordNet-ID folders)")
    p.add_argument("--eval-images", type=int, default=100, help="scored photos (classes not used to calibrate)")
    p.add_argument("--runs", type=int, default=20, help="timed invokes on x86")
    p.add_argument("--cache", type=Path, default=CACHE, help="what scripts/arm64_root.sh built")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "arm64")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    p.add_argument("--render", type=Path, help="only rewrite the markdown beside this JSON")
    args = p.parse_args()
    if args.render:
        res = json.loads(args.render.read_text())
    else:
        res = main_run(args)
        _write(args.out / "arm64.json", json.dumps(res, indent=1) + "\n")
    _write(args.out / "arm64.md", render(res))
    log(f"wrote {args.out / 'arm64.md'}")


def _write(path: Path, text: str) -> None:
    """Atomic: a reader never sees half a file, and an interrupted run keeps the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    main()
