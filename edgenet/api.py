"""edgenet from Python: the functions the CLI commands are made of, with keyword arguments instead of flags.

    from edgenet import create_model, list_models, load_model
    from edgenet.api import bench, convert, evaluate, quant_report

Each returns the dataclass the matching command prints (its ``to_dict()`` or ``dataclasses.asdict`` is the
command's ``--json``). Nothing prints: pass ``progress=edgenet.cli.progress.ConsoleProgress()`` for the CLI's bars,
or your own :class:`edgenet.progress.Progress`. Like the CLI, this is a front end over the library packages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgenet.loading import LoadedModel, load_model
from edgenet.progress import SILENT, Progress

__all__ = ["bench", "convert", "evaluate", "load_model", "quant_report"]


def _loaded(model: LoadedModel | str) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    from edgenet.validate import text

    return load_model(text(model, "model"))


def convert(model: LoadedModel | str, out: str | Path, progress: Progress = SILENT, **options):
    """``edgenet convert``: ``options`` are :class:`edgenet.converters.pipeline.ConvertOptions` fields (``int8=True``,
    ``calib_data=…``, ``eval_data=…``, ``auto_fix=True``, …). Returns the :class:`ConvertReport`."""
    from edgenet.converters.pipeline import ConvertOptions
    from edgenet.converters.pipeline import convert as run
    from edgenet.device_bench.latency import tflite_p50_ms
    from edgenet.validate import path

    return run(_loaded(model), ConvertOptions(out=path(out, "--out"), **options), progress, latency_ms=tflite_p50_ms)


def quant_report(model: LoadedModel | str | Path, out: str | Path, progress: Progress = SILENT, **options):
    """``edgenet quant-report``: per-layer int8 error; ``options`` as
    :func:`edgenet.workflows.quant_report.quant_report`.

    ``model`` may be an int8 ``.tflite`` instead: it is analysed against its float twin
    (:func:`edgenet.workflows.quant_report.quant_report_pair`; ``fp32_path=`` when not ``model_fp32.tflite`` beside it).
    """
    from edgenet.validate import path
    from edgenet.workflows.quant_report import quant_report as run
    from edgenet.workflows.quant_report import quant_report_pair

    out = path(out, "--out")
    if isinstance(model, (str, Path)) and Path(model).suffix == ".tflite":
        return quant_report_pair(Path(model), out, progress=progress, **options)
    return run(_loaded(model), out, progress=progress, **options)


def evaluate(model: str | Path, data: str | Path, threads: int | None = None, **preprocess):
    """``edgenet eval``: accuracy of a checkpoint (``.pt``) or a converted ``.tflite``/``.onnx`` on ``DIR/<class>/``.

    A converted model uses the preprocessing and labels ``convert`` stored beside it; ``preprocess`` (``mean``,
    ``std``, ``img_size``) overrides them. Returns an :class:`edgenet.evaluate.EvalResult`.
    """
    from edgenet.validate import integer, path

    if threads is not None:
        integer(threads, "--threads")
    if Path(path(model, "model")).suffix in (".tflite", ".onnx"):
        from edgenet.artifacts.scoring import evaluate_artifact

        return evaluate_artifact(model, data, threads=threads, **preprocess)
    if preprocess:  # a checkpoint carries its own preprocessing; ignoring an override silently would mislead
        raise TypeError(f"evaluate: {', '.join(preprocess)} apply to .tflite/.onnx files, not to a checkpoint")
    from edgenet.evaluate import evaluate_checkpoint

    return evaluate_checkpoint(model, data)


def bench(
    models: Sequence[str | Path],
    threads: Sequence[int] = (1,),
    runs: int = 100,
    target: str = "local",
    eval_data: str | Path | None = None,
    db: str | Path | None = None,
    **plan,
):
    """``edgenet bench``: latency (and accuracy with ``eval_data``) of each model file on ``target``.

    ``plan`` takes the other :class:`edgenet.device_bench.bench.Plan` fields (``backend``, ``batch``, ``warmup``, …).
    Returns one :class:`edgenet.device_bench.results.BenchResult` per configuration; with ``db`` they are also stored.
    """
    from edgenet.device_bench.bench import EvalOptions, Plan, run_benchmarks
    from edgenet.device_bench.db import ResultsDB
    from edgenet.validate import paths

    # checked with the CLI's rules by run_benchmarks (edgenet.validate.bench_plan)
    p = Plan(threads=tuple(threads) if isinstance(threads, list | tuple) else threads, runs=runs, **plan)
    ev = EvalOptions(Path(eval_data)) if eval_data is not None else None
    files = paths(models, "models")
    if db is None:
        return run_benchmarks(files, p, target, eval_opts=ev, progress=False)
    with ResultsDB(Path(db)) as store:
        return run_benchmarks(files, p, target, eval_opts=ev, db=store, command="edgenet.api.bench", progress=False)
