"""The HTML report renders, embeds its three figures, and carries the full table; markdown twin."""

import base64
import re

import pytest
from edgenet.device_bench.bench import EvalOptions, Plan, run_benchmarks
from edgenet.device_bench.db import ResultsDB
from edgenet.device_bench.report import pareto, render_html, render_markdown

FAST = dict(warmup=1, runs=5)


HINT = "no accuracy measured yet:\nrun edgenet bench … --eval-data DIR --db FILE"


@pytest.fixture
def drawn(monkeypatch) -> list[list[str]]:
    """Every text drawn into each figure the report embeds, in order.

    The figures reach the page as PNGs, so the HTML cannot show what they say; this reads their text artists as
    they are rendered.
    """
    import edgenet.device_bench.report as report
    from matplotlib.text import Text

    figures: list[list[str]] = []
    real = report._png

    def spy(fig) -> str:
        figures.append([t.get_text() for t in fig.findobj(Text) if t.get_text()])
        return real(fig)

    monkeypatch.setattr(report, "_png", spy)
    return figures


def test_report_from_db(tiny, tmp_path, drawn):
    path = tmp_path / "r.sqlite"
    models = [tiny / "tflite" / "model_fp32.tflite", tiny / "tflite" / "model_int8.tflite"]
    with ResultsDB(path) as db:
        run_benchmarks(
            models, Plan(threads=(1, 2), **FAST), eval_opts=EvalOptions(tiny / "eval", limit=3), db=db, progress=False
        )
        rows = db.rows()
    page = render_html(rows, path.name)
    imgs = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in imgs] == ["Top-1 vs latency", "Latency by thread count", "Size by format"]
    for _, b64 in imgs:
        png = base64.b64decode(b64)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert page.count("<tr>") == 1 + 4  # header + 4 configurations
    assert "tiny_keras" in page
    assert len(drawn) == 3 and HINT not in drawn[0]  # accuracy measured: the scatter, not the hint
    assert "top-1 %" in drawn[0] and "Pareto front" in drawn[0]
    assert "http" not in page.split("<body>")[1]  # self-contained: nothing fetched
    md = render_markdown(rows, path.name)
    assert md.count("\n| tiny_keras |") == 4 and "| p50 ms |" in md


def test_report_without_accuracy_says_how_to_get_it(tiny, tmp_path, drawn):
    with ResultsDB(tmp_path / "r.sqlite") as db:
        run_benchmarks([tiny / "torch" / "model.onnx"], Plan(**FAST), db=db, progress=False)
        page = render_html(db.rows(), "r.sqlite")
    assert page.count("data:image/png;base64,") == 3
    assert drawn[0] == [HINT, "Top-1 vs latency"]  # the first figure says how to measure accuracy, and only that


def test_pareto_front():
    pts = [(10, 70), (5, 60), (20, 80), (12, 65), (5, 55), (30, 79)]
    assert pareto(pts) == [(5, 60), (10, 70), (20, 80)]


def test_adb_rows_without_percentiles_render(tiny, tmp_path):
    """benchmark_model reports a mean but no percentiles: the row keeps p50 empty and plots at the mean."""
    from edgenet.device_bench.bench import make_result
    from edgenet.device_bench.modelinfo import inspect_model
    from edgenet.device_bench.results import BenchConfig

    info = inspect_model(tiny / "tflite" / "model_int8.tflite")
    raw = {
        "latency_summary": {"mean": 55.04, "std": 1.56, "min": 53.08, "max": 60.73},
        "runs": 50,
        "load_ms": 18.8,
        "first_inference_ms": 64.8,
        "peak_rss_mb": 18.7,
        "backend_version": "benchmark_model",
        "env": {"cpu_model": "Google Pixel 7 Tensor G2", "hostname": "R58M"},
    }
    r = make_result(info, BenchConfig("tflite", threads=4, delegate="xnnpack", precision="int8"), "adb://R58M", raw)
    assert r.latency_ms.p50 is None and r.latency_ms.mean == 55.04 and r.runs == 50 and r.latencies_ms == []
    assert r.machine == "Google Pixel 7 Tensor G2" and r.throughput_per_s == pytest.approx(1000 / 55.04)
    with ResultsDB(tmp_path / "r.sqlite") as db:
        db.add_result(db.start_run("adb"), r)
        rows = db.rows()
    page = render_html(rows, "r.sqlite")
    assert page.count("data:image/png;base64,") == 3 and "Google Pixel 7 Tensor G2" in page
    assert "| 55.04 |" in render_markdown(rows, "r.sqlite")


def test_accuracy_plot_keeps_coinciding_points_apart_and_plain_ticks(monkeypatch):
    """Issue 13: ONNX Runtime's point hid under TFLite's, two identical "lite0 fp32" labels stacked, and the log
    axis read 10⁰ / 10¹."""
    import edgenet.device_bench.report as report

    figs = []
    monkeypatch.setattr(report, "_png", lambda fig: figs.append(fig) or "")
    base = dict(batch=1, machine="box", device="cpu", model_sha256="a" * 64, model="efficientnet_lite0", top1=75.0)
    rows = [
        {**base, "backend": "tflite", "delegate": "xnnpack", "precision": "fp32", "p50_ms": 4.0},
        {**base, "backend": "onnxruntime", "delegate": "none", "precision": "fp32", "p50_ms": 4.0},
        {**base, "backend": "tflite", "delegate": "xnnpack", "precision": "int8", "p50_ms": 2.5, "top1": 74.0},
    ]
    report.fig_accuracy_latency(rows)
    ax = figs[0].axes[0]
    points = [c for c in ax.collections if len(c.get_offsets())]
    assert len(points) == 2 and all(len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0 for c in points)
    assert points[0].get_sizes()[0] > points[1].get_sizes()[0]  # the later series is drawn smaller, on top
    labels = [t.get_text() for t in ax.texts]
    assert sorted(labels) == ["lite0 fp32", "lite0 int8"]
    figs[0].canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(ticks) >= 2 and all(float(t) > 0 for t in ticks), ticks  # plain numbers, never 10⁰ / 10¹
    rows.append({**base, "backend": "tflite", "delegate": "xnnpack", "precision": "fp16", "p50_ms": 40.0})
    report.fig_accuracy_latency(rows)
    figs[1].canvas.draw()
    ticks = [t.get_text() for t in figs[1].axes[0].get_xticklabels() if t.get_text()]
    assert {"5", "10", "20"} <= set(ticks), ticks
