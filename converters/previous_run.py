"""What an earlier ``edgenet convert`` left in ``--out``, read from its report.json: the only files a new conversion
may replace or remove there.

A name alone proves nothing: a user's own ``model_int8.tflite`` in a folder without an edgenet report is theirs,
and replacing it is data loss. So a re-run replaces exactly the files the earlier report lists, refuses to write
over any other file, and says what it replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from edgenet.artifacts.sidecar import LABELS_FILE, REPORT_FILE
from edgenet.errors import EdgenetError


def files_of_earlier_run(out: Path) -> set[str]:
    """The file names the edgenet report.json in ``out`` says its conversion wrote; empty when there is none (or it
    is not one edgenet wrote: then report.json itself is the user's)."""
    import json

    path = out / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):  # absent, unreadable or not JSON: nothing in out is provably ours
        return set()
    artifacts = report.get("artifacts") if isinstance(report, dict) else None
    if not isinstance(report, dict) or "edgenet_version" not in report or not isinstance(artifacts, list):
        return set()
    names = {REPORT_FILE}
    names |= {a["file"] for a in artifacts if isinstance(a, dict) and isinstance(a.get("file"), str)}
    if report.get("onnx"):
        names.add("model.onnx")
    if report.get("classes"):
        names.add(LABELS_FILE)
    edgetpu = report.get("edgetpu")
    if isinstance(edgetpu, dict) and isinstance(edgetpu.get("file"), str):  # the compiled model and its log
        compiled = Path(edgetpu["file"]).name
        names |= {compiled, str(Path(compiled).with_suffix(".log"))}
    return {n for n in names if n and "/" not in n and n not in (".", "..")}


def refuse_foreign_files(out: Path, names: Iterable[str], earlier: set[str]) -> None:
    """Refuse a conversion that would write over files in ``out`` no earlier edgenet report lists (the user's)."""
    if not out.is_dir():
        return
    foreign = sorted(n for n in set(names) if (out / n).exists() and n not in earlier)
    if foreign:
        raise EdgenetError(
            f"--out {out} holds {', '.join(foreign)}, which no edgenet report.json there lists (your own files?): "
            "converting would replace them; move them away or choose another --out"
        )


def replaced_note(out: Path, produced: Iterable[str], earlier: set[str]) -> str | None:
    """One line saying which files of the earlier conversion the new one replaced and which it removed."""
    present = {n for n in earlier if (out / n).exists()}
    replaced, removed = sorted(present & set(produced)), sorted(present - set(produced))
    if not replaced and not removed:
        return None
    parts = [f"replaced {', '.join(replaced)}"] if replaced else []
    if removed:
        parts.append(f"removed {', '.join(removed)} (not rebuilt this time)")
    return f"{out}: an earlier conversion was there: " + "; ".join(parts)


def refuse_before(out: Path, names: Iterable[str]) -> None:
    """Before any work: refuse if ``names`` would write over files no earlier edgenet report in ``out`` lists."""
    refuse_foreign_files(out, names, files_of_earlier_run(out))


def settle(out: Path, stage: Path) -> tuple[set[str], str | None]:
    """At publishing: checked again against what ``stage`` holds (``out`` may have changed meanwhile); returns the
    earlier run's files (``publish_dir``'s ``owned``: replaced or dropped) and the line saying which."""
    earlier, produced = files_of_earlier_run(out), {p.name for p in stage.iterdir()} | {REPORT_FILE}
    refuse_foreign_files(out, produced, earlier)
    return earlier, replaced_note(out, produced, earlier)
