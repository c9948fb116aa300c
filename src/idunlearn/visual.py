"""Images to PNG files: strips and grids of generator outputs in [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from idunlearn.io import atomic_path


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> [H, W, 3] uint8."""
    array = ((image.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return array.permute(1, 2, 0).numpy()


def grid(rows: list[list[torch.Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of equally sized images -> one uint8 picture with white gaps."""
    h, w = rows[0][0].shape[-2:]
    cols = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = to_uint8(image)
    return canvas


def save_png(path: str, picture: np.ndarray, scale: int = 2) -> None:
    image = Image.fromarray(picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def save_strip(path: str, images: list[torch.Tensor]) -> None:
    save_png(path, grid([images]))
