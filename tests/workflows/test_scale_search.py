"""The α/β/γ grid of ``scale search``: the FLOPs constraint, the spread of the points trained, and the latency
constraint against a simulated device (no training here; tests/cli/test_fit_search_cli.py trains)."""

from __future__ import annotations

import pytest

from edgenet.errors import EdgenetError
from edgenet.scaling import compound_scale
from edgenet.workflows.scale_search import SearchPoint, SearchSettings, _latency_points, flops_grid, search, spread

PAPER = SearchPoint(1.2, 1.1, 1.15)


def test_flops_grid_holds_the_paper_and_keeps_the_constraint():
    grid = flops_grid()
    assert PAPER in grid
    assert all(abs(p.flops_factor / 2 - 1) <= 0.05 and min(p.alpha, p.beta, p.gamma) >= 1 for p in grid)
    assert len(grid) > 20


def test_spread_starts_at_the_paper_and_reaches_the_corners():
    pts = spread(flops_grid(), 4, PAPER)
    assert pts[0] == PAPER and len(set(pts)) == 4
    # with room for four trainings, one is depth-heavy, one width-heavy, one resolution-heavy
    assert max(p.alpha for p in pts) >= 1.4 and max(p.beta for p in pts) >= 1.3 and max(p.gamma for p in pts) >= 1.3


def test_latency_constraint_keeps_points_near_twice_the_base(tmp_path):
    calls = []

    def latency_of(spec: str, resolution: int) -> float:  # a device where latency ∝ depth · width² · pixels
        from edgenet.models import get_variant

        calls.append(spec)
        v = get_variant(spec)
        return 10.0 * v.depth_mult * v.width_mult**2 * (resolution / 32) ** 2

    settings = SearchSettings(data=str(tmp_path), img_size=32, candidates=3, constraint="latency")
    extra: dict = {}
    pts = _latency_points(settings, tmp_path, "efficientnet_b0", latency_of, extra, _Silent())
    assert extra["base_latency_ms"] == pytest.approx(10.0) and calls[0] == "efficientnet_b0+phi:0"
    assert 1 <= len(pts) <= 3
    for p in pts:
        assert abs(extra["latency"][p.key] / 20.0 - 1) <= settings.latency_tol
        r = compound_scale(1, p.alpha, p.beta, p.gamma, base_resolution=32).resolution
        assert extra["latency"][p.key] == pytest.approx(10 * p.alpha * p.beta**2 * (r / 32) ** 2, rel=0.05)
    n = len(calls)
    _latency_points(settings, tmp_path, "efficientnet_b0", latency_of, extra, _Silent())
    assert len(calls) == n  # measured once: a resumed search reads them from the state


def test_latency_constraint_needs_a_measurement(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(EdgenetError, match="needs --target"):
        search(SearchSettings(data=str(tmp_path), constraint="latency"), tmp_path / "out")


class _Silent:
    def step(self, message: str) -> None:
        pass
