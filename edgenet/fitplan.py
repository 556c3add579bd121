"""Which compound-scaled variant to measure next when looking for the largest one that meets a latency budget.

``edgenet fit`` measures every answer it gives; this module only decides the order. The candidates are φ on a grid
(step ``phi_step``) at the resolution γ^φ gives and a few multiples of 8 around it (the base, φ = 0, at every
multiple of 8 down to ``min_res``, for budgets below the base), ranked by MACs. A log-log line
of measured p50 against MACs (fitted on every point measured so far, the fixed ladder's included) predicts which
untried candidate is the largest that fits; measuring it either raises the floor (it fits) or lowers the ceiling
(it does not, and neither will anything with more MACs — the one assumption, that latency grows with MACs on a
given target, which holds within one family but only to first order, which is why the answer is always a
measured point and never a prediction).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from edgenet.models import get_variant
from edgenet.scaling import Scaling

CLOSE_ENOUGH = 0.03  # stop when the best fitting point is within 3 % of MACs of the smallest one that does not


@dataclass(frozen=True)
class Candidate:
    """A network to try: a model spec every command accepts plus an input size."""

    spec: str  # "phi:1.3", "lite0+phi:0.7", "phi:1@scaling.json" or a ladder name ("efficientnet_b1")
    phi: float | None  # None for a ladder variant
    resolution: int
    macs: int  # exact at the φ's grid centre, scaled by (r / r_centre)² for the others (ranking only)
    kind: str = "phi"  # "phi" | "ladder"

    @property
    def key(self) -> str:
        return f"{self.spec}@{self.resolution}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Point:
    """A measured candidate."""

    spec: str
    phi: float | None
    resolution: int
    kind: str
    macs: int  # exact, counted at the measured resolution
    params: int
    p50_ms: float
    p90_ms: float
    model_file: str
    convert_s: float

    @property
    def key(self) -> str:
        return f"{self.spec}@{self.resolution}"


def phi_spec(phi: float, scaling: Scaling, scaling_file: str | None = None) -> str:
    """The ``--model`` value of a compound-scaled variant (``phi:1.3``, ``lite0+phi:1.3``, ``phi:1.3@FILE``)."""
    short = get_variant(scaling.base).name.removeprefix("efficientnet_")
    if scaling_file:  # the base explicitly too: --base may differ from the file's
        return f"{short}+phi:{phi:g}@{scaling_file}"
    return f"phi:{phi:g}" if short == "b0" else f"{short}+phi:{phi:g}"


def resolution_grid(native: int, min_res: int, max_res: int, steps: int = 3, multiple: int = 8) -> list[int]:
    """The native resolution clamped into [min_res, max_res] and ``steps`` multiples of ``multiple`` either side."""
    centre = min(max(native, min_res), max_res)
    centre = int(round(centre / multiple)) * multiple
    grid = {centre + k * multiple for k in range(-steps, steps + 1)}
    return sorted(r for r in grid if min_res <= r <= max_res)


def phi_grid(max_phi: float, step: float) -> list[float]:
    return [round(i * step, 4) for i in range(int(math.floor(max_phi / step + 1e-9)) + 1)]


def candidates(
    scaling: Scaling,
    native_macs: dict[float, tuple[int, int]],
    min_res: int,
    max_res: int,
    res_steps: int = 3,
    scaling_file: str | None = None,
    multiple: int = 8,
) -> list[Candidate]:
    """Every (φ, resolution) to consider, by MACs; ``native_macs`` is {φ: (grid centre resolution, MACs there)}."""
    out = []
    smallest = min(native_macs, default=0.0)
    for phi, (native, macs) in sorted(native_macs.items()):
        spec = phi_spec(phi, scaling, scaling_file)
        grid = resolution_grid(native, min_res, max_res, res_steps, multiple)
        if phi == smallest and grid:  # below the base, only the resolution can shrink: down to --min-res
            grid = sorted(set(grid) | set(range(-(-min_res // multiple) * multiple, grid[0], multiple)))
        for r in grid:
            out.append(Candidate(spec, phi, r, int(macs * (r / native) ** 2)))
    unique = {c.key: c for c in out}
    return sorted(unique.values(), key=lambda c: c.macs)


@dataclass(frozen=True)
class LatencyModel:
    """p50 ≈ exp(a) · MACs^b, least squares in log-log; one point gives b = 1 (latency proportional to MACs)."""

    a: float
    b: float

    def predict(self, macs: float) -> float:
        return math.exp(self.a + self.b * math.log(macs))

    @staticmethod
    def fit(points: list[Point]) -> LatencyModel | None:
        pts = [(math.log(p.macs), math.log(p.p50_ms)) for p in points if p.macs > 0 and p.p50_ms > 0]
        if not pts:
            return None
        xs = [x for x, _ in pts]
        if len(pts) == 1 or max(xs) - min(xs) < 1e-6:
            b = 1.0
        else:
            mx, my = sum(xs) / len(xs), sum(y for _, y in pts) / len(pts)
            b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x in xs)
            b = min(max(b, 0.3), 2.0)  # a wild slope from two noisy points must not send the search to an extreme
        my = sum(y for _, y in pts) / len(pts)
        mx = sum(xs) / len(xs)
        return LatencyModel(my - b * mx, b)


def bounds(points: list[Point], budget_ms: float) -> tuple[Point | None, float]:
    """The largest measured point within budget, and the fewest MACs of a measured point over budget above it.

    An over-budget point with fewer MACs than one that fits contradicts the monotonic assumption (a noisy timing
    on a busy machine, or a resolution that wastes compute); it must not end the search below the fitting one.
    """
    ok = [p for p in points if p.p50_ms <= budget_ms]
    best = max(ok, key=lambda p: p.macs) if ok else None
    floor = best.macs if best else 0
    over = [p.macs for p in points if p.p50_ms > budget_ms and p.macs > floor]
    return best, min(over) if over else math.inf


def next_candidate(cands: list[Candidate], points: list[Point], budget_ms: float) -> Candidate | None:
    """The next candidate worth measuring, or None when the answer is settled.

    Only candidates with more MACs than the best fitting point and fewer than the smallest failing one can change
    the answer. Among them, the largest the latency model predicts to fit is measured; when none is predicted to
    fit, the smallest (the one most likely to). With no measurement yet, the base itself goes first.
    """
    measured = {p.key for p in points}
    best, ceiling = bounds(points, budget_ms)
    floor = best.macs if best else 0
    if best is not None and floor * (1 + CLOSE_ENOUGH) >= ceiling:
        return None
    pool = [c for c in cands if c.key not in measured and floor < c.macs < ceiling]
    if not pool:
        return None
    model = LatencyModel.fit(points)
    if model is None:
        native = [c for c in pool if c.phi == 0]
        return native[len(native) // 2] if native else pool[0]
    fits = [c for c in pool if model.predict(c.macs) <= budget_ms]
    return fits[-1] if fits else pool[0]
