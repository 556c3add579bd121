"""``edgenet fit``: the largest compound-scaled variant whose *measured* p50 on a target meets a latency budget.

Every candidate :mod:`edgenet.fitplan` picks is built, converted by the real pipeline
(:func:`edgenet.converters.pipeline.convert`; int8 calibrated on generated images, which is all latency needs) and timed
by ``edgenet bench``'s machinery (:func:`edgenet.device_bench.bench.run_benchmarks`) on the target, its row stored in
the bench database. The fixed ladder of the family (B0…B8, Lite0…4, EdgeTPU-S/M/L) is measured the same way up to its
first variant over the budget, so the answer can be compared with what picking from the ladder would have given.

State lives in ``OUT/fit_state.json``, rewritten atomically after each measurement: a run that is interrupted or
repeated with another budget reuses every point already measured for the same target and settings.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgenet.atomic import check_writable_dir, save_figure, write_text_atomic
from edgenet.device_bench.targets import TargetOptions
from edgenet.errors import EdgenetError
from edgenet.fitplan import Candidate, LatencyModel, Point, bounds, candidates, next_candidate, phi_grid
from edgenet.models import get_variant, list_models
from edgenet.progress import SILENT, Progress
from edgenet.scaling import PAPER, Scaling

STATE_FORMAT = "edgenet.fit-state"
FAMILIES = {"b": "efficientnet_b0", "lite": "efficientnet_lite0", "edgetpu": "efficientnet_edgetpu_s"}


@dataclass(frozen=True)
class FitSettings:
    """What a measured point depends on; a state file is reused only under equal settings (the budget is free)."""

    target: str = "local"
    threads: int = 1
    int8: bool = True
    scaling: Scaling = PAPER
    scaling_file: str | None = None
    num_classes: int = 1000
    min_res: int = 96
    max_res: int = 640
    max_phi: float = 3.0
    phi_step: float = 0.1
    res_steps: int = 3
    # 32: only sizes every stride-32 feature map divides evenly. docs/benchmarks/fit.md: on this CPU, B0 at 232 px
    # (MACs +17 % over 224 px, from ceil'd feature maps) ran ~50 % slower, so a grid of 8 wastes measurements there
    res_multiple: int = 32
    runs: int = 50
    warmup: int = 5
    calib_samples: int = 8

    def key(self) -> dict:
        d = asdict(self)
        d["scaling"] = self.scaling.to_dict()
        return d


@dataclass
class FitResult:
    budget_ms: float
    settings: dict
    chosen: Point | None
    ladder_best: Point | None  # the largest fixed-ladder variant measured within budget
    points: list[Point]
    measured_now: int  # conversions and timings this call ran (the rest came from the state file)
    candidates: int
    latency_model: dict | None
    model_args: str  # the chosen configuration as command-line options: "--model phi:1.3 --img-size 232"
    out: str
    db: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def ladder(scaling: Scaling) -> list[str]:
    """The registered variants of the base's family, by size: the fixed steps a user would otherwise pick from."""
    arch = get_variant(scaling.base).config.arch
    return [n for n in list_models() if get_variant(n).config.arch == arch]


def _state_path(out: Path) -> Path:
    return out / "fit_state.json"


