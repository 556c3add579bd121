"""Accuracy of any artefact (PyTorch, .onnx, .tflite) on a labelled image folder, by one evaluation code path.

Batches come from :func:`edgenet.data.eval_batches` — the checkpoint's own preprocessing — and are scored by
:func:`edgenet.evaluate.evaluate`; only ``predict`` changes between backends, and integer models quantize their
input and dequantize their output with their own parameters (:mod:`edgenet.artifacts.runtime`). A converted artefact
finds its preprocessing and class names in the ``report.json`` that ``edgenet convert`` writes beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# edgenet.data pulls in torchvision (and through it triton); loading those after TensorFlow's libraries crashes
# the process (segfault in triton's import), so importing this module first keeps every later order safe.
from edgenet import data as _data  # noqa: F401
from edgenet.artifacts.runtime import runner_for
from edgenet.artifacts.sidecar import labels_beside, read_report, report_preprocess
from edgenet.errors import EdgenetError
from edgenet.evaluate import EvalResult, evaluate
from edgenet.preprocess import Preprocess

CACHE_BYTES = 1 << 30  # preprocessed eval sets up to 1 GiB stay in memory (CIFAR-10 test at 32 px: 123 MB)


@dataclass
class EvalSet:
    """A labelled folder, preprocessed once when it fits in memory (several artefacts are scored on it)."""

    data: Path
    preprocess: Preprocess
    classes: list[str]
    n: int
    _cache: list | None = None

    def batches(self) -> Iterator[tuple]:
        if self._cache is not None:
            return iter(self._cache)
        from edgenet.data import eval_batches

        return eval_batches(self.data, self.preprocess, self.classes, batch_size=64)[0]


def load_eval_set(
    data: str | Path, pre: Preprocess, classes: Sequence[str] | None, num_classes: int, cache: bool = True
) -> EvalSet:
    """Check the folder against the model's classes (unknown folders are named in the error), then load it."""
    from edgenet.data import eval_batches, scan_class_folders

    data = Path(data)
    if classes is None:  # a model without names: the sorted folders must be its outputs
        classes = scan_class_folders(data)
        if len(classes) != num_classes:
            raise EdgenetError(
                f"{data}: {len(classes)} class folders for a model with {num_classes} outputs and no class names; "
                "convert from a checkpoint with classes, or point at a folder with one subfolder per output"
            )
    batches, ds = eval_batches(data, pre, list(classes), batch_size=64)
    es = EvalSet(data, pre, list(classes), len(ds))
    if cache and len(ds) * 3 * pre.resolution**2 * 4 <= CACHE_BYTES:
        es._cache = list(batches)
    return es


def score(
    es: EvalSet, predict: Callable[[np.ndarray], np.ndarray], progress: bool = False
) -> tuple[EvalResult, np.ndarray]:
    """Metrics plus the top-1 prediction of every image (for agreement between artefacts)."""
    preds: list[np.ndarray] = []

    def recording(x: np.ndarray) -> np.ndarray:
        logits = predict(x)
        preds.append(np.asarray(logits).argmax(1))
        return logits

    result = evaluate(es.batches(), recording, es.classes, progress=progress, total=es.n)
    return result, np.concatenate(preds) if preds else np.zeros(0, np.int64)


def artifact_preprocess(
    path: str | Path,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    img_size: int | None = None,
) -> tuple[Preprocess, list[str] | None]:
    """Preprocessing and class names of an artefact: from ``report.json`` beside it, else from the options.

    Options override the report; without a report all three (mean, std, size) are needed — guessing them is how
    deployed models silently lose accuracy.
    """
    report = read_report(path)
    pre = report_preprocess(report, path)
    if pre is not None:
        overrides = {
            k: v for k, v in (("mean", mean), ("std", std), ("resolution", img_size)) if v is not None and v != ()
        }
        pre = Preprocess.from_dict({**pre.to_dict(), **overrides})
        return pre, report.get("classes")
    if not mean or not std or img_size is None:
        raise EdgenetError(
            f"{path}: preprocessing unknown (no report.json from edgenet convert beside it); "
            "pass --mean R,G,B --std R,G,B --img-size N"
        )
    return Preprocess(resolution=img_size, mean=tuple(mean), std=tuple(std)), None


