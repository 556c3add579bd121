"""``edgenet scale search``: the paper's step 1 — fix φ = 1, grid-search α, β, γ on the user's own data.

Tan & Le found α=1.2, β=1.1, γ=1.15 by training B0 scaled at φ = 1 under α·β²·γ² ≈ 2 (twice the FLOPs) on
ImageNet and keeping the best. Here each grid point is trained briefly by the real training loop
(:func:`edgenet.training.loop.train`, same recipe and seed for all) and scored on the validation split; with a
latency constraint, the grid keeps the points whose *measured* latency on a target is about twice the base's
instead (the caller supplies the measurement, so this module stays below the converters in the layering).

Results go to ``OUT/search_state.json`` after every candidate: a rerun skips finished candidates and resumes an
interrupted one from its ``last.pt``. The winner is written as a scaling file (``OUT/scaling.json``) that
``edgenet scale``, ``edgenet fit`` and ``--model phi:F@OUT/scaling.json`` read.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgenet.atomic import check_writable_dir, save_figure, write_text_atomic
from edgenet.errors import EdgenetError
from edgenet.models import get_variant
from edgenet.progress import SILENT, Progress
from edgenet.scaling import PAPER, Scaling, compound_scale, save_scaling

STATE_FORMAT = "edgenet.scale-search"
GRID = tuple(round(1 + 0.05 * i, 2) for i in range(11))  # 1.00 … 1.50


@dataclass(frozen=True)
class SearchPoint:
    alpha: float
    beta: float
    gamma: float

    @property
    def key(self) -> str:
        return f"a{self.alpha:.2f}_b{self.beta:.2f}_g{self.gamma:.2f}"

    @property
    def flops_factor(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2


def flops_grid(target: float = 2.0, tol: float = 0.05, values: tuple[float, ...] = GRID) -> list[SearchPoint]:
    """Every (α, β, γ) on the grid with α·β²·γ² within ``tol`` (relative) of ``target``; the paper's is 1.92."""
    return [
        SearchPoint(a, b, g)
        for a in values
        for b in values
        for g in values
        if abs(a * b * b * g * g / target - 1) <= tol
    ]


def spread(points: list[SearchPoint], n: int, first: SearchPoint | None = None) -> list[SearchPoint]:
    """``n`` points far apart in (log α, log β, log γ), starting from ``first`` (the paper's when on the grid):
    with room for only a few trainings, they should cover depth-, width- and resolution-heavy corners."""
    if not points:
        return []
    logs = {p: (math.log(p.alpha), math.log(p.beta), math.log(p.gamma)) for p in points}
    chosen = [first if first in logs else points[0]]
    while len(chosen) < min(n, len(points)):
        far = max(
            (p for p in points if p not in chosen),
            key=lambda p: min(math.dist(logs[p], logs[c]) for c in chosen),
        )
        chosen.append(far)
    return chosen


@dataclass
class SearchSettings:
    data: str
    val: str | None = None
    base: str = "efficientnet_b0"
    img_size: int = 32  # the base's resolution during the search; a candidate trains at img_size·γ (multiple of 8)
    epochs: int = 1
    batch_size: int = 64
    candidates: int = 6
    constraint: str = "flops"  # "flops" | "latency"
    target: str | None = None  # latency only: where it was measured
    latency_tol: float = 0.15  # keep candidates whose measured latency is within 15 % of twice the base's
    recipe: str | None = None  # None: train's default (the paper's from scratch); "finetune" learns in few steps
    lr: float | None = None
    augment: str | None = None
    min_crop: float = 0.08
    seed: int = 0
    workers: int | None = None


@dataclass
class SearchRow:
    alpha: float
    beta: float
    gamma: float
    flops_factor: float
    resolution: int
    params: int
    macs: int
    val_top1: float | None = None  # percent, the best epoch's
    train_s: float | None = None
    latency_ms: float | None = None
    latency_ratio: float | None = None
    status: str = "pending"  # pending | done
    paper: bool = False


@dataclass
class SearchResult:
    settings: dict
    rows: list[SearchRow]
    best: SearchRow | None
    paper: SearchRow | None
    scaling_file: str | None
    trained_now: int
    base_latency_ms: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _state(out: Path) -> Path:
    return out / "search_state.json"


