"""The HTML report renders, embeds its three figures, and carries the full table; markdown twin."""

import base64
import re

from device_bench.bench import EvalOptions, Plan, run_benchmarks
from device_bench.db import ResultsDB
from device_bench.report import pareto, render_html, render_markdown

FAST = dict(warmup=1, runs=5)


def test_report_from_db(tiny, tmp_path):
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
    assert "no accuracy measured yet" not in page and "tiny_keras" in page
    assert "http" not in page.split("<body>")[1]  # self-contained: nothing fetched
    md = render_markdown(rows, path.name)
    assert md.count("\n| tiny_keras |") == 4 and "| p50 ms |" in md


def test_report_without_accuracy_says_how_to_get_it(tiny, tmp_path):
    with ResultsDB(tmp_path / "r.sqlite") as db:
        run_benchmarks([tiny / "torch" / "model.onnx"], Plan(**FAST), db=db, progress=False)
        page = render_html(db.rows(), "r.sqlite")
    assert page.count("data:image/png;base64,") == 3


def test_pareto_front():
    pts = [(10, 70), (5, 60), (20, 80), (12, 65), (5, 55), (30, 79)]
    assert pareto(pts) == [(5, 60), (10, 70), (20, 80)]
