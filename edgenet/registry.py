"""A named registry: artefact kinds (``edgenet.converters.kinds``), quantizers (``edgenet.quantization.quantizers``)
and runtimes (``edgenet.runtimes``) are entries, so adding one is one ``register`` call and every lookup of an
unknown name fails the same way."""

from __future__ import annotations

from typing import Generic, TypeVar

from edgenet.errors import EdgenetError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    """``name -> entry`` (entries carry their own ``name``); ``what`` names the thing in errors (``--quantizer``)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def register(self, entry: T) -> T:
        self[entry.name] = entry
        return entry

    def get_entry(self, name: str) -> T:
        if name not in self:
            raise EdgenetError(f"{self.what} {name}: unknown; choose one of {', '.join(self)}")
        return self[name]
