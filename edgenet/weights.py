"""Import pretrained state dicts saved from torchvision, timm or efficientnet_pytorch (local files only; nothing is
downloaded here).

The peers name the same tensors differently; each format is a small function mapping an edgenet key to the
peer's key, derived from edgenet's own module structure (so it covers every variant and any depth). Loading is
strict: a missing, unexpected or mis-shaped tensor is reported by name, never silently skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from edgenet.errors import EdgenetError
from edgenet.models import EfficientNet

# "lukemelas": lukemelas' efficientnet_pytorch (B0–B8) and its efficientnet_lite_pytorch fork (Lite0–4), the most used
# PyTorch EfficientNet before timm/torchvision had one; both are ports of the TF checkpoints.
FORMATS = ("torchvision", "timm", "timm-tf", "lukemelas")


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read ``.safetensors`` or a torch file (weights only: no code from the file is executed)."""
    path = Path(path)
    if not path.is_file():
        raise EdgenetError(f"{path}: weight file not found; pass a local .pth/.pt/.safetensors file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or not a weight file at all
        raise EdgenetError(f"{path}: not a readable state dict ({load_failure(e)})") from None
    if isinstance(sd, Mapping):
        for key in ("state_dict", "model", "model_state"):  # common training-checkpoint wrappers
            if key in sd and isinstance(sd[key], Mapping):
                sd = sd[key]
                break
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise EdgenetError(f"{path}: does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_failure(e: Exception) -> str:
    """Why ``torch.load`` failed, in one whole sentence: torch's own messages run to many lines, and the refusal of a
    pickle (code that loading would run) is a paragraph that cannot be cut short without losing its point."""
    import pickle

    text = str(e)
    if isinstance(e, pickle.UnpicklingError) and "weights only" in text.lower():
        return (
            "it holds Python objects besides tensors, which edgenet refuses to unpickle because loading them could "
            "run code; re-save only the tensors: torch.save(model.state_dict(), FILE)"
        )
    first = text.splitlines()[0].strip() if text.strip() else type(e).__name__
    return first if len(first) <= 160 else first[:160].rsplit(" ", 1)[0] + " …"


def refuse_non_finite(sd: Mapping[str, torch.Tensor], source: str) -> None:
    """Weights holding NaN or Inf make every output NaN (``predict`` then prints ``nan%``, ``eval`` a top-5 below its
    top-1): refuse them at load time, naming the tensors."""
    bad = [k for k, v in sd.items() if torch.is_floating_point(v) and not bool(torch.isfinite(v).all())]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise EdgenetError(
            f"{source}: {len(bad)} tensor(s) hold NaN or Inf: {', '.join(bad[:3])}{more}; the weights are damaged "
            "(a diverged training run or a bad export): use an earlier checkpoint"
        )


def detect_format(sd: Mapping[str, torch.Tensor], path: str | Path | None = None) -> str:
    """Each peer names its stem differently, so one key tells them apart; timm's TF ports (same keys as its own
    weights, other padding) only by the file name (``tf_*``)."""
    if "features.0.0.weight" in sd:
        return "torchvision"
    if "conv_stem.weight" in sd:
        return "timm-tf" if path is not None and Path(path).name.startswith("tf_") else "timm"
    if "_conv_stem.weight" in sd:
        return "lukemelas"
    if "stem.conv.weight" in sd:
        return "edgenet"
    raise EdgenetError(
        f"{path or 'state dict'}: unrecognised weight layout (first keys: {list(sd)[:3]}); "
        f"expected a torchvision, timm or efficientnet_pytorch EfficientNet state dict"
    )


def config_for_format(fmt: str) -> dict:
    """Model options under which a format's weights reproduce the peer's outputs."""
    if fmt in ("torchvision", "timm"):
        return {"bn_eps": 1e-5, "same_padding": False}
    if fmt in ("timm-tf", "lukemelas"):  # TF ports: TF's batch-norm epsilon and "SAME" padding
        return {"bn_eps": 1e-3, "same_padding": True}
    return {}


_BLOCK = re.compile(r"^stages\.(\d+)\.(\d+)\.(\w+)\.(.+)$")
_CONV_BN = {"conv": "0", "bn": "1"}


def _torchvision_key(key: str, model: EfficientNet) -> str:
    if key.startswith("stem."):
        part, rest = key[5:].split(".", 1)
        return f"features.0.{_CONV_BN[part]}.{rest}"
    if key.startswith("head."):
        part, rest = key[5:].split(".", 1)
        return f"features.{len(model.stages) + 1}.{_CONV_BN[part]}.{rest}"
    if key.startswith("classifier."):
        return "classifier.1." + key[len("classifier.") :]
    m = _BLOCK.match(key)
    if not m:
        raise KeyError(key)
    s, b, sub, rest = m.groups()
    block = model.stages[int(s)][int(b)]
    order = [n for n in ("expand", "depthwise", "se", "project") if getattr(block, n) is not None]
    prefix = f"features.{int(s) + 1}.{b}.block.{order.index(sub)}"
    if sub == "se":
        return f"{prefix}.{ {'reduce': 'fc1', 'expand': 'fc2'}[rest.split('.')[0]] }.{rest.split('.', 1)[1]}"
    part, rest = rest.split(".", 1)
    return f"{prefix}.{_CONV_BN[part]}.{rest}"


def _timm_key(key: str, model: EfficientNet) -> str:
    top = {"stem.conv": "conv_stem", "stem.bn": "bn1", "head.conv": "conv_head", "head.bn": "bn2"}
    for ours, theirs in top.items():
        if key.startswith(ours + "."):
            return theirs + key[len(ours) :]
    if key.startswith("classifier."):
        return key
    m = _BLOCK.match(key)
    if not m:
        raise KeyError(key)
    s, b, sub, rest = m.groups()
    block = model.stages[int(s)][int(b)]
    prefix = f"blocks.{s}.{b}"
    if sub == "se":
        return f"{prefix}.se.conv_{rest}"
    part, rest = rest.split(".", 1)
    if block.block_type == "ir":
        names = {"expand": ("conv_pw", "bn1"), "depthwise": ("conv_dw", "bn2"), "project": ("conv_pwl", "bn3")}
    elif block.block_type == "er":
        names = {"expand": ("conv_exp", "bn1"), "project": ("conv_pwl", "bn2")}
    else:  # ds
        names = {"depthwise": ("conv_dw", "bn1"), "project": ("conv_pw", "bn2")}
    conv, bn = names[sub]
    return f"{prefix}.{conv if part == 'conv' else bn}.{rest}"


_LUKEMELAS_PARTS = {
    ("expand", "conv"): "_expand_conv",
    ("expand", "bn"): "_bn0",
    ("depthwise", "conv"): "_depthwise_conv",
    ("depthwise", "bn"): "_bn1",
    ("se", "reduce"): "_se_reduce",
    ("se", "expand"): "_se_expand",
    ("project", "conv"): "_project_conv",
    ("project", "bn"): "_bn2",
}


def _lukemelas_key(key: str, model: EfficientNet) -> str:
    """efficientnet_pytorch numbers its blocks flat across stages and names each layer by its phase, so a block
    without an expansion (ratio 1) simply has no ``_expand_conv``/``_bn0``."""
    top = {
        "stem.conv": "_conv_stem",
        "stem.bn": "_bn0",
        "head.conv": "_conv_head",
        "head.bn": "_bn1",
        "classifier": "_fc",
    }
    for ours, theirs in top.items():
        if key.startswith(ours + "."):
            return theirs + key[len(ours) :]
    m = _BLOCK.match(key)
    if not m:
        raise KeyError(key)
    s, b, sub, rest = m.groups()
    flat = sum(len(stage) for stage in model.stages[: int(s)]) + int(b)
    part, rest = rest.split(".", 1)
    return f"_blocks.{flat}.{_LUKEMELAS_PARTS[sub, part]}.{rest}"


_KEY_MAPS: dict[str, Callable[[str, EfficientNet], str]] = {
    "torchvision": _torchvision_key,
    "timm": _timm_key,
    "timm-tf": _timm_key,
    "lukemelas": _lukemelas_key,
    "edgenet": lambda k, m: k,
}


def convert_state_dict(
    sd: Mapping[str, torch.Tensor], model: EfficientNet, fmt: str, source: str = "state dict"
) -> dict[str, torch.Tensor]:
    """Rename a peer's tensors to edgenet's keys, checking names and shapes against ``model``."""
    key_map = _KEY_MAPS[fmt]
    target = model.state_dict()
    out, missing, bad_shape = {}, [], []
    for key, ref in target.items():
        peer = key_map(key, model)
        if peer not in sd and key.endswith("num_batches_tracked"):  # a counter, absent from pre-0.4.1 saves
            out[key] = ref
            continue
        if peer not in sd:
            missing.append(peer)
            continue
        if tuple(sd[peer].shape) != tuple(ref.shape):
            bad_shape.append(f"{peer} {tuple(sd[peer].shape)} vs expected {tuple(ref.shape)}")
            continue
        out[key] = sd[peer]
    used = {key_map(k, model) for k in target}
    unexpected = [k for k in sd if k not in used]
    if missing or bad_shape or unexpected:
        parts = []
        if bad_shape:
            parts.append(f"{len(bad_shape)} shape mismatch(es), first: {bad_shape[0]}")
        if missing:
            parts.append(f"{len(missing)} missing key(s), first: {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), first: {unexpected[:3]}")
        raise EdgenetError(
            f"{source}: weights do not fit {getattr(model, 'variant_name', 'the model')} "
            f"({model.config.num_classes} classes) as {fmt}: " + "; ".join(parts)
        )
    refuse_non_finite(out, source)
    return out


def load_pretrained(model: EfficientNet, path: str | Path, fmt: str = "auto") -> str:
    """Load a peer's weight file into ``model`` in place; return the format used.

    ``model`` must have been built with :func:`config_for_format` options for outputs to match the peer's;
    :func:`create_from_weights` does that for you.
    """
    sd = load_state_dict_file(path)
    fmt = detect_format(sd, path) if fmt == "auto" else fmt
    if fmt not in _KEY_MAPS:
        raise EdgenetError(f"unknown weight format {fmt!r}; choose from {', '.join(FORMATS)} or auto")
    model.load_state_dict(convert_state_dict(sd, model, fmt, str(path)))
    return fmt


def create_from_weights(name: str, path: str | Path, fmt: str = "auto", **overrides) -> EfficientNet:
    """Build ``name`` with the options its weight file needs (eps, padding, class count) and load it."""
    from edgenet.models import create_model

    sd = load_state_dict_file(path)
    fmt = detect_format(sd, path) if fmt == "auto" else fmt
    if fmt not in _KEY_MAPS:
        raise EdgenetError(f"unknown weight format {fmt!r}; choose from {', '.join(FORMATS)} or auto")
    # the classifier's key needs no model to map (it sits outside the stages), and it tells the class count
    head = sd.get(_KEY_MAPS[fmt]("classifier.weight", None))
    opts = {**config_for_format(fmt), **overrides}
    if head is not None and "num_classes" not in overrides:
        opts["num_classes"] = int(head.shape[0])
    model = create_model(name, **opts)
    model.load_state_dict(convert_state_dict(sd, model, fmt, str(path)))
    model.weights_format = fmt
    return model


# torchvision's published eval transforms (crop, resize, interpolation) for its ImageNet weights.
_TORCHVISION_EVAL = {
    "efficientnet_b0": (224, 256, "bicubic"),
    "efficientnet_b1": (240, 255, "bilinear"),
    "efficientnet_b2": (288, 288, "bicubic"),
    "efficientnet_b3": (300, 320, "bicubic"),
    "efficientnet_b4": (380, 384, "bicubic"),
    "efficientnet_b5": (456, 456, "bicubic"),
    "efficientnet_b6": (528, 528, "bicubic"),
    "efficientnet_b7": (600, 600, "bicubic"),
}


def tf_crop_pct(resolution: int) -> float:
    """TF's reference eval crop (``CROP_PADDING = 32``): the centre ``res / (res + 32)`` of the short side, which
    timm's ``tf_*`` configs also use (0.875 at 224 px, 0.882 at 240, 0.904 at 300).

    Nudged down where float rounding would make :class:`Preprocess`'s ``floor(res / crop_pct)`` land on
    ``res + 31``, so the resize is exactly ``res + 32`` at every resolution.
    """
    pct = resolution / (resolution + 32)
    while math.floor(resolution / pct) < resolution + 32:
        pct = math.nextafter(pct, 0.0)
    return pct


def peer_preprocess(fmt: str, variant: str, resolution: int | None = None):
    """The preprocessing a peer's weights were trained with, so that imported weights see the inputs they expect.

    TF ports (timm's ``tf_*``, efficientnet_pytorch) are evaluated as TF does: a ``res / (res + 32)`` centre crop,
    bicubic, and inputs scaled to [-1, 1] (mean = std = 0.5, TF Lite's 127/128) for Lite/EdgeTPU but ImageNet
    mean/std for the B-series; torchvision's B-series use their own resize/crop per variant; timm's own weights
    ImageNet mean/std with a 0.875 crop.
    """
    from edgenet.models import get_variant
    from edgenet.models.arch import EFFICIENTNET_B0
    from edgenet.preprocess import Preprocess

    v = get_variant(variant)
    res = resolution or v.resolution
    if fmt == "torchvision" and v.name in _TORCHVISION_EVAL:
        crop, resize, interp = _TORCHVISION_EVAL[v.name]
        res = resolution or crop
        return Preprocess(resolution=res, interpolation=interp, crop_pct=crop / resize)
    if fmt in ("timm-tf", "lukemelas"):
        scaled = {} if v.config.arch == EFFICIENTNET_B0 else {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
        return Preprocess(resolution=res, interpolation="bicubic", crop_pct=tf_crop_pct(res), **scaled)
    return Preprocess(resolution=res)


def pretrained_path(name: str, weights: str | Path | None) -> Path:
    """``--pretrained``: only a local file is accepted at run time; say so in one line otherwise."""
    if weights is None:
        raise EdgenetError(
            f"--pretrained {name}: edgenet does not download weights; save the peer's state dict once "
            "(torchvision/timm) and pass it with --weights FILE"
        )
    return Path(weights)
