"""LPIPS through the lpips package, as GUIDE's losses use it.

The real setting uses the pretrained LPIPS (`net='vgg'`). Offline, the
backbone's ImageNet weights cannot be downloaded, so the synthetic world uses
lpips' own random backbone (`pnet_rand=True`) with the package's shipped
linear layers; it is built under a fixed seed so that the metric is the same
in every job.
"""

from __future__ import annotations

import warnings

import lpips
import torch


def build_lpips(net: str = "alex", random_backbone: bool = True, seed: int = 0) -> lpips.LPIPS:
    """An LPIPS module in eval mode with frozen weights."""
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # torchvision's deprecation note on `pretrained`
        torch.manual_seed(seed)
        model = lpips.LPIPS(net=net, pnet_rand=random_backbone, verbose=False)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model