def io_sizes(runner) -> tuple[int | None, int]:
    """(input resolution, number of logits) of an artefact, from its own metadata (None: dynamic size)."""
    if hasattr(runner, "io_sizes"):  # ExecuTorch, TensorRT: they know their own shapes
        return runner.io_sizes()
    if hasattr(runner, "info"):  # TFLite: NHWC
        return int(runner.info.input_details[0].shape[1]), int(runner.info.output_details[0].shape[-1])
    h = runner.session.get_inputs()[0].shape[2]  # ONNX: NCHW
    return (h if isinstance(h, int) else None), int(runner.session.get_outputs()[0].shape[-1])


def load_artifact(
    path: str | Path,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    img_size: int | None = None,
    threads: int | None = None,
):
    """A converted model ready to score: (runner, its preprocessing, its class names or None), the preprocessing
    checked against the model's own input size (``eval --model-file``, ``predict``)."""
    from edgenet.quiet import native_stderr_captured
    from edgenet.scaling import MAX_RESOLUTION

    path = Path(path)
    pre, classes = artifact_preprocess(path, mean, std, img_size)
    if pre.resolution > MAX_RESOLUTION:  # a dynamic-size ONNX at 8000 px held 9 GB and ignored Ctrl-C in one call
        raise EdgenetError(
            f"{path}: input size {pre.resolution}: at most {MAX_RESOLUTION} (B8 is 672); pass --img-size"
        )
    with native_stderr_captured():  # LiteRT's "Created XNNPACK delegate" chatter
        runner = runner_for(path, threads)
    res, _ = io_sizes(runner)
    if res is not None and res != pre.resolution:
        raise EdgenetError(f"{path}: takes {res}×{res} images, not {pre.resolution}; drop --img-size or pass {res}")
    return runner, pre, classes or labels_beside(path)


def evaluate_artifact(
    path: str | Path,
    data: str | Path,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    img_size: int | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """``edgenet eval --model-file``: score a converted model with its own preprocessing and class names."""
    runner, pre, classes = load_artifact(path, mean, std, img_size, threads)
    es = load_eval_set(data, pre, classes, io_sizes(runner)[1], cache=False)
    return score(es, runner, progress)[0]


class Scorer:
    """Scores artefacts against the PyTorch model on one eval set: accuracy and top-1 agreement with PyTorch."""

    def __init__(self, es: EvalSet, torch_model, threads: int | None = None) -> None:
        from edgenet.evaluate import torch_predict

        self.es, self.threads = es, threads
        self.torch, self.torch_pred = score(es, torch_predict(torch_model))

    def predictions(self, path: str | Path) -> tuple[EvalResult, np.ndarray]:
        return score(self.es, runner_for(path, self.threads))

    def artifact(self, path: str | Path) -> tuple[EvalResult, float]:
        result, pred = self.predictions(path)
        return result, agreement(pred, self.torch_pred)

    def model_bytes(self, data: bytes) -> tuple[float, float]:
        """(top-1, agreement) of an in-memory .tflite (the candidates of ``--auto-fix``)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edgenet-eval-") as tmp:
            path = Path(tmp) / "candidate.tflite"
            path.write_bytes(data)
            result, agreement = self.artifact(path)
        return result.top1, agreement

    def table(self, files: dict[str, Path]) -> tuple[dict, dict]:
        """report.json's ``accuracy`` ({name: {top1, top5, k, n}}, torch first; ``top5`` is top-k with
        k = min(5, classes)) and ``agreement`` ({name: float})."""
        accuracy = {"torch": metrics(self.torch)}
        agreement = {}
        for name, path in files.items():
            result, agreement[name] = self.artifact(path)
            accuracy[name] = metrics(result)
        return accuracy, agreement


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of images with the same top-1 class."""
    return float((a == b).mean()) if len(a) else 0.0


def metrics(r: EvalResult) -> dict:
    """The accuracy entry of a report: top-1, top-k (``top5``, k = min(5, classes), named by ``k``) and n."""
    return {"top1": r.top1, "top5": r.top5, "k": r.top5_k, "n": r.n}
