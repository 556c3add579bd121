"""The side files ``edgenet convert`` writes beside its artefacts: ``report.json`` and ``labels.txt``.

Every tool that takes a model file (eval, bench, bundle, edgetpu, predict) finds the model's preprocessing and class
names here, so one reader decides the encoding (UTF-8, a BOM tolerated), what a bad file says, and which labels
are acceptable (no blank-only file, no duplicates: two outputs with one name cannot be told apart in an app).
"""

from __future__ import annotations

import json
from pathlib import Path

from edgenet.errors import EdgenetError
from edgenet.preprocess import Preprocess

REPORT_FILE = "report.json"
LABELS_FILE = "labels.txt"


def read_report(model_path: str | Path) -> dict:
    """``report.json`` beside ``model_path`` as a dict; ``{}`` when there is none."""
    path = Path(model_path).parent / REPORT_FILE
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EdgenetError(f"{path}: not a valid conversion report ({e}); convert again or delete it") from None
    if not isinstance(report, dict):
        raise EdgenetError(f"{path}: not a conversion report (a JSON object); run edgenet convert again or delete it")
    return report


def report_preprocess(report: dict, model_path: str | Path) -> Preprocess | None:
    """The preprocessing a report records (None when it records none)."""
    if not isinstance(report.get("preprocess"), dict):
        return None
    try:
        return Preprocess.from_dict(report["preprocess"])
    except (KeyError, TypeError, ValueError, EdgenetError) as e:
        where = Path(model_path).parent / REPORT_FILE
        raise EdgenetError(f"{where}: bad 'preprocess' entry ({e}); run edgenet convert again") from None


def read_labels(path: str | Path) -> list[str]:
    """One class name per line (blank lines ignored); a binary, empty or duplicated list is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise EdgenetError(f"{path}: labels file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise EdgenetError(f"{path}: not a UTF-8 text file; give one class name per line") from None
    if "\x00" in text:
        raise EdgenetError(f"{path}: binary data, not a labels file; give one class name per line")
    labels = [x.strip() for x in text.splitlines() if x.strip()]
    if not labels:
        raise EdgenetError(f"{path}: no labels in the file (one class name per line)")
    seen: set[str] = set()
    dups = [x for x in labels if x in seen or seen.add(x)]
    if dups:
        names = ", ".join(sorted(set(dups))[:5])
        raise EdgenetError(f"{path}: duplicate class name(s) {names}; each output needs a name of its own")
    return labels


def labels_beside(model_path: str | Path) -> list[str] | None:
    """``labels.txt`` beside ``model_path``, or None."""
    path = Path(model_path).parent / LABELS_FILE
    return read_labels(path) if path.is_file() else None


def sidecars(model_path: str | Path) -> tuple[dict, list[str] | None]:
    """(report, labels) of a converted model: the report's classes, else labels.txt beside it."""
    report = read_report(model_path)
    classes = report.get("classes")
    labels = list(classes) if isinstance(classes, list) and classes else labels_beside(model_path)
    return report, labels
