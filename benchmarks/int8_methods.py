"""int8 methods benchmark: every quantizer × calibration method on the same images, on both axes.

For each model, one float graph and one calibration (exactly what ``edgenet convert --int8`` builds), then every
``--quantizer`` × ``--calibration`` method (plus 16×8 for reference) and the TFLite quantizer on weights rounded
before export (``--bias-correction``, ``--weight-rounding adaround``: a float graph of their own), each scored on
the same images against PyTorch fp32 — top-1, drop in points with the 95 % interval of the paired difference, and
what is paired and tighter: top-1 agreement, the mean KL divergence of the softmax outputs and the exact McNemar
p-value against the tflite/minmax row — with its full-integer check, its build seconds beyond the shared
calibration, and 1-thread XNNPACK latency (rounds of 10 invokes interleaved across the model's artefacts).

Suites:

- ``imagenet``: pretrained Lite0, Lite1, Lite2 at their native resolution on ``imagenet-sample``; the classes whose
  index is a multiple of 10 calibrate (100 photos), the other 900 are scored (the ImageNet benchmark's split).
- ``cifar``: CIFAR-10 checkpoints (``--checkpoints``), calibrated on 200 training images, scored on the test split;
  by default the trained SiLU B0 and ReLU6 Lite0 that ``benchmarks/cifar_checkpoints.py`` fine-tunes from ImageNet
  weights (``runs/cifar-int8/{b0,lite0}/last.pt``).

    python benchmarks/int8_methods.py --suite imagenet [--models lite0,lite1,lite2]
    python benchmarks/int8_methods.py --suite cifar [--checkpoints A.pt,B.pt] [--eval-images 500]

Writes docs/benchmarks/int8-methods.json (one entry per suite, kept across runs) and int8-methods.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import cpu_model, loadavg, log, mcnemar, mean_kl, paired_drop, subset
from edgenet.device_bench.latency import tflite_latency
from imagenet_pretrained import split

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "benchmarks" / "int8-methods.md"


def variants() -> list[tuple[str, str, str]]:
    """(label, quantizer, method) for every registered quantizer (installed) × method; tflite/minmax first."""
    from edgenet.quantization.calibration_methods import METHODS
    from edgenet.quantization.quantizers import QUANTIZERS

    return [
        (f"{q.name} {m}", q.name, m) for q in QUANTIZERS.values() if q.available() for m in METHODS
    ]  # fmt: skip


def bench_model(
    loaded, cal_dir: Path, ev_dir: Path, calib_samples: int, runs: int, work: Path, roundings: bool = True
) -> dict:
    from edgenet.converters.graph import export_float
    from edgenet.converters.kinds import BuildContext, full_integer
    from edgenet.converters.pipeline import build_artifact
    from edgenet.converters.rounded import rounded_int8
    from edgenet.quantization.calibration import Calibration, from_folder
    from edgenet.quantization.quantizers import get_quantizer
    from edgenet.quantization.recipe import ROUNDING_FIXES, Int8Recipe, rounding_name
    from weight_rounding import logits_of

    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import load_eval_set
    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.evaluate import torch_predict

    t_model = time.perf_counter()
    pre = loaded.preprocess
    cal = from_folder(cal_dir, pre, calib_samples)
    work.mkdir(parents=True, exist_ok=True)
    log(f"{loaded.name}: float graph")
    graph = export_float(loaded.model, loaded.name, pre.resolution, work, cal.samples[:8])
    t0 = time.perf_counter()
    shared = Calibration(graph.fp32, cal.samples)
    shared.model(get_quantizer("tflite"))  # the one min/max calibration every row shares
    calib_s = time.perf_counter() - t0

    files = {"tflite fp32": graph.fp32_path}
    meta = {"tflite fp32": {"quantizer": "-", "method": "-", "full_integer": False, "build_s": None}}
    for label, qname, method in [*variants(), ("tflite 16×8", "tflite", "minmax")]:
        log(f"{loaded.name}: {label}")
        kind = "int16" if "16×8" in label else "int8"
        ctx = BuildContext(graph, cal.samples, Int8Recipe(qname, method), calibration=shared)
        data, seconds = build_artifact(kind, ctx)
        path = work / f"{label.replace(' ', '_').replace('×', 'x')}.tflite"
        path.write_bytes(data)
        files[label] = path
        meta[label] = {
            "quantizer": qname,
            "method": method,
            "full_integer": kind == "int8" and full_integer(read_tflite(path)),  # full-int8: what the Edge TPU runs
            "build_s": round(seconds, 2),
        }

    for rounding, bc in ROUNDING_FIXES if roundings else ():
        label = f"tflite minmax {rounding_name(rounding, bc)}"
        log(f"{loaded.name}: {label}")
        t0 = time.perf_counter()
        r = rounded_int8(
            loaded.model, loaded.name, pre.resolution, cal.samples, cal.samples[:8], get_quantizer("tflite"),
            "minmax", "int8", rounding, bc,
        )  # fmt: skip
        files[label] = work / f"{label.replace(' ', '_')}.tflite"
        files[label].write_bytes(r.data)
        meta[label] = {
            "quantizer": "tflite",
            "method": "minmax",
            "full_integer": full_integer(read_tflite(files[label])),
        }
        meta[label]["build_s"] = round(time.perf_counter() - t0, 2)  # the rounding, a float graph, calibration

    log(f"{loaded.name}: scoring on {ev_dir}")
    es = load_eval_set(ev_dir, pre, loaded.classes, loaded.num_classes)
    ref_logits, labels = logits_of(torch_predict(loaded.model), es)
    ref = ref_logits.argmax(1) == labels
    rows = [{"artefact": "torch fp32", "top1": float(ref.mean()), "drop": 0.0, "drop_ci95": 0.0, "agreement": 1.0}]
    base = None
    for label, path in files.items():
        logits, _ = logits_of(runner_for(path), es)
        pred = logits.argmax(1)
        drop, ci = paired_drop(ref, pred == labels)
        base = pred == labels if label == "tflite minmax" else base
        rows.append(
            {
                "artefact": label,
                **meta[label],
                "top1": float((pred == labels).mean()),
                "drop": drop,
                "drop_ci95": ci,
                "agreement": float((pred == ref_logits.argmax(1)).mean()),
                "kl": mean_kl(ref_logits, logits),
                "mcnemar_p": None if base is None else mcnemar(base, pred == labels),
                "bytes": path.stat().st_size,
            }
        )
    log(f"{loaded.name}: latency at 1 thread")
    with open("/tmp/edgenet-latency.lock", "w") as lock:  # agents sharing this machine never time at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        lat = tflite_latency(files, runs)
    for r in rows:
        r.update(lat.get(r["artefact"], {}))
    return {
        "model": loaded.name,
        "weights": loaded.weights,
        "act": loaded.model.config.act,
        "resolution": pre.resolution,
        "calib_samples": len(cal.samples),
        "calibration_s": round(calib_s, 2),
        "eval_images": es.n,
        "rows": rows,
        "seconds": round(time.perf_counter() - t_model, 1),
    }


def run_suite(args) -> list[dict]:
    from edgenet.loading import load_model

    work = args.work / args.suite
    if args.suite == "imagenet":
        cal, ev = split(args.data or SHARED / "imagenet-sample", work / "split", 10, args.eval_images)
        return [
            bench_model(load_model(m, pretrained=True), cal, ev, 100, args.runs, work / m, args.roundings)
            for m in args.models
        ]  # fmt: skip
    data = args.data or SHARED / "cifar10"
    ev = data / "test" if args.eval_images is None else subset(data / "test", work / "test", args.eval_images // 10)
    out = []
    for ckpt in args.checkpoints:
        loaded = load_model(checkpoint=Path(ckpt))
        entry = bench_model(loaded, data / "train", ev, 200, args.runs, work / Path(ckpt).parent.name, args.roundings)
        entry["checkpoint"] = str(ckpt)
        out.append(entry)
    return out


def model_dir(entry: dict, args) -> Path:
    """Where a suite run kept a model's artefacts."""
    if "checkpoint" in entry:
        return args.work / "cifar" / Path(entry["checkpoint"]).parent.name
    return args.work / "imagenet" / entry["model"].removeprefix("efficientnet_")


