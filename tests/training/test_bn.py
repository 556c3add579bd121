"""recalibrate_bn: the running statistics become those of the given images, and the model is left in eval mode."""

import torch

from edgenet.training.bn import recalibrate_bn


def test_running_statistics_are_the_images_own():
    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)
    model = torch.nn.Sequential(conv, bn)
    x = torch.randn(32, 3, 8, 8) * 3 + 1
    assert recalibrate_bn(model, x, batch_size=16) is model and not model.training
    with torch.no_grad():
        y = conv(x)
    torch.testing.assert_close(bn.running_mean, y.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert bn.num_batches_tracked == 2
