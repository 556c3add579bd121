"""BatchNorm statistics measured again on given images.

Used where a network's running statistics do not describe the data it will see: a randomly initialised network
(whose eval-mode logits are the same for every input, which hides conversion and quantization errors), or one
trained too briefly for PyTorch's momentum of 0.01 to move the statistics far from their initial (0, 1).
"""

from __future__ import annotations

import torch


def recalibrate_bn(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 16) -> torch.nn.Module:
    """Reset every BatchNorm's running statistics to the cumulative average over ``x`` (NCHW), in eval mode after.

    ``momentum = None`` makes PyTorch average the batches equally, so the result is the statistics of ``x`` itself
    (for equal batch sizes) rather than a decaying mix with the old values.
    """
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for batch in x.split(batch_size):
            model(batch)
    return model.eval()
