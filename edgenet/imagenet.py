"""ImageNet-1k's class names, so that pretrained models carry labels the way a checkpoint does.

``imagenet1k.tsv`` lists the 1,000 classes in the standard index order (the sorted WordNet IDs of ILSVRC-2012),
each with torchvision's unique human-readable name. Models take the names (labels.txt, predictions, app bundles
show "tabby", not "n02123045"); image folders laid out the ImageNet way, one WordNet-ID folder per class, are
still read, the IDs standing in for the names.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path


@cache
def _table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    rows = [line.split("\t") for line in (Path(__file__).with_name("imagenet1k.tsv")).read_text("utf-8").splitlines()]
    return tuple(w for w, _ in rows), tuple(n for _, n in rows)


def imagenet_classes() -> list[str]:
    """The 1,000 class names in index order."""
    return list(_table()[1])


def folder_aliases(classes: Sequence[str] | None) -> dict[str, str]:
    """WordNet-ID folder name → class name, when ``classes`` are ImageNet-1k's; else nothing."""
    wnids, names = _table()
    if classes is None or tuple(classes) != names:
        return {}
    return dict(zip(wnids, names))
