"""The per-identity figures a user looks at: retained faces and attacks (no torch here).

The gallery figure puts the forgotten identity's evaluation strips (source, target,
before, after, as in the qualitative figure) beside a fixed set of other faces rendered
by G_s and by each method's system, with the per-face ID under each image. The attack
figure shows, per attacked method, the source photo, G_u at the system's latent and what
each attack recovered, with the ID of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure, SubFigure

from idunlearn.io import ArtefactError, read_json, read_npz
from idunlearn.report.figures import STRIP_TILES, TILE_INCH, image_grid, read_strip, save_figure
from idunlearn.report.labels import ATTACK_LABELS, ATTACK_ORDER, method_label

CAPTION_INCH = 0.25  # room under a captioned row


def captioned_grid(
    panel: Figure | SubFigure,
    rows: Sequence[Sequence[np.ndarray]],
    col_titles: Sequence[str],
    row_labels: Sequence[str],
    captions: Sequence[Sequence[str]],
) -> None:
    """`image_grid` with a caption under each image (a row's captions may be empty)."""
    image_grid(panel, rows, col_titles, row_labels)
    axes = panel.axes[-len(rows) * len(col_titles) :]  # the grid's, row by row
    for ax, caption in zip(axes, [c for row in captions for c in row], strict=True):
        ax.set_xlabel(caption, fontsize=7)


def blank_like(image: np.ndarray) -> np.ndarray:
    return np.full_like(image, 255)


def gallery_figure(
    title: str,
    methods: Sequence[str],
    strips: Sequence[str | Path],  # the identity's evaluation strip of each method
    face_labels: Sequence[str],
    before: np.ndarray,  # [F, H, W, 3] uint8: G_s renders of the faces
    after: dict[str, np.ndarray],  # method -> [F, H, W, 3]: its system's renders
    ids: dict[str, Sequence[float]],  # method -> per-face ID
    out: str | Path,
) -> None:
    """Left: the forgotten identity, a row per method; right: the retained faces, G_s on
    top and a row per method, the face's ID (G_s vs the method) under each image."""
    strip_rows = [list(read_strip(path).values()) for path in strips]
    rows = [list(before), *(list(after[m]) for m in methods)]
    captions = [[""] * len(face_labels)]
    captions += [[f"ID {value:.2f}" for value in ids[m]] for m in methods]
    labels = [method_label(m) for m in methods]
    height = (len(rows)) * (TILE_INCH + CAPTION_INCH) + 0.8
    widths = [len(STRIP_TILES) * TILE_INCH + 0.6, len(face_labels) * TILE_INCH + 0.6]
    figure = Figure(figsize=(sum(widths), height), layout="constrained")
    figure.suptitle(title, fontsize=9, fontweight="bold")
    left, right = figure.subfigures(1, 2, width_ratios=widths)
    left.suptitle("the forgotten identity", fontsize=8)
    # align the strips with the method rows of the gallery: a blank first row
    blank = [blank_like(tile) for tile in strip_rows[0]]
    image_grid(left, [blank, *strip_rows], list(STRIP_TILES), ["", *labels])
    for ax in left.axes[: len(STRIP_TILES)]:
        ax.set_axis_off()
    right.suptitle("retained faces (ID: G_s vs the method, mean over the views)", fontsize=8)
    captioned_grid(right, rows, list(face_labels), ["G_s", *labels], captions)
    save_figure(figure, out)


def attack_names(renders: dict[str, np.ndarray]) -> list[str]:
    """The recovered renders' names in the tables' attack order (relearning by k)."""
    names = [name for name in ATTACK_ORDER[:-1] if name in renders]
    relearn = [name for name in renders if name.startswith("relearn_")]
    return names + sorted(relearn, key=lambda name: int(name.split("_")[1]))


def attack_label(name: str) -> str:
    return ATTACK_LABELS.get(name, name.replace("_", "-"))


def attack_figure(
    title: str,
    methods: Sequence[str],
    records: Sequence[str | Path],  # each method's attack JSON
    renders: Sequence[str | Path],  # ... and its renders (.npz, uint8 [H, W, 3] each)
    out: str | Path,
) -> None:
    """A row per attacked method: source photo, G_u at the system's latent, then each
    attack's recovered render with its ID (higher: the identity came back)."""
    loaded = [(read_json(r), read_npz(p), p) for r, p in zip(records, renders, strict=True)]
    names = attack_names(loaded[0][1])
    titles = ["source photo", "unattacked", *(attack_label(n) for n in names)]
    rows, captions = [], []
    for record, images, path in loaded:
        missing = {"source", "unattacked"} - set(images)
        if missing:
            raise ArtefactError(f"{path}: no {', '.join(sorted(missing))} render")
        blank = blank_like(images["source"])
        rows.append([images["source"], *(images.get(n, blank) for n in ["unattacked", *names])])
        ids = [record.get(f"id_{n}") for n in ["unattacked", *names]]
        captions.append(["", *("" if v is None else f"ID {v:.2f}" for v in ids)])
    figure = Figure(
        figsize=(len(titles) * TILE_INCH + 0.8, len(rows) * (TILE_INCH + CAPTION_INCH) + 0.8),
        layout="constrained",
    )
    figure.suptitle(title, fontsize=9, fontweight="bold")
    captioned_grid(figure, rows, titles, [method_label(m) for m in methods], captions)
    save_figure(figure, out)
