"""LPIPS through the lpips package, as GUIDE's losses use it.

The real setting uses the pretrained LPIPS (`net='vgg'`). Offline, the
backbone's ImageNet weights cannot be downloaded, so the synthetic world uses
lpips' own random backbone (`pnet_rand=True`) with the package's shipped
linear layers; it is built under a fixed seed so that the metric is the same
in every job.

lpips is imported when a model is built, not with this module: it imports torchvision,
and with it torch._dynamo (~4 s), which the steps that never build LPIPS (evaluate,
render, the world's training) would otherwise pay at every start.
"""

from __future__ import annotations

import warnings

import torch


def build_lpips(net: str = "alex", random_backbone: bool = True, seed: int = 0) -> torch.nn.Module:
    """An LPIPS module (lpips.LPIPS) in eval mode with frozen weights."""
    import lpips

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