def _load(out: Path, settings: SearchSettings) -> tuple[list[SearchRow], dict]:
    path = _state(out)
    if not path.is_file():
        return [], {}
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("format") != STATE_FORMAT:
            raise ValueError("not a search state file")
        rows = [SearchRow(**r) for r in d["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EdgenetError(f"{path}: unreadable search state ({e}); delete it or choose another --out") from None
    mine = {k: v for k, v in asdict(settings).items() if k not in ("workers",)}
    theirs = {k: v for k, v in d.get("settings", {}).items() if k not in ("workers",)}
    if mine != theirs:
        differ = sorted(k for k in mine if mine[k] != theirs.get(k))
        raise EdgenetError(
            f"{path}: holds a search with other settings ({', '.join(differ)} differ); "
            "use another --out, or the same options to continue it"
        )
    return rows, d.get("extra", {})


def _save(out: Path, settings: SearchSettings, rows: list[SearchRow], extra: dict) -> None:
    d = {"format": STATE_FORMAT, "settings": asdict(settings), "rows": [asdict(r) for r in rows], "extra": extra}
    write_text_atomic(_state(out), json.dumps(d, indent=1) + "\n")


def candidate_spec(out: Path, point: SearchPoint, base: str) -> str:
    """The ``--model`` of a candidate: the base at φ = 1 under the candidate's constants, kept in its own file."""
    folder = out / "candidates" / point.key
    folder.mkdir(parents=True, exist_ok=True)
    save_scaling(folder / "scaling.json", Scaling(point.alpha, point.beta, point.gamma, base))
    return f"phi:1@{folder / 'scaling.json'}"


def _row(point: SearchPoint, settings: SearchSettings, num_classes: int) -> SearchRow:
    from dataclasses import replace

    from edgenet.models import Variant
    from edgenet.profile import profile_variant

    res = compound_scale(1, point.alpha, point.beta, point.gamma, base_resolution=settings.img_size).resolution
    b = get_variant(settings.base)
    cfg = replace(b.config, width_mult=b.width_mult * point.beta, depth_mult=b.depth_mult * point.alpha)
    prof = profile_variant(Variant(point.key, res, cfg), num_classes=num_classes)
    paper = (point.alpha, point.beta, point.gamma) == (PAPER.alpha, PAPER.beta, PAPER.gamma)
    return SearchRow(
        point.alpha, point.beta, point.gamma, round(point.flops_factor, 4), res, prof.params, prof.macs, paper=paper
    )


def _classes(data: str) -> int:
    path = Path(data)
    if not path.is_dir():
        raise EdgenetError(f"--data {data}: not a folder; give DIR/<class>/<image> folders")
    n = sum(1 for p in path.iterdir() if p.is_dir())
    if n < 2:
        raise EdgenetError(f"--data {data}: needs at least two class folders (DIR/<class>/<image>)")
    return n


def search(
    settings: SearchSettings,
    out: Path,
    latency_of: Callable[[str, int], float] | None = None,
    progress: Progress = SILENT,
) -> SearchResult:
    """Run (or continue) the grid search; ``latency_of(model_spec, resolution)`` measures p50 ms on the target and
    is required for ``constraint="latency"``."""
    if settings.constraint not in ("flops", "latency"):
        raise EdgenetError(f"--constraint {settings.constraint}: choose flops or latency")
    if settings.constraint == "latency" and latency_of is None:
        raise EdgenetError("--constraint latency needs --target (where latency is measured)")
    num_classes = _classes(settings.data)
    base = get_variant(settings.base).name
    check_writable_dir(out)  # a file, a FIFO or an unwritable place as --out: one line, not a FileExistsError
    out.mkdir(parents=True, exist_ok=True)
    rows, extra = _load(out, settings)
    notes: list[str] = []
    if not rows:
        rows = _planned_rows(settings, out, base, num_classes, latency_of, extra, progress)
    trained_now = 0
    for i, row in enumerate(rows):
        if row.status == "done":
            continue
        point = SearchPoint(row.alpha, row.beta, row.gamma)
        progress.step(
            f"[{i + 1}/{len(rows)}] training α={row.alpha:g} β={row.beta:g} γ={row.gamma:g} "
            f"({row.resolution} px, {row.macs / 1e6:.1f}M MACs, {settings.epochs} epoch(s))"
        )
        t0 = time.perf_counter()
        result = _train_candidate(settings, out, point, base, row.resolution)
        row.val_top1 = None if result.best_val_top1 is None else round(100 * result.best_val_top1, 2)
        row.train_s = round(time.perf_counter() - t0, 1)
        row.status = "done"
        trained_now += 1
        _save(out, settings, rows, extra)
        progress.step(f"  val top-1 {row.val_top1:.2f} %" if row.val_top1 is not None else "  no validation score")
    scored = [r for r in rows if r.val_top1 is not None]
    best = max(scored, key=lambda r: (r.val_top1, -r.macs)) if scored else None
    scaling_file = _save_best(out, settings, best, base, len(rows)) if best is not None else None
    return SearchResult(
        settings=asdict(settings),
        rows=rows,
        best=best,
        paper=next((r for r in rows if r.paper), None),
        scaling_file=scaling_file,
        trained_now=trained_now,
        base_latency_ms=extra.get("base_latency_ms"),
        notes=notes,
    )


def _planned_rows(settings, out, base, num_classes, latency_of, extra, progress) -> list[SearchRow]:
    """The grid points a new search trains: spread over α·β²·γ² ≈ 2, or those whose measured latency is ≈ 2× the
    base's; saved at once, so a rerun continues with the same points."""
    if settings.constraint == "flops":
        points = spread(flops_grid(), settings.candidates, SearchPoint(PAPER.alpha, PAPER.beta, PAPER.gamma))
    else:
        points = _latency_points(settings, out, base, latency_of, extra, progress)
        if not points:
            raise EdgenetError(
                f"no grid point's measured latency is within {settings.latency_tol:.0%} of twice the base's "
                f"({extra['base_latency_ms']:.2f} ms); raise --latency-tol"
            )
    rows = [_row(p, settings, num_classes) for p in points]
    for r in rows:
        lat = extra.get("latency", {}).get(SearchPoint(r.alpha, r.beta, r.gamma).key)
        if lat is not None:
            r.latency_ms, r.latency_ratio = lat, round(lat / extra["base_latency_ms"], 3)
    _save(out, settings, rows, extra)
    return rows


def _train_candidate(settings: SearchSettings, out: Path, point: SearchPoint, base: str, resolution: int):
    """``edgenet train``'s loop on one candidate (resumed when its last.pt exists); an interruption propagates."""
    from edgenet.training.config import TrainConfig, default_workers
    from edgenet.training.loop import train

    folder = out / "candidates" / point.key
    cfg = TrainConfig(
        data=settings.data,
        val=settings.val,
        out=str(folder / "run"),
        model=candidate_spec(out, point, base),
        img_size=resolution,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        recipe=settings.recipe,
        lr=settings.lr,
        augment=settings.augment,
        min_crop=settings.min_crop,
        seed=settings.seed,
        workers=settings.workers if settings.workers is not None else default_workers(),
        resume=(folder / "run" / "last.pt").is_file(),
        progress=False,
    )
    result = train(cfg)
    if result.interrupted:
        raise KeyboardInterrupt
    return result


def _save_best(out: Path, settings: SearchSettings, best: SearchRow, base: str, candidates: int) -> str:
    """OUT/scaling.json from the best candidate, with how it was found."""
    scaling_file = str(out / "scaling.json")
    save_scaling(
        scaling_file,
        Scaling(best.alpha, best.beta, best.gamma, base),
        found_by={
            "command": "edgenet scale search",
            "constraint": settings.constraint,
            "val_top1": best.val_top1,
            "candidates": candidates,
            "epochs": settings.epochs,
            "img_size": settings.img_size,
            "data": settings.data,
        },
    )
    return scaling_file


def _latency_points(
    settings: SearchSettings,
    out: Path,
    base: str,
    latency_of: Callable[[str, int], float],
    extra: dict,
    progress: Progress,
) -> list[SearchPoint]:
    """Grid points whose measured latency is ≈ 2× the base's: measured in spread order until ``candidates`` are
    found (a wider FLOPs band, 1.5–2.7×, is where they can be: latency is not proportional to FLOPs)."""
    extra.setdefault("latency", {})
    if "base_latency_ms" not in extra:
        progress.step(f"measuring the base ({base} at {settings.img_size} px)")
        extra["base_latency_ms"] = latency_of(f"{base}+phi:0", settings.img_size)
    target = 2 * extra["base_latency_ms"]
    pool = spread(flops_grid(2.1, 0.3), 4 * settings.candidates, SearchPoint(PAPER.alpha, PAPER.beta, PAPER.gamma))
    keep = []
    for p in pool:
        if len(keep) >= settings.candidates:
            break
        if p.key not in extra["latency"]:
            res = compound_scale(1, p.alpha, p.beta, p.gamma, base_resolution=settings.img_size).resolution
            progress.step(f"measuring α={p.alpha:g} β={p.beta:g} γ={p.gamma:g} at {res} px")
            extra["latency"][p.key] = latency_of(candidate_spec(out, p, base), res)
        if abs(extra["latency"][p.key] / target - 1) <= settings.latency_tol:
            keep.append(p)
    return keep


def write_plot(result: SearchResult, path: Path) -> Path:
    """Validation top-1 of every candidate, the paper's constants marked, the winner starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.rows if r.val_top1 is not None]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rows) + 2), 4.2))
    labels = [f"α{r.alpha:g}\nβ{r.beta:g}\nγ{r.gamma:g}" for r in rows]
    colours = ["C1" if r.paper else "C0" for r in rows]
    bars = ax.bar(range(len(rows)), [r.val_top1 for r in rows], color=colours)
    for bar, r in zip(bars, rows):
        mark = " ★" if result.best is r else ""
        ax.annotate(
            f"{r.val_top1:.1f}{mark}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel("validation top-1 %")
    s = result.settings
    ax.set_title(
        f"scale search at φ=1 ({s['constraint']} constraint, {s['img_size']} px base, {s['epochs']} epoch(s)); "
        "orange: paper's constants",
        fontsize=9,
    )
    ax.grid(True, axis="y", alpha=0.3)
    save_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def latency_probe(target: str, threads: int, int8: bool, out: Path, num_classes: int) -> Callable[[str, int], float]:
    """``latency_of(spec, resolution)``: convert and time like ``edgenet fit`` does, rows into OUT/bench.sqlite."""
    from edgenet.device_bench.db import ResultsDB
    from edgenet.device_bench.targets import TargetOptions
    from edgenet.fitplan import Candidate
    from edgenet.workflows.fit import FitSettings, measure

    settings = FitSettings(target=target, threads=threads, int8=int8, num_classes=num_classes)

    def latency_of(spec: str, resolution: int) -> float:
        with ResultsDB(out / "bench.sqlite") as db:
            cand = Candidate(spec, None, resolution, 0)
            return measure(cand, settings, out / "latency", db, TargetOptions()).p50_ms

    return latency_of


def run_search(
    settings: SearchSettings, out: Path, threads: int = 1, int8: bool = False, progress: Progress = SILENT
) -> SearchResult:
    """``edgenet scale search`` whole: the search (with a latency probe on ``settings.target`` for the latency
    constraint), then OUT/search.png and OUT/search.json beside OUT/scaling.json."""
    if settings.constraint == "flops" and settings.target is not None:
        raise EdgenetError("--target applies to --constraint latency only")
    latency_of = None
    if settings.constraint == "latency":
        if settings.target is None:
            raise EdgenetError("--constraint latency needs --target (local, ssh://…, adb://…)")
        data = Path(settings.data)
        classes = sum(1 for p in data.iterdir() if p.is_dir()) if data.is_dir() else 2
        latency_of = latency_probe(settings.target, threads, int8, out, max(classes, 1))
    result = search(settings, out, latency_of, progress)
    write_plot(result, out / "search.png")
    write_text_atomic(out / "search.json", json.dumps(result.to_dict(), indent=2) + "\n")
    return result
