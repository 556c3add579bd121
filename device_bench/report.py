"""``edgenet report``: one self-contained HTML page (figures embedded as PNG data URIs) and a markdown twin.

Figures: top-1 against latency for every model/format/machine with the Pareto front (the view of EfficientNet's
Figure 1, measured on your devices), latency by thread count, and file size by format; then the full table."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from datetime import datetime, timezone

from edgenet.device_bench.results import delegate_missing
from edgenet.device_bench.stats import UNSTABLE_RULE

from edgenet import __version__


def _num(v, digits: int = 2) -> str:
    """Fixed decimals, three significant digits below 1 (so a 20 µs model does not read 0.02 everywhere)."""
    if v is None:
        return "–"
    return f"{v:.3g}" if 0 < abs(v) < 1 else f"{v:.{digits}f}"


def _runtime(r: dict) -> str:
    name = r["backend"] + (f"/{r['delegate']}" if r["delegate"] != "none" else "")
    return name + (f" · {r['device']}" if r["device"] != "cpu" else "")


def delegate_cell(r: dict) -> str:
    """What ran: the delegate the runtime reports, flagged where the one asked for did not apply."""
    ran = r.get("delegate_ran")
    if ran is None:
        return "not recorded"
    if delegate_missing(r["delegate"], ran):
        return f"{ran} (! {r['delegate']} not applied)"
    return ran


# (header, cell text, is text) — the full table, one row per model file × configuration
COLUMNS = [
    ("model", lambda r: short(r["model"]), True),
    ("artefact", lambda r: f"{r['model_format']} {r['precision']}", True),
    ("runtime", _runtime, True),
    ("ran", delegate_cell, True),
    ("interpreter", lambda r: r.get("interpreter") or "–", True),
    ("machine", lambda r: r["machine"], True),
    ("target", lambda r: r["target"], True),
    ("threads", lambda r: str(r["threads"]), False),
    ("batch", lambda r: str(r["batch"]), False),
    ("p50 ms", lambda r: _num(r["p50_ms"]), False),
    ("p90 ms", lambda r: _num(r["p90_ms"]), False),
    ("p99 ms", lambda r: _num(r["p99_ms"]), False),
    ("mean ms", lambda r: _num(r["mean_ms"]), False),
    ("std ms", lambda r: _num(r["std_ms"]), False),
    ("items/s", lambda r: _num(r["throughput_per_s"], 1), False),
    ("load ms", lambda r: _num(r["load_ms"], 1), False),
    ("first ms", lambda r: _num(r["first_inference_ms"]), False),
    ("peak RSS MB", lambda r: _num(r["peak_rss_mb"], 0), False),
    ("size MB", lambda r: _num(r["model_bytes"] / 1e6), False),
    ("top-1 %", lambda r: _num(r["top1"], 1), False),
    ("top-k %", lambda r: _topk(r), False),
    ("eval n", lambda r: "–" if r["eval_samples"] is None else str(r["eval_samples"]), False),
    ("runs", lambda r: str(r["runs"]), False),
    ("stable", lambda r: "no" if r.get("unstable") else "yes", False),
    ("rows", lambda r: str(r.get("repeats", 1)), False),
    ("measured", lambda r: r["created_at"][:16].replace("T", " "), True),
]
MARKDOWN_SKIP = {"target", "std ms", "eval n", "rows", "measured"}


def _topk(r: dict) -> str:
    """Top-k in percent with its k: with fewer than five classes, "top-5" is always 100 %."""
    if r.get("top5") is None:
        return "–"
    return f"{_num(r['top5'], 1)} (top-{r['top5_k']})" if r.get("top5_k") else _num(r["top5"], 1)


def short(name: str) -> str:
    return name.removeprefix("efficientnet_")


def label(row: dict) -> str:
    return f"{short(row['model'])} {row['precision']}"


def latency(row: dict) -> float | None:
    """The figure of merit: p50 (MLPerf single-stream median), the mean where only a mean exists (adb)."""
    return row["p50_ms"] if row.get("p50_ms") is not None else row.get("mean_ms")


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


def place_labels(ax, points: list[tuple[float, float, str]]) -> None:
    """Annotate points without overlapping labels: each label takes the first of a few offsets whose box (in
    display pixels) misses every label already placed. Points that coincide (the same model file on two runtimes
    at one latency) with the same text get one label, not a stack of identical ones."""
    fig = ax.figure
    fig.canvas.draw()
    to_px = ax.transData.transform
    placed: list[tuple[float, float, float, float]] = []
    anchors: list[tuple[float, float, str]] = []
    offsets = [(5, 4), (5, -11), (-8, 4), (-8, -11), (5, 15), (5, -22), (-8, 15), (-8, -22), (5, 26), (5, -33)]
    for x, y, text in sorted(points, key=lambda p: (p[0], p[1])):
        px, py = to_px((x, y))
        if any(t == text and abs(px - ax_) < 12 and abs(py - ay) < 12 for ax_, ay, t in anchors):
            continue
        anchors.append((px, py, text))
        w, h = 5.6 * len(text) * fig.dpi / 100, 10 * fig.dpi / 100
        for dx, dy in offsets:
            ox, oy = dx * fig.dpi / 72, dy * fig.dpi / 72
            left = px + ox if dx > 0 else px + ox - w
            box = (left, py + oy, left + w, py + oy + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        placed.append(box)
        ax.annotate(
            text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=8, ha="left" if dx > 0 else "right"
        )


def plain_log_ticks(axis) -> None:
    """Log-axis ticks that read 1, 2, 5, 10, 20 ms, not 10⁰ and 10¹ (with only one decade in view, matplotlib's
    default leaves two such labels and nothing between them)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


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
            colour = f"C{i % 10}"
            ax.scatter(  # hollow, distinct shapes, larger first: a point on top of another leaves both visible
                [latency(r) for r in sel],
                [r["top1"] for r in sel],
                marker=markers[i % len(markers)],
                s=max(30, 90 - 18 * i),
                facecolors="none",
                edgecolors=colour,
                linewidths=1.6,
                label=_series_name(s),
                zorder=3 + i,
            )
        front = pareto([(latency(r), r["top1"]) for r in pts])
        ax.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            "--",
            color="#999",
            lw=1,
            zorder=2,
            drawstyle="steps-post",
            label="Pareto front",
        )
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.margins(x=0.12, y=0.12)
        ax.set_xlabel("p50 latency per image, ms (log)")
        ax.set_ylabel("top-1 %")
        ax.set_title(machine, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        place_labels(
            ax, [(latency(r), r["top1"], label(r) + (" (unstable)" if r.get("unstable") else "")) for r in pts]
        )
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
        plain_log_ticks(ax.yaxis)
        ax.set_xlabel("threads")
        ax.set_ylabel("p50 latency, ms (log)")
        ax.set_title(machine, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
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
        ax.bar_label(bars, labels=[f"{y:.1f}" if y >= 1 else f"{y:.2g}" for y in ys], fontsize=7)
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
    head = "".join(f'<th class="{"t" if text else ""}">{html.escape(h)}</th>' for h, _, text in COLUMNS)
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="{"t" if text else ""}">{html.escape(cell(r))}</td>' for _, cell, text in COLUMNS)
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
batch &gt; 1) in ms; “rows” counts how many times it was measured; “top-k” names its k (min(5, classes)); “stable”
is no where {html.escape(UNSTABLE_RULE)}: another job or throttling, to measure again on an idle machine.</p>
{_missing_note(rows, True)}<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></div>
</body></html>
"""


def render_markdown(rows: list[dict], source: str) -> str:
    rows = _sorted(rows)
    cols = [c for c in COLUMNS if c[0] not in MARKDOWN_SKIP]
    lines = [
        "# edgenet device benchmarks",
        "",
        f"{len(rows)} configurations from `{source}` (latest measurement of each); latencies in ms per inference.",
        "",
        "| " + " | ".join(h for h, _, _ in cols) + " |",
        "|" + "|".join("---" if text else "---:" for _, _, text in cols) + "|",
    ]
    lines += ["| " + " | ".join(cell(r) for _, cell, _ in cols) + " |" for r in rows]
    note = _missing_note(rows, False)
    return "\n".join(lines) + ("\n\n" + note if note else "") + "\n"


def _missing_note(rows: list[dict], as_html: bool) -> str:
    """A warning above the table when any row's requested delegate did not run (its latency is not that runtime's)."""
    bad = [r for r in rows if delegate_missing(r["delegate"], r.get("delegate_ran"))]
    if not bad:
        return ""
    text = (
        f"{len(bad)} configuration(s) asked for a delegate that did not apply (“ran” says what did, as the "
        "interpreter reported it): their latency is that of the builtin kernels, e.g. "
        f"{short(bad[0]['model'])} {bad[0]['precision']} on {bad[0]['machine']} with {bad[0].get('interpreter')}."
    )
    return f'<p class="meta"><b>{html.escape(text)}</b></p>\n' if as_html else text
