"""``edgenet report``: one self-contained HTML page (figures embedded as PNG data URIs) and a markdown twin.

Figures: top-1 against latency for every model/format/machine with the Pareto front (the view of EfficientNet's
Figure 1, measured on your devices), latency by thread count, and file size by format; then the full table."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from datetime import datetime, timezone

from edgenet import __version__

COLUMNS = [
    ("model", "model"),
    ("precision", "precision"),
    ("model_format", "format"),
    ("backend", "backend"),
    ("delegate", "delegate"),
    ("device", "device"),
    ("machine", "machine"),
    ("target", "target"),
    ("threads", "threads"),
    ("batch", "batch"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("mean_ms", "mean ms"),
    ("std_ms", "std ms"),
    ("min_ms", "min ms"),
    ("throughput_per_s", "items/s"),
    ("load_ms", "load ms"),
    ("first_inference_ms", "first ms"),
    ("peak_rss_mb", "peak RSS MB"),
    ("model_bytes", "size MB"),
    ("top1", "top-1 %"),
    ("top5", "top-5 %"),
    ("eval_samples", "eval n"),
    ("runs", "runs"),
    ("repeats", "rows"),
    ("created_at", "measured"),
]


def short(name: str) -> str:
    return name.removeprefix("efficientnet_")


def label(row: dict) -> str:
    return f"{short(row['model'])} {row['precision']}"


def latency(row: dict) -> float | None:
    """The figure of merit: p50 (MLPerf single-stream median), the mean where only a mean exists (adb)."""
    return row["p50_ms"] if row.get("p50_ms") is not None else row.get("mean_ms")


def _cell(key: str, v) -> str:
    if v is None:
        return "–"
    if key == "model_bytes":
        return f"{v / 1e6:.2f}"
    if key == "model":
        return short(v)
    if isinstance(v, float):
        return f"{v:.1f}" if key in ("top1", "top5", "load_ms", "throughput_per_s", "peak_rss_mb") else f"{v:.2f}"
    return str(v)


def _series_key(r: dict) -> tuple:
    return (r["machine"], r["backend"], r["delegate"], r["device"])


def _series_name(key: tuple) -> str:
    _, backend, delegate, device = key
    extra = f"/{delegate}" if delegate not in ("none",) else ""
    return f"{backend}{extra} · {device}"


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by a faster-and-at-least-as-accurate one, sorted by latency."""
    front, best = [], float("-inf")
    for lat, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((lat, acc))
            best = acc
    return front


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#666", wrap=True, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def fig_accuracy_latency(rows: list[dict]) -> str:
    """Top-1 vs p50 latency, one panel per machine, one marker per backend; best thread count, batch 1."""
    import matplotlib.pyplot as plt

    best: dict[tuple, dict] = {}
    for r in rows:
        if r.get("top1") is None or r["batch"] != 1 or latency(r) is None:
            continue
        k = (*_series_key(r), r["model_sha256"], r["precision"])
        if k not in best or latency(r) < latency(best[k]):
            best[k] = r
    machines = sorted({k[0] for k in best}) or ["-"]
    fig, axes = plt.subplots(1, len(machines), figsize=(6.4 * len(machines), 4.6), squeeze=False)
    if not best:
        _empty(axes[0][0], "no accuracy measured yet:\nrun edgenet bench … --eval-data DIR --db FILE")
        axes[0][0].set_title("Top-1 vs latency")
        return _png(fig)
    markers = "osD^v<>P*X"
    for ax, machine in zip(axes[0], machines):
        pts = [r for k, r in best.items() if k[0] == machine]
        series = sorted({_series_key(r) for r in pts})
        for i, s in enumerate(series):
            sel = [r for r in pts if _series_key(r) == s]
            ax.scatter(
                [latency(r) for r in sel],
                [r["top1"] for r in sel],
                marker=markers[i % len(markers)],
                s=46,
                label=_series_name(s),
                zorder=3,
            )
            for r in sel:
                ax.annotate(label(r), (latency(r), r["top1"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
        front = pareto([(latency(r), r["top1"]) for r in pts])
        ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="#999", lw=1, zorder=2, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("p50 latency per image, ms (log)")
        ax.set_ylabel("top-1 %")
        ax.set_title(machine, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Top-1 accuracy vs latency (best thread count, batch 1)")
    return _png(fig)


def fig_threads(rows: list[dict]) -> str:
    """p50 latency against thread count, one line per model/format/backend, one panel per machine."""
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["batch"] == 1 and latency(r) is not None and r["device"] == "cpu"]
    machines = sorted({r["machine"] for r in sel}) or ["-"]
    fig, axes = plt.subplots(1, len(machines), figsize=(6.4 * len(machines), 4.6), squeeze=False)
    if not sel:
        _empty(axes[0][0], "no CPU results yet")
        return _png(fig)
    for ax, machine in zip(axes[0], machines):
        lines: dict[tuple, list[dict]] = defaultdict(list)
        for r in sel:
            if r["machine"] == machine:
                lines[(r["model"], r["precision"], r["backend"], r["delegate"])].append(r)
        for (model, prec, backend, delegate), rs in sorted(lines.items()):
            rs.sort(key=lambda r: r["threads"])
            name = f"{short(model)} {prec} · {backend}" + (f"/{delegate}" if delegate != "none" else "")
            ax.plot([r["threads"] for r in rs], [latency(r) for r in rs], "o-", ms=4, label=name)
        threads = sorted({r["threads"] for r in sel if r["machine"] == machine})
        ax.set_xticks(threads)
        ax.set_yscale("log")
        ax.set_xlabel("threads")
        ax.set_ylabel("p50 latency, ms (log)")
        ax.set_title(machine, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2 if len(lines) > 8 else 1)
    fig.suptitle("Latency by thread count (batch 1)")
    return _png(fig)


def fig_sizes(rows: list[dict]) -> str:
    """File size of every artefact, grouped by model, one bar per format."""
    import matplotlib.pyplot as plt

    files = {}
    for r in rows:
        files[r["model_sha256"]] = (short(r["model"]), f"{r['model_format']} {r['precision']}", r["model_bytes"])
    models = sorted({m for m, _, _ in files.values()})
    formats = sorted({f for _, f, _ in files.values()})
    fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(models) * max(1, len(formats)) / 2), 4.2))
    if not files:
        _empty(ax, "no results yet")
        return _png(fig)
    width = 0.8 / max(1, len(formats))
    for j, f in enumerate(formats):
        xs, ys = [], []
        for i, m in enumerate(models):
            sizes = [b for mm, ff, b in files.values() if mm == m and ff == f]
            if sizes:
                xs.append(i + (j - (len(formats) - 1) / 2) * width)
                ys.append(max(sizes) / 1e6)
        bars = ax.bar(xs, ys, width, label=f)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(models)), models)
    ax.set_ylabel("file size, MB")
    ax.set_title("Size by format")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return _png(fig)


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(
        rows,
        key=lambda r: (r["machine"], r["model"], r["precision"], r["backend"], r["delegate"], r["threads"], r["batch"]),
    )


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px 32px;color:#1d1d1f;max-width:1500px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:12.5px} figure{margin:8px 0 18px} figure img{max-width:100%;height:auto;
border:1px solid #eee} figcaption{color:#555;font-size:12.5px;margin-top:4px}
.tablewrap{overflow-x:auto} table{border-collapse:collapse;font-size:12px;white-space:nowrap}
th,td{padding:3px 7px;border-bottom:1px solid #eee;text-align:right} th{background:#f5f5f7;position:sticky;top:0}
td.t,th.t{text-align:left} tr:hover td{background:#fafafa}
"""
TEXT_COLS = {"model", "precision", "model_format", "backend", "delegate", "device", "machine", "target", "created_at"}


def render_html(rows: list[dict], source: str) -> str:
    """The page: three figures and the full table (latest row per model and configuration)."""
    rows = _sorted(rows)
    machines = sorted({r["machine"] for r in rows})
    figs = [
        (
            "Top-1 vs latency",
            fig_accuracy_latency(rows),
            "Each point is one model file on one backend at its fastest thread count (batch 1); the dashed line is "
            "the Pareto front — nothing on it is beaten by a faster and at least as accurate point.",
        ),
        ("Latency by thread count", fig_threads(rows), "p50 latency per inference (batch 1) on CPUs."),
        ("Size by format", fig_sizes(rows), "Bytes of each model file, by format and precision."),
    ]
    head = "".join(f'<th class="{"t" if k in TEXT_COLS else ""}">{html.escape(h)}</th>' for k, h in COLUMNS)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="{"t" if k in TEXT_COLS else ""}">{html.escape(_cell(k, r.get(k)))}</td>' for k, _ in COLUMNS
        )
        + "</tr>"
        for r in rows
    )
    fig_html = "\n".join(
        f'<h2>{html.escape(t)}</h2><figure><img alt="{html.escape(t)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        for t, b64, cap in figs
    )
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>edgenet device benchmarks</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<h1>edgenet device benchmarks</h1>
<p class="meta">{len(rows)} configurations · {len(machines)} machine(s): {html.escape(", ".join(machines))}<br>
from {html.escape(source)} · generated {now} by edgenet {__version__}</p>
{fig_html}
<h2>All results</h2>
<p class="meta">Latest measurement of each model file × configuration; latencies per inference (per batch when
batch &gt; 1) in ms; “rows” counts how many times it was measured.</p>
<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></div>
</body></html>
"""


def render_markdown(rows: list[dict], source: str) -> str:
    rows = _sorted(rows)
    cols = [c for c in COLUMNS if c[0] not in ("target", "created_at", "repeats", "std_ms", "min_ms")]
    lines = [
        "# edgenet device benchmarks",
        "",
        f"{len(rows)} configurations from `{source}` (latest measurement of each); latencies in ms per inference.",
        "",
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---" if k in TEXT_COLS else "---:" for k, _ in cols) + "|",
    ]
    lines += ["| " + " | ".join(_cell(k, r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
