"""HTML pages of the Snakemake report: what a browser shows as tables.

The report shows Markdown as plain text, so every table a user should read becomes an
HTML page: the paper tables (from their Markdown, caption and notes kept), the world's
quality check (quality.json, flattened) and one metrics page per forgotten identity
(its row of every method in results/metrics/all.csv).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from idunlearn.io import ArtefactError, atomic_path, read_json
from idunlearn.report import read_metrics

STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}"
    "th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "p{max-width:60em;font-size:13px}"
)


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{STYLE}</style></head>\n<body><h2>{html.escape(title)}</h2>\n"
        f"{body}\n</body></html>\n"
    )


def table_html(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>\n"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_html(text: str) -> str:
    """The Markdown the tables step writes (paragraphs and pipe tables) as HTML."""
    blocks, table, paragraph = [], [], []

    def flush() -> None:
        if table:
            rows = [cells(line) for line in table if not set(line) <= set("|:- ")]
            blocks.append(table_html(rows[0], rows[1:]))
            table.clear()
        if paragraph:
            blocks.append(f"<p>{html.escape(' '.join(paragraph))}</p>")
            paragraph.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            if paragraph:
                flush()
            table.append(line)
        elif line.strip():
            if table:
                flush()
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return "\n".join(blocks)


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested JSON as (dotted key, value) rows."""
    rows = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, f"{name}.")
        else:
            rows.append((name, f"{value:.4g}" if isinstance(value, float) else value))
    return rows


def identity_rows(metrics: pd.DataFrame, scenario: str, identity: str) -> pd.DataFrame:
    """One identity's row of every method, the columns that have a value."""
    rows = metrics[(metrics["scenario"] == scenario) & (metrics["identity"] == identity)]
    if rows.empty:
        raise ArtefactError(f"no metrics for {scenario}/{identity}")
    return rows.drop(columns=["scenario", "identity"]).dropna(axis=1, how="all")


def write_page(path: str | Path, title: str, body: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(page(title, body))


def write_pages(
    tables: Sequence[str | Path],  # the tables step's Markdown files
    metrics_path: str | Path,
    identities: Sequence[tuple[str, str]],  # (scenario, identity)
    outdir: str | Path,
    quality_path: str | Path | None = None,
) -> list[str]:
    """tables/{name}.html, identities/{scenario}/{identity}.html and quality.html."""
    outdir, written = Path(outdir), []
    for table in map(Path, tables):
        if not table.is_file():
            raise ArtefactError(f"missing file: {table}")
        written.append(outdir / "tables" / f"{table.stem}.html")
        write_page(written[-1], table.stem, markdown_html(table.read_text()))
    metrics = read_metrics(metrics_path)
    for scenario, identity in identities:
        rows = identity_rows(metrics, scenario, identity)
        text = (
            rows.astype(object)
            .where(rows.notna(), "")
            .map(lambda v: f"{v:.4g}" if isinstance(v, float) else v)
        )
        written.append(outdir / "identities" / scenario / f"{identity}.html")
        body = table_html(list(text.columns), text.itertuples(index=False))
        write_page(written[-1], f"{scenario} / {identity}: every method", body)
    if quality_path is not None:
        written.append(outdir / "quality.html")
        rows = flatten(read_json(quality_path))
        write_page(
            written[-1], "The synthetic world's quality", table_html(["check", "value"], rows)
        )
    return [str(path) for path in written]