def retime(suite: dict, args) -> None:
    """Latency again for every kept artefact of every model (interleaved as before), with the load it ran at."""
    for m in suite["models"]:
        work = model_dir(m, args)
        files = {
            r["artefact"]: work / ("model_fp32.tflite" if r["artefact"] == "tflite fp32" else
                                   f"{r['artefact'].replace(' ', '_').replace('×', 'x')}.tflite")
            for r in m["rows"] if r["artefact"] != "torch fp32"
        }  # fmt: skip
        log(f"{m['model']}: latency again at 1 thread ({work})")
        load = loadavg()
        lat = tflite_latency(files, args.runs)
        for r in m["rows"]:
            r.update(lat.get(r["artefact"], {}))
        m["retimed"] = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python benchmarks/int8_methods.py " + " ".join(sys.argv[1:]),
            "load": [load, loadavg()],
        }


def _f(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def render(doc: dict) -> str:
    lines = [
        "# int8 methods: quantizers × calibration methods",
        "",
        "Produced by `benchmarks/int8_methods.py` (commands per suite below); every number is from that run.",
        "Drop: PyTorch fp32 top-1 minus the artefact's, in points, ± the 95 % interval of the paired difference on",
        "the same images. Agreement: same top-1 as PyTorch fp32. KL: mean KL(fp32 ‖ int8) of the softmax, nats.",
        "McNemar p: exact paired test of top-1 correctness against the tflite minmax row. Build s: seconds beyond",
        "the float graph and the one min/max calibration every row shares (a method adds its histogram pass, once",
        "per model; a rounding row is its rounding, its own float graph and calibration). Latency: 1 thread,",
        "ai-edge-litert XNNPACK, rounds of 10 invokes interleaved across the rows of a model. Runs before the KL",
        "and McNemar columns existed show '-' there.",
        "",
    ]
    for suite, r in doc.items():
        env = r["env"]
        lines += [
            f"## {suite}",
            "",
            f"{env['cpu']}, {env['cpus']} cores, shared with other jobs during these runs (load averages below): "
            "latencies are comparable within a model's table, not across runs.",
            "",
        ]
        for m in r["models"]:
            src = m.get("checkpoint", m["weights"])
            run = m.get("run", r)  # runs before per-model entries kept the command at the suite level
            lines += [
                f"### {m['model']} ({m['act']}, {m['resolution']} px) — {src}",
                "",
                f"`{run['command']}` — {run['date']}, load {run['env']['load_start']} → {run['env']['load_end']}.",
                "",
                *(
                    [
                        f"Latency re-measured by `{m['retimed']['command']}` — {m['retimed']['date']}, load "
                        f"{m['retimed']['load'][0]} → {m['retimed']['load'][1]} (the first run's timings overlapped "
                        "other jobs).",
                        "",
                    ]
                    if "retimed" in m
                    else []
                ),
                f"{m['calib_samples']} calibration images (shared min/max calibration {m['calibration_s']} s), "
                f"{m['eval_images']} scored.",
                "",
                "| artefact | full-int8 | top-1 % | drop | agreement % | KL | McNemar p | build s | p50 ms | p90 ms |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for row in m["rows"]:
                fi = row.get("full_integer") and "16×8" not in row["artefact"]  # 16×8 is integer but not int8
                lines.append(
                    f"| {row['artefact']} | {'-' if row.get('full_integer') is None else ('yes' if fi else 'no')} | "
                    f"{100 * row['top1']:.2f} | {row['drop']:+.2f} ± {row['drop_ci95']:.2f} | "
                    f"{100 * row['agreement']:.2f} | {_f(row.get('kl'), '.4f')} | {_f(row.get('mcnemar_p'), '.2f')} | "
                    f"{_f(row.get('build_s'), '.2f')} | "
                    f"{_f(row.get('p50_ms'), '.2f')} | {_f(row.get('p90_ms'), '.2f')} |"
                )
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=["imagenet", "cifar"], required=True)
    ap.add_argument("--models", default="lite0,lite1,lite2", type=lambda s: s.split(","))
    ap.add_argument(
        "--checkpoints",
        default=",".join(str(ROOT / "runs" / "cifar-int8" / m / "last.pt") for m in ("b0", "lite0")),
        type=lambda s: s.split(","),
    )
    ap.add_argument("--data", type=Path, help="[../shared/data/imagenet-sample or ../shared/data/cifar10]")
    ap.add_argument("--eval-images", type=int, help="scored images [all]")
    ap.add_argument("--runs", type=int, default=50, help="latency runs per artefact")
    ap.add_argument(
        "--no-roundings",
        dest="roundings",
        action="store_false",
        help="skip the weight-rounding rows (benchmarks/weight_rounding.py measures them with more variants)",
    )
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "int8-methods")
    ap.add_argument("--doc", type=Path, default=DOC, help="the markdown to write (its .json beside it)")
    ap.add_argument("--render", action="store_true", help="rewrite the .md from the .json only")
    ap.add_argument(
        "--retime", action="store_true", help="re-measure the latency of --suite's kept artefacts (a quiet machine)"
    )
    args = ap.parse_args()
    path = args.doc.with_suffix(".json")
    doc = json.loads(path.read_text()) if path.exists() else {}
    if args.retime:
        retime(doc[args.suite], args)
        path.write_text(json.dumps(doc, indent=2) + "\n")
    elif not args.render:
        from edgenet.quiet import quiet_tensorflow

        quiet_tensorflow()  # before TensorFlow: triton loaded after it segfaults
        import ai_edge_litert
        import tensorflow as tf
        import torch

        env = {"cpu": cpu_model(), "cpus": __import__("os").cpu_count(), "load_start": loadavg()}
        env.update(tf=tf.__version__, torch=torch.__version__, python=platform.python_version())
        env["ai_edge_litert"] = getattr(ai_edge_litert, "__version__", "?")
        models = run_suite(args)
        env["load_end"] = loadavg()
        run = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python benchmarks/int8_methods.py " + " ".join(sys.argv[1:]),
            "env": env,
        }
        for m in models:
            m["run"] = run
        kept = [m for m in doc.get(args.suite, {}).get("models", []) if m["model"] not in {x["model"] for x in models}]
        doc[args.suite] = {**run, "models": kept + models}  # a run of some models keeps the others' rows
        path.write_text(json.dumps(doc, indent=2) + "\n")
    args.doc.write_text(render(doc) + "\n")
    print(render({args.suite: doc[args.suite]}))


if __name__ == "__main__":
    main()
