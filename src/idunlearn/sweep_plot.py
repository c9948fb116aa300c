"""The strength-sweep figure from the sweep records (no torch: it runs in the report env)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

from idunlearn.io import UserError, atomic_path, read_json

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

SWEEP_KEYS = ("id", "id_others", "fid_pre", "dfid_real")


def read_sweeps(paths: list[str]) -> pd.DataFrame:
    """One row per (record, strength): the labels beside the sweep's metrics."""
    rows = []
    for path in paths:
        record = read_json(path)
        labels = {key: value for key, value in record.items() if key != "sweep"}
        rows += [{**labels, **point} for point in record["sweep"]]
    if not rows:
        raise UserError("no strength-sweep records given")
    return pd.DataFrame(rows)


def plot_strength_sweep(table: pd.DataFrame, out: str) -> None:
    """Per method, mean over identities: ID and ID_others against the strength, and ID
    against FID_pre (the forgetting-vs-preservation curve the strength traces)."""
    figure, (by_strength, tradeoff) = plt.subplots(1, 2, figsize=(9, 3.6))
    for method, rows in table.groupby("method", sort=False):
        mean = rows.groupby("strength")[list(SWEEP_KEYS)].mean().sort_index()
        strengths = mean.index.to_numpy()
        line = by_strength.plot(strengths, mean["id"], marker="o", label=f"{method}: ID")[0]
        if np.isfinite(mean["id_others"]).any():
            by_strength.plot(
                strengths, mean["id_others"], ls="--", color=line.get_color(), label="ID_others"
            )
        tradeoff.plot(mean["fid_pre"], mean["id"], marker="o", color=line.get_color())
        for strength, row in mean.iterrows():
            tradeoff.annotate(f"{strength:g}", (row["fid_pre"], row["id"]), fontsize=7)
    by_strength.set(xlabel="strength T (integration time)", ylabel="ID (lower: forgotten)")
    tradeoff.set(xlabel="FID_pre (lower: preserved)", ylabel="ID", title="labels: T")
    by_strength.legend(fontsize=7)
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)


def run_sweep_figure(paths: list[str], out: str) -> None:
    plot_strength_sweep(read_sweeps(paths), out)