def _load_state(out: Path, settings: FitSettings) -> tuple[dict, list[Point]]:
    path = _state_path(out)
    if not path.is_file():
        return {}, []
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("format") != STATE_FORMAT:
            raise ValueError("not a fit state file")
        points = [Point(**p) for p in d["points"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EdgenetError(f"{path}: unreadable fit state ({e}); delete it or choose another --out") from None
    saved = FitSettings().key() | d.get("settings", {})  # a setting added since the file was written: its default
    if saved != json.loads(json.dumps(settings.key())):
        differ = sorted(k for k, v in settings.key().items() if saved.get(k) != v)
        raise EdgenetError(
            f"{path}: holds measurements for other settings ({', '.join(differ)} differ); "
            "use another --out, or the same options to continue"
        )
    return d.get("native_macs", {}), points


def _save_state(out: Path, settings: FitSettings, native: dict, points: list[Point]) -> None:
    d = {
        "format": STATE_FORMAT,
        "settings": settings.key(),
        "native_macs": native,
        "points": [asdict(p) for p in points],
    }
    write_text_atomic(_state_path(out), json.dumps(d, indent=1) + "\n")


def _native_macs(settings: FitSettings, cached: dict, progress: Progress) -> dict[float, tuple[int, int]]:
    """{φ: (resolution, MACs there)} for the φ grid, counted once and kept in the state file. The resolution is the
    one γ^φ gives, clamped into [--min-res, --max-res]: MACs are counted where the candidates are, so scaling them
    by r² to the grid's neighbours stays a small correction."""
    from edgenet.fitplan import phi_spec, resolution_grid
    from edgenet.profile import profile_variant

    out = {}
    grid = phi_grid(settings.max_phi, settings.phi_step)
    todo = [phi for phi in grid if f"{phi:g}" not in cached]
    if todo:
        progress.step(f"counting MACs of {len(todo)} φ values")
    for phi in grid:
        if f"{phi:g}" not in cached:
            v = get_variant(phi_spec(phi, settings.scaling, settings.scaling_file))
            grid_r = resolution_grid(v.resolution, settings.min_res, settings.max_res, 0, settings.res_multiple)
            res = grid_r[0] if grid_r else min(max(v.resolution, settings.min_res), settings.max_res)
            cached[f"{phi:g}"] = [res, profile_variant(v, num_classes=settings.num_classes, resolution=res).macs]
        res, macs = cached[f"{phi:g}"]
        out[phi] = (int(res), int(macs))
    return out


class _Quiet(Progress):
    """Conversion progress without its per-model warnings (random weights, generated calibration): ``fit``
    states once that it measures latency only."""

    def warn(self, message: str) -> None:
        pass


def measure(
    cand: Candidate,
    settings: FitSettings,
    out: Path,
    db,
    target_opts: TargetOptions,
    guard: Callable[[], AbstractContextManager] = nullcontext,
) -> Point:
    """Build, convert and time one candidate on the target; its bench row goes to ``db``."""
    from edgenet.converters.pipeline import ConvertOptions, convert
    from edgenet.device_bench.bench import Plan, run_benchmarks
    from edgenet.loading import load_from_spec
    from edgenet.profile import count_params, profile_variant

    folder = out / "candidates" / re.sub(r"[^A-Za-z0-9_.-]+", "_", cand.key)
    t0 = time.perf_counter()
    loaded = load_from_spec(model=cand.spec, num_classes=settings.num_classes, img_size=cand.resolution)
    opts = ConvertOptions(
        out=folder, int8=settings.int8, calib_samples=settings.calib_samples, parity_samples=2, threads=None
    )
    report = convert(loaded, opts, _Quiet())
    convert_s = time.perf_counter() - t0
    kind = "int8" if settings.int8 else "fp32"
    file = folder / next(a.file for a in report.artifacts if a.name == kind)
    plan = Plan(threads=(settings.threads,), runs=settings.runs, warmup=settings.warmup)
    with guard():
        (result,) = run_benchmarks(
            [file], plan, settings.target, target_opts, db=db, command=f"edgenet fit ({cand.key})", progress=False
        )
    if result.emulated:  # an emulator's latency is no device's: a budget must never be met or missed with it
        raise EdgenetError(
            f"--target {settings.target}: runs under an emulator ({result.emulated}); its latencies are the "
            "emulator's, not a device's, so fit cannot hold them against a budget: use a real board"
        )
    macs = profile_variant(get_variant(cand.spec), num_classes=settings.num_classes, resolution=cand.resolution).macs
    return Point(
        spec=cand.spec,
        phi=cand.phi,
        resolution=cand.resolution,
        kind=cand.kind,
        macs=int(macs),
        params=count_params(loaded.model),
        p50_ms=float(result.latency_ms.p50),
        p90_ms=float(result.latency_ms.p90),
        model_file=str(file),
        convert_s=round(convert_s, 1),
    )


def _next_ladder(names: list[str], settings: FitSettings, points: list[Point], budget_ms: float) -> Candidate | None:
    """The next fixed-ladder variant to measure: upward from the smallest, until the first one over budget."""
    from edgenet.profile import profile_variant

    _, ceiling = bounds(points, budget_ms)
    done = {p.key: p for p in points}
    for name in names:
        v = get_variant(name)
        key = f"{v.name}@{v.resolution}"
        if key in done:
            if done[key].p50_ms > budget_ms:
                return None
            continue
        macs = profile_variant(v, num_classes=settings.num_classes).macs
        if macs >= ceiling:
            return None  # a point with fewer MACs is already over budget
        return Candidate(v.name, None, v.resolution, int(macs), kind="ladder")
    return None


def model_args(point: Point) -> str:
    """The options that rebuild a point in any command: ``--model SPEC`` and ``--img-size`` when not native."""
    v = get_variant(point.spec)
    name = v.name.removeprefix("efficientnet_") if point.kind == "ladder" else point.spec
    return f"--model {name}" + ("" if point.resolution == v.resolution else f" --img-size {point.resolution}")


def fit(
    budget_ms: float,
    settings: FitSettings,
    out: Path,
    db_path: Path | None = None,
    target_opts: TargetOptions | None = None,
    max_measure: int = 8,
    with_ladder: bool = True,
    progress: Progress = SILENT,
    guard: Callable[[], AbstractContextManager] = nullcontext,
) -> FitResult:
    """Search, measuring at most ``max_measure`` compound-scaled candidates (the ladder's steps come on top).

    Raises :class:`EdgenetError` naming the smallest measured latency when nothing fits; every point measured
    until then (or until Ctrl-C) stays in the state file and the database.
    """
    from edgenet.device_bench.db import ResultsDB

    if not (math.isfinite(budget_ms) and budget_ms > 0):
        raise EdgenetError(f"--budget-ms {budget_ms}: must be a positive number of milliseconds")
    if settings.min_res > settings.max_res:
        raise EdgenetError(f"--min-res {settings.min_res} is above --max-res {settings.max_res}")
    check_writable_dir(out)  # a file, a FIFO or an unwritable place as --out: one line, not a FileExistsError
    out.mkdir(parents=True, exist_ok=True)
    cached, points = _load_state(out, settings)
    native = _native_macs(settings, cached, progress)
    _save_state(out, settings, cached, points)
    cands = candidates(
        settings.scaling,
        native,
        settings.min_res,
        settings.max_res,
        settings.res_steps,
        settings.scaling_file,
        settings.res_multiple,
    )
    names = ladder(settings.scaling) if with_ladder else []
    db_path = db_path or out / "bench.sqlite"
    measured_now = phi_measured = 0
    target_opts = target_opts or TargetOptions()
    with ResultsDB(db_path) as db:
        while True:
            cand = _next_ladder(names, settings, points, budget_ms)
            if cand is None:
                if phi_measured >= max_measure:
                    break
                cand = next_candidate(cands, points, budget_ms)
                if cand is None:
                    break
                phi_measured += 1
            progress.step(f"measuring {cand.spec} at {cand.resolution} px ({cand.macs / 1e6:.0f}M MACs, estimated)")
            point = measure(cand, settings, out, db, target_opts, guard)
            points.append(point)
            measured_now += 1
            _save_state(out, settings, cached, points)
            verdict = "within" if point.p50_ms <= budget_ms else "over"
            progress.step(f"  p50 {point.p50_ms:.2f} ms ({verdict} {budget_ms:g} ms)")
        smallest = min(cands, key=lambda c: c.macs)
        if not any(p.p50_ms <= budget_ms for p in points) and smallest.key not in {p.key for p in points}:
            # every measured point is over: the verdict "impossible" needs the smallest candidate itself measured
            progress.step(f"measuring the smallest candidate, {smallest.spec} at {smallest.resolution} px")
            points.append(measure(smallest, settings, out, db, target_opts, guard))
            measured_now += 1
            _save_state(out, settings, cached, points)
    result = _result(budget_ms, settings, points, len(cands), measured_now, out, db_path)
    write_text_atomic(out / "fit.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _result(
    budget_ms: float, settings: FitSettings, points: list, candidates: int, measured_now: int, out: Path, db_path: Path
) -> FitResult:
    """The largest measured point within the budget, with the ladder's best and the fitted latency model; a
    one-line error naming the fastest point when none fits."""
    chosen, _ = bounds(points, budget_ms)
    if chosen is None:
        low = min(points, key=lambda p: p.p50_ms)
        raise EdgenetError(
            f"no variant meets --budget-ms {budget_ms:g}: the smallest measured latency is {low.p50_ms:.2f} ms "
            f"({low.spec} at {low.resolution} px on {settings.target}, {settings.threads} thread(s)); "
            f"raise the budget or lower --min-res (now {settings.min_res})"
        )
    ladder_ok = [p for p in points if p.kind == "ladder" and p.p50_ms <= budget_ms]
    lm = LatencyModel.fit(points)
    notes = ["latency only: random weights, int8 calibrated on generated images" if settings.int8 else "fp32"]
    result = FitResult(
        budget_ms=budget_ms,
        settings=settings.key(),
        chosen=chosen,
        ladder_best=max(ladder_ok, key=lambda p: p.macs) if ladder_ok else None,
        points=sorted(points, key=lambda p: p.macs),
        measured_now=measured_now,
        candidates=candidates,
        latency_model={"a": lm.a, "b": lm.b} if lm else None,
        model_args=model_args(chosen),
        out=str(out),
        db=str(db_path),
        notes=notes,
    )
    return result


def equivalent_phi(macs: float, base_macs: float, scaling: Scaling) -> float:
    """Where a network of ``macs`` sits on the φ axis: log(MACs / base MACs) / log(α·β²·γ²)."""
    return math.log(macs / base_macs) / math.log(scaling.flops_base)


def write_plot(result: FitResult, path: Path, base_macs: float, scaling: Scaling) -> Path:
    """Latency against φ: measured candidates, the fixed ladder (at the φ its MACs correspond to), the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    b = result.budget_ms
    phis = [p for p in result.points if p.kind == "phi"]
    for ok, colour, label in ((True, "C2", "candidate within budget"), (False, "C3", "candidate over budget")):
        sel = [p for p in phis if (p.p50_ms <= b) == ok]
        ax.scatter(
            [equivalent_phi(p.macs, base_macs, scaling) for p in sel],
            [p.p50_ms for p in sel],
            c=colour,
            s=36,
            label=label,
            zorder=3,
        )
        for p in sel:
            x = equivalent_phi(p.macs, base_macs, scaling)
            ax.annotate(
                f"φ{p.phi:g}/{p.resolution}", (x, p.p50_ms), fontsize=7, xytext=(4, -10), textcoords="offset points"
            )
    lad = [p for p in result.points if p.kind == "ladder"]
    if lad:
        ax.scatter(
            [equivalent_phi(p.macs, base_macs, scaling) for p in lad],
            [p.p50_ms for p in lad],
            marker="s",
            facecolors="none",
            edgecolors="C0",
            s=70,
            linewidths=1.5,
            label="fixed ladder",
            zorder=4,
        )
        for p in lad:
            x = equivalent_phi(p.macs, base_macs, scaling)
            ax.annotate(
                p.spec.removeprefix("efficientnet_"),
                (x, p.p50_ms),
                fontsize=8,
                xytext=(5, 4),
                textcoords="offset points",
            )
    c = result.chosen
    if c is not None:
        ax.scatter(
            [equivalent_phi(c.macs, base_macs, scaling)],
            [c.p50_ms],
            marker="*",
            s=240,
            c="gold",
            edgecolors="k",
            label=f"chosen: {result.model_args.replace('--model ', '')}",
            zorder=5,
        )
    if result.latency_model:
        lm = LatencyModel(**result.latency_model)
        xs = sorted(p.macs for p in result.points)
        grid = [xs[0] * (xs[-1] / xs[0]) ** (i / 50) for i in range(51)]
        ax.plot(
            [equivalent_phi(m, base_macs, scaling) for m in grid],
            [lm.predict(m) for m in grid],
            ":",
            c="#888",
            label=f"fitted: p50 ∝ MACs^{lm.b:.2f}",
            zorder=2,
        )
    ax.axhline(b, color="k", ls="--", lw=1, label=f"budget {b:g} ms")
    ax.set_xlabel("φ (compound coefficient; ladder variants at the φ of equal MACs)")
    ax.set_ylabel(f"measured p50, ms ({result.settings['target']}, {result.settings['threads']} thread)")
    ax.set_title("edgenet fit: latency vs φ")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    save_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def record(out: Path, settings: FitSettings, new: list[Point]) -> None:
    """Add points measured elsewhere (e.g. a benchmark timing the ladder first) to OUT's state, as ``fit`` would;
    a point already there is replaced (a re-timing)."""
    out.mkdir(parents=True, exist_ok=True)
    cached, points = _load_state(out, settings)
    keys = {p.key for p in new}
    _save_state(out, settings, cached, [p for p in points if p.key not in keys] + new)
