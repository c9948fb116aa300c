"""The paper's tables and figures from the per-run metrics and image strips.

Split by job: `aggregate` (records -> all.csv, summaries with bootstrap CIs, paired
differences), `tables` (Tables 1-4, attacks, claims), `claims` (the paper's orderings),
`captions` (setting, n, CI, notes) and `figures` (Figures 6-9, trade-off, image helpers).
The names other code imports are re-exported here.
"""

from idunlearn.report.aggregate import (
    Bootstrap,
    aggregate,
    bootstrap_ci,
    check_methods,
    paired_difference,
    read_metrics,
    read_paper_numbers,
    require_methods,
    summarise,
)
from idunlearn.report.captions import REDUCTIONS, Setting
from idunlearn.report.claims import CLAIM_COLUMNS, build_claims, verdict
from idunlearn.report.figures import (
    image_grid,
    pick_identities,
    qualitative_figure,
    read_strip,
    save_figure,
    split_strip,
    strip_path,
    tradeoff_figure,
    tradeoff_panel,
    write_figures,
)
from idunlearn.report.labels import (
    METRICS,
    NO_FACE_COLUMNS,
    PAPER_LABELS,
    SCENARIOS,
    VALUE_COLUMNS,
    ablation_methods,
    attack_columns,
    method_label,
    metric_label,
    ordered_scenarios,
)
from idunlearn.report.tables import (
    TABLES,
    build_table,
    format_table,
    mean_std,
    write_tables,
)

__all__ = [
    "CLAIM_COLUMNS",
    "METRICS",
    "NO_FACE_COLUMNS",
    "PAPER_LABELS",
    "REDUCTIONS",
    "SCENARIOS",
    "TABLES",
    "VALUE_COLUMNS",
    "Bootstrap",
    "Setting",
    "ablation_methods",
    "aggregate",
    "attack_columns",
    "bootstrap_ci",
    "build_claims",
    "build_table",
    "check_methods",
    "format_table",
    "image_grid",
    "mean_std",
    "method_label",
    "metric_label",
    "ordered_scenarios",
    "paired_difference",
    "pick_identities",
    "qualitative_figure",
    "read_metrics",
    "read_paper_numbers",
    "read_strip",
    "require_methods",
    "save_figure",
    "split_strip",
    "strip_path",
    "summarise",
    "tradeoff_figure",
    "tradeoff_panel",
    "verdict",
    "write_figures",
    "write_tables",
]
