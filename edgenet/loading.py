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
from edgenet.models import EfficientNet, create_model, get_variant
from edgenet.preprocess import Preprocess


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


def _download_pretrained(name: str) -> tuple[dict, str]:
    """Fetch a peer's ImageNet weights through torchvision (B0–B7) or timm (Lite, EdgeTPU); a cached copy is used
    without touching the network."""
    canonical = get_variant(name).name
    offline = EdgenetError(
        f"--pretrained {name}: no network to download weights; offline, save the peer's state dict once and "
        "pass it with --weights FILE"
    )
    try:
        if canonical.startswith("efficientnet_b"):
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
        return LoadedModel(net.eval(), variant.name, pre, None, source)

    net = create_model(variant, num_classes=num_classes, **overrides).eval()
    net.default_resolution = res
    return LoadedModel(net, variant.name, Preprocess(resolution=res), None, "random")
