"""MediaPipe's ImageClassifier on every image of a folder: the client side of scripts/mediapipe_check.sh.

Runs in its own venv (``numpy<2``, ``mediapipe==0.10.21``), so it imports nothing from edgenet. MediaPipe reads the
bundle's TFLite Metadata itself — NormalizationOptions for float inputs, the raw pixels for integer ones — which is
exactly what is under test. Prints one JSON object: {"mediapipe": version, "models": {bundle: {"ok": bool,
"error": str | None, "top1": {image name: [index, score]}}}}.

    python mediapipe_classify.py IMAGES_DIR BUNDLE.tflite [BUNDLE.tflite ...] > out.json
"""

import json
import sys
from pathlib import Path


def classify(model, images):
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    options = vision.ImageClassifierOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=str(model)), max_results=1
    )
    try:
        classifier = vision.ImageClassifier.create_from_options(options)
    except Exception as e:  # MediaPipe refusing the model is a result, not a crash of this script
        return {"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}", "top1": {}}
    top1 = {}
    with classifier:
        for f in images:
            result = classifier.classify(mp.Image.create_from_file(str(f)))
            best = result.classifications[0].categories[0]
            top1[f.name] = [best.index, best.score]
    return {"ok": True, "error": None, "top1": top1}


def main(argv):
    import mediapipe

    images = sorted(p for p in Path(argv[0]).iterdir() if p.suffix == ".png")
    out = {"mediapipe": mediapipe.__version__, "models": {m: classify(m, images) for m in argv[1:]}}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
