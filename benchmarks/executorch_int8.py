"""ExecuTorch int8 against TFLite int8 on the same model, calibration images and photos.

The pretrained Lite0 on ``imagenet-sample`` (100 photos of the classes whose index is a multiple of 10 calibrate,
the other 900 are scored). Rows:

- ``tflite int8``: ``edgenet convert --int8`` (the reference);
- ``executorch int8 (stock)``: PT2E with ExecuTorch's XNNPACK quantizer as shipped (histogram ranges; a ReLU6
  shares its conv's observer), what edgenet built before;
- ``executorch int8``: the quantizer set up as TFLite quantizes (``converters/executorch.py``,
  ``tflite_like_quantizer``: the clamp quantized after itself and fused, min/max ranges);
- with ``--adaround``: both int8 models again from the AdaRound-rounded weights (``--weight-rounding adaround``),
  which ExecuTorch's per-channel observer puts on the same grid.

Each is scored against PyTorch fp32 (top-1, drop ± the 95 % interval of the paired difference, agreement, mean KL
of the softmax) and timed at 1 thread (``edgenet bench``'s runner: 10 warm-up runs, then ``--runs``, median).

    python benchmarks/executorch_int8.py [--adaround] [--runs 50]

Writes docs/benchmarks/executorch-int8.md and executorch-int8.json.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import cpu_model, loadavg, log, mean_kl, paired_drop, write_results
from imagenet_pretrained import SAMPLE, split
from weight_rounding import logits_of

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adaround", action="store_true", help="add the rows of AdaRound-rounded weights")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--data", type=Path, default=SAMPLE)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "executorch-int8")
    args = ap.parse_args()

    from edgenet.quiet import quiet_tensorflow

    quiet_tensorflow()
    from edgenet.converters.executorch import export_pte
    from edgenet.device_bench.bench import Plan, run_benchmarks
    from edgenet.device_bench.modelinfo import sha256_file
    from edgenet.quantization.calibration import from_folder

    from edgenet.api import convert
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import load_eval_set
    from edgenet.evaluate import torch_predict
    from edgenet.loading import load_model

    load_start = loadavg()
    cal, ev = split(args.data, args.work / "split", 10, None)
    loaded = load_model("lite0", pretrained=True)
    es = load_eval_set(ev, loaded.preprocess, loaded.classes, loaded.num_classes)
    ref, labels = logits_of(torch_predict(loaded.model), es)
    files, build_s = {}, {}
    for label, options in [("", {})] + ([(" adaround", {"weight_rounding": "adaround"})] if args.adaround else []):
        log(f"convert --int8 --executorch{label}")
        out = args.work / ("base" if not label else label.strip())
        t0 = time.perf_counter()
        report = convert(loaded, out, int8=True, executorch=True, calib_data=cal, **options)
        stages = {s.stage: s.seconds for s in report.stages}
        files[f"tflite int8{label}"] = out / "model_int8.tflite"
        files[f"executorch int8{label}"] = out / "model_int8.pte"
        build_s[f"tflite int8{label}"] = stages.get("int8")
        build_s[f"executorch int8{label}"] = stages.get("executorch_int8")
        log(f"  {time.perf_counter() - t0:.0f} s")
    log("executorch int8 (stock quantizer)")
    samples = from_folder(cal, loaded.preprocess, 100).samples
    t0 = time.perf_counter()
    data, _ = export_pte(loaded.model, loaded.preprocess.resolution, samples, stock=True)
    build_s["executorch int8 (stock)"] = round(time.perf_counter() - t0, 2)
    files["executorch int8 (stock)"] = args.work / "stock.pte"
    files["executorch int8 (stock)"].write_bytes(data)

    log(f"latency at 1 thread, {args.runs} runs")
    timed = run_benchmarks(list(files.values()), Plan(threads=(1,), runs=args.runs), progress=False)
    p50 = {r.model_sha256: round(r.latency_ms.p50, 3) for r in timed}  # by content: base/ and adaround/ share names
    rows = []
    ref_correct = ref.argmax(1) == labels
    for name, path in files.items():
        log(f"scoring {name}")
        logits, _ = logits_of(runner_for(path), es)
        correct = logits.argmax(1) == labels
        drop, ci = paired_drop(ref_correct, correct)
        rows.append(
            {
                "artefact": name,
                "file": str(path.relative_to(args.work)),
                "top1": float(correct.mean()),
                "drop": drop,
                "drop_ci95": ci,
                "agreement": float((logits.argmax(1) == ref.argmax(1)).mean()),
                "kl": mean_kl(ref, logits),
                "p50_ms": p50[sha256_file(path)],
                "build_s": build_s.get(name),
            }
        )
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/executorch_int8.py " + " ".join(__import__("sys").argv[1:]),
        "env": {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_start": load_start, "load_end": loadavg()},
        "torch_top1": float(ref_correct.mean()),
        "eval_images": es.n,
        "rows": rows,
    }
    write_results(ROOT / "docs" / "benchmarks", "executorch-int8", result, render)


def render(r: dict) -> str:
    tfl = next(x for x in r["rows"] if x["artefact"] == "tflite int8")
    lines = [
        "# ExecuTorch int8 against TFLite int8 (pretrained Lite0, 224 px)",
        "",
        "Produced by `benchmarks/executorch_int8.py`; every number is from that run. 100 photos calibrate,",
        f"the other {r['eval_images']} are scored against PyTorch fp32 ({100 * r['torch_top1']:.2f} %). Drop:",
        "points below fp32 ± the 95 % interval of the paired difference; agreement: same top-1 as fp32; KL: mean",
        "KL(fp32 ‖ int8) of the softmax, nats; p50: median latency at 1 thread (XNNPACK in both runtimes);",
        "× TFLite: that latency over TFLite int8's.",
        "",
        f"`{r['command']}` — {r['date']}; {r['env']['cpu']}, {r['env']['cpus']} cores, load "
        f"{r['env']['load_start']} → {r['env']['load_end']}.",
        "",
        "| artefact | top-1 % | drop | agreement % | KL | p50 ms | × TFLite | build s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in r["rows"]:
        lines.append(
            f"| {x['artefact']} | {100 * x['top1']:.2f} | {x['drop']:+.2f} ± {x['drop_ci95']:.2f} | "
            f"{100 * x['agreement']:.2f} | {x['kl']:.4f} | {x['p50_ms']:.2f} | {x['p50_ms'] / tfl['p50_ms']:.2f} | "
            f"{x['build_s'] if x['build_s'] is not None else '-'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
