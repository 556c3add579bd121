"""The real-client tier: does MediaPipe's ImageClassifier answer like ``edgenet eval --model-file`` on real photos?

Converts the pretrained Lite0 with uint8 I/O — raw-pixel input (the default for uint8) and, for contrast, the
normalized form — bundles the int8 and fp32 models (``edgenet bundle``: metadata inside), then classifies every
photo twice: edgenet's way (:func:`edgenet.artifacts.scoring.load_artifact`, the loader of ``eval --model-file``
and ``predict``: the report.json beside the model gives resize, crop and input convention) and MediaPipe's way
(``scripts/mediapipe_classify.py`` in a venv with ``mediapipe==0.10.21``, reading only the bundle's metadata).

Both get the same 8-bit RGB crop: each photo is resized and center-cropped by edgenet's preprocessing and saved
as a lossless PNG of the model's input size, which MediaPipe then takes as it is (its own resize would stretch the
whole frame, an app's choice, not a property of the model). What differs is only how each client turns pixels
into the input tensor — the point of the check. The raw-input bundles must agree on >= 98 % of the photos
(``--min-agreement``), or the script exits 1.

    python scripts/mediapipe_check.py --client-python build/venv-mediapipe/bin/python [--data DIR] [--limit N]

Writes docs/benchmarks/mediapipe.json and mediapipe.md (``--out``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"
CLIENT = Path(__file__).with_name("mediapipe_classify.py")
GATED = ("raw",)  # the input forms that must agree; "normalized" is shown for contrast


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def list_photos(data: Path, limit: int | None) -> list[Path]:
    from edgenet.imagefiles import list_image_files

    files = list_image_files(data).files
    if not files:
        sys.exit(f"{data}: no images; pass --data with a folder of photos")
    return files[:limit] if limit else files


def build_bundles(name: str, kind: str, work: Path, calib: Path, calib_samples: int) -> dict[str, Path]:
    """``edgenet convert --int8 --int8-io uint8 --input KIND`` then ``edgenet bundle`` of the int8 and fp32 models;
    report.json is copied beside each bundled model so ``eval --model-file`` reads it as it reads convert's."""
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.loading import load_model
    from edgenet.workflows.bundle import bundle

    out = work / f"{name}-{kind}"
    log(f"convert {name} --int8 --int8-io uint8 --input {kind}")
    opts = ConvertOptions(
        out=out, int8=True, int8_io="uint8", input=kind, calib_data=calib, calib_samples=calib_samples
    )
    convert(load_model(name, pretrained=True), opts)
    bundles = {}
    for art in ("int8", "fp32"):
        dest = out / f"bundle-{art}"
        bundle(out / f"model_{art}.tflite", dest)
        shutil.copy(out / "report.json", dest / "report.json")
        bundles[f"{art} {kind}"] = dest / f"model_{art}.tflite"
    return bundles


def crops(photos: list[Path], model: Path, dest: Path) -> dict[str, Path]:
    """Each photo resized and center-cropped by the model's own preprocessing, as a PNG named after its index."""
    from edgenet.artifacts.scoring import artifact_preprocess

    pre, _ = artifact_preprocess(model)
    dest.mkdir(parents=True, exist_ok=True)
    names = {}
    for i, f in enumerate(photos):
        png = dest / f"{i:05d}.png"
        pre.crop(pre.load_rgb(f)).save(png)
        names[png.name] = f
    return names


