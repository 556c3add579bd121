"""How far apart two int8 ``.tflite`` files of the same graph are, tensor by tensor, in quantization steps.

Two calibrations that differ only by float rounding (XNNPACK against TFLite's own kernels) give int8 models whose
bytes differ, so "equal" has to be said in the quantizer's own unit: for each tensor, how far its scale and zero
point moved (the shift of its int8 grid, in steps of that grid), how far its stored 8/16-bit integers moved (the
weights: they do not depend on activation ranges) and, for int32 biases, whose scale is the input's times the
weight's, how much their values moved relative to themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TensorShift:
    name: str
    grid_steps: float  # the largest move of any int8 grid point over [qmin, qmax], in steps of the first grid
    max_int_diff: int  # the largest change of a stored 8/16-bit integer (-1: not integer data of one size)
    bias_rel: float = 0.0  # int32 data: the largest change relative to the tensor's largest magnitude


@dataclass
class ModelDiff:
    tensors: int
    identical_bytes: bool
    differing: list[TensorShift] = field(default_factory=list)

    @property
    def max_grid_steps(self) -> float:
        return max((t.grid_steps for t in self.differing), default=0.0)

    @property
    def max_int_diff(self) -> int:
        return max((t.max_int_diff for t in self.differing), default=0)

    @property
    def max_bias_rel(self) -> float:
        return max((t.bias_rel for t in self.differing), default=0.0)


def _tensors(model: bytes):
    from edgenet.artifacts.tflite_model import tflite_schema

    m = tflite_schema().Model.GetRootAsModel(model, 0)
    sg = m.Subgraphs(0)
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        q = t.Quantization()
        scale = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0)
        zp = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        buf = m.Buffers(t.Buffer())
        data = buf.DataAsNumpy() if buf is not None and buf.DataLength() else None
        yield t.Name().decode(), t.Type(), np.asarray(scale, np.float64), np.asarray(zp, np.int64), data


_INT_TYPES = {2: np.int32, 9: np.int8, 3: np.uint8, 7: np.int16, 4: np.int64}  # schema TensorType values


def diff(a: bytes, b: bytes) -> ModelDiff:
    """Tensor-by-tensor distance of two int8 models of one graph (same tensors in the same order)."""
    ta, tb = list(_tensors(a)), list(_tensors(b))
    if [t[0] for t in ta] != [t[0] for t in tb]:
        raise ValueError("the two models have different tensors: not two quantizations of one graph")
    out = ModelDiff(len(ta), a == b)
    for (name, typ, sa, za, da), (_, _, sb, zb, db) in zip(ta, tb, strict=True):
        steps = 0.0
        if len(sa) and len(sa) == len(sb) and (not np.array_equal(sa, sb) or not np.array_equal(za, zb)):
            # grid points q -> s·(q − z): the largest move over the int8 range, in steps of grid a
            q = np.array([-128.0, 127.0])[:, None]
            moved = np.abs(sa * (q - za) - sb * (q - zb)) / np.where(sa > 0, sa, 1.0)
            steps = float(moved.max())
        ints, rel = 0, 0.0
        if da is not None and db is not None and not np.array_equal(da, db):
            dt = _INT_TYPES.get(typ)
            if dt is None or len(da) != len(db):
                ints = -1  # float or differently sized data: not a requantization of the same values
            else:
                va, vb = da.view(dt).astype(np.int64), db.view(dt).astype(np.int64)
                if dt in (np.int32, np.int64):
                    rel = float(np.abs(va - vb).max() / max(int(np.abs(va).max()), 1))
                else:
                    ints = int(np.abs(va - vb).max())
        if steps or ints or rel:
            out.differing.append(TensorShift(name, round(steps, 6), ints, rel))
    return out