def edgenet_top1(model: Path, pngs: dict[str, Path]) -> dict[str, list]:
    """Top-1 index and score of every original photo as ``edgenet eval --model-file`` computes them: the same
    loader and preprocessing (from report.json) — whose crop is, byte for byte, the PNG MediaPipe is given."""
    from edgenet.artifacts.scoring import load_artifact

    runner, pre, _ = load_artifact(model, threads=2)
    out = {}
    for name, photo in pngs.items():
        logits = runner(pre(photo)[None])[0]
        out[name] = [int(np.argmax(logits)), float(np.max(logits))]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--client-python", required=True, type=Path, help="python of the venv with mediapipe==0.10.21")
    p.add_argument(
        "--data", type=Path, help="folder of photos [default: ../shared imagenet-sample, else --test-photos]"
    )
    p.add_argument("--test-photos", action="store_true", help="the tests' 24 images made from 3 real photos (CI)")
    p.add_argument("--limit", type=int, help="check only the first N photos")
    p.add_argument("--model", default="lite0")
    p.add_argument("--calib-samples", type=int, default=100)
    p.add_argument("--min-agreement", type=float, default=0.98)
    p.add_argument("--forms", default="raw,normalized", help="input forms to convert (only raw is gated; CI: raw)")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "mediapipe-check")
    p.add_argument("--out", type=Path, help="write mediapipe.json/.md here (e.g. docs/benchmarks)")
    args = p.parse_args()
    data = args.data or (SAMPLE if SAMPLE.is_dir() and not args.test_photos else None)
    if not args.client_python.exists():
        sys.exit(f"--client-python {args.client_python}: not found; run scripts/mediapipe_check.sh, which builds it")
    t0 = time.perf_counter()
    shutil.rmtree(args.work, ignore_errors=True)
    if data is None:  # a clean clone (CI): tests/photos.py's crops and flips of the three real photos it ships
        sys.path.insert(0, str(ROOT / "tests"))
        from photos import photo_folder

        data = photo_folder(args.work / "test-photos")
    photos = list_photos(data, args.limit)
    bundles = {}
    for kind in args.forms.split(","):
        bundles |= build_bundles(args.model, kind, args.work, data, min(args.calib_samples, len(photos)))
    crop_dir = args.work / "crops"
    pngs = crops(photos, bundles["int8 raw"], crop_dir)
    log(f"MediaPipe on {len(pngs)} photos × {len(bundles)} bundles ({args.client_python})")
    proc = subprocess.run(
        [str(args.client_python), str(CLIENT), str(crop_dir), *map(str, bundles.values())],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"{CLIENT.name} failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    client = json.loads(proc.stdout.strip().splitlines()[-1])
    rows, failed = [], []
    for key, model in bundles.items():
        log(f"edgenet eval --model-file path on {key}")
        ours = edgenet_top1(model, pngs)
        theirs = client["models"][str(model)]
        row = {"bundle": key, "file": str(model.relative_to(args.work)), "images": len(pngs), "gated": False}
        row["gated"] = key.split()[1] in GATED
        if not theirs["ok"]:
            row |= {"mediapipe": "refused", "error": theirs["error"], "agreement": None}
        else:
            same = [theirs["top1"][n][0] == ours[n][0] for n in pngs]
            row |= {"mediapipe": "ran", "error": None, "agreement": float(np.mean(same)), "differ": same.count(False)}
        if row["gated"] and (row["agreement"] is None or row["agreement"] < args.min_agreement):
            failed.append(key)
        rows.append(row)
    result = {
        "command": " ".join(["scripts/mediapipe_check.sh", *sys.argv[1:]]).replace(
            f"--client-python {args.client_python} ", ""
        ),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mediapipe": client["mediapipe"],
        "model": args.model,
        "data": str(data),
        "images": len(pngs),
        "min_agreement": args.min_agreement,
        "rows": rows,
        "passed": not failed,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    md = render(result)
    print(md)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mediapipe.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "mediapipe.md").write_text(md)
    if failed:
        print(f"FAILED: {', '.join(failed)} below {args.min_agreement:.0%} agreement with edgenet", file=sys.stderr)
        return 1
    return 0


def render(r: dict) -> str:
    lines = [
        f"# MediaPipe {r['mediapipe']} ImageClassifier vs `edgenet eval --model-file` ({r['model']}, uint8 I/O)",
        "",
        f"`{r['command']}` — {r['date']}; {r['images']} photos from `{Path(r['data']).name}`, each center-cropped "
        "by edgenet's preprocessing and given to both clients as the same 8-bit RGB image.",
        "",
        "| bundle | MediaPipe | same top-1 as edgenet | must agree |",
        "|---|---|---:|---|",
    ]
    for row in r["rows"]:
        agree = (
            f"{100 * row['agreement']:.1f} % ({row['images'] - row['differ']}/{row['images']})"
            if row["agreement"] is not None
            else f"— ({row['error']})"
        )
        gate = f">= {100 * r['min_agreement']:.0f} %" if row["gated"] else "no (contrast)"
        lines.append(f"| {row['bundle']} | {row['mediapipe']} | {agree} | {gate} |")
    lines += ["", f"Result: {'PASS' if r['passed'] else 'FAIL'} ({r['seconds']:.0f} s)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
