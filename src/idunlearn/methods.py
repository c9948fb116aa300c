"""Named unlearning methods: the config's `methods` plus the ablation grids.

A method is a target (average or UFO at distance d) and a LossConfig. The
ablation grids of the paper's Tables 3-4 and Figure 9 expand to generated
names (`alpha15`, `local_global`, `d-15`), so a rule's `{method}` wildcard
names everything that can be run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from idunlearn.losses import LossConfig

LOSS_KEYS = (
    "feature_weight",
    "lpips_weight",
    "id_weight",
    "adj_weight",
    "global_weight",
    "alpha_max",
    "num_adj",
    "num_global",
    "reduction",
)


@dataclass(frozen=True)
class Method:
    name: str
    target: str  # "average" or "ufo"
    d: float  # UFO distance (ignored for "average")
    loss: LossConfig

    @property
    def target_key(self) -> str:
        return "average" if self.target == "average" else f"ufo_d{self.d:g}"


def _format(value: float) -> str:
    return f"{value:g}"


def ablation_methods(ablations: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The paper's ablations as method entries (Tables 3-4 use w_t = w_avg; Figure 9 L_local)."""
    methods: dict[str, dict[str, Any]] = {}
    for alpha in ablations.get("alpha_max", []):
        methods[f"alpha{_format(alpha)}"] = {
            "target": "average",
            "adj_weight": 1.0 if alpha > 0 else 0.0,
            "alpha_max": alpha,
        }
    if ablations.get("global", False):
        methods["local"] = {"target": "average"}
        methods["local_global"] = {"target": "average", "global_weight": 1.0}
    for d in ablations.get("d", []):
        methods[f"d{_format(d)}"] = {"target": "ufo", "d": d}
    return methods


def all_methods(config: dict[str, Any]) -> dict[str, Method]:
    """Every runnable method, by name; the config's `loss` block sets shared defaults."""
    shared = config.get("loss", {})
    entries = {**ablation_methods(config.get("ablations", {})), **config["methods"]}
    methods = {}
    for name, entry in entries.items():
        loss_args = {k: entry.get(k, shared.get(k)) for k in LOSS_KEYS}
        loss_args = {k: v for k, v in loss_args.items() if v is not None}
        methods[name] = Method(
            name=name,
            target=entry.get("target", "ufo"),
            d=float(entry.get("d", shared.get("d", 30.0))),
            loss=LossConfig(**loss_args),
        )
    return methods


def get_method(config: dict[str, Any], name: str) -> Method:
    methods = all_methods(config)
    if name not in methods:
        raise KeyError(f"method {name!r} is not configured (known: {', '.join(sorted(methods))})")
    return methods[name]


def _effective(loss: LossConfig) -> LossConfig:
    """The loss with settings of switched-off terms reset, so equal objectives compare equal."""
    default = LossConfig()
    if loss.adj_weight == 0:
        loss = replace(loss, alpha_max=default.alpha_max, num_adj=default.num_adj)
    if loss.global_weight == 0:
        loss = replace(loss, num_global=default.num_global)
    if loss.adj_weight == 0 and loss.global_weight == 0:
        loss = replace(loss, reduction=default.reduction)
    return loss


def canonical_names(config: dict[str, Any]) -> dict[str, str]:
    """Each method name -> the first configured name that runs the same job.

    Ablation rows that coincide with a Table 1 method (alpha_max = 0, L_local
    alone and d = 0 are all the baseline; d = 30 is `extrapolated`) are run once.
    """
    seen: dict[tuple[str, LossConfig], str] = {}
    canonical = {}
    methods = all_methods(config)
    ordered = list(config["methods"]) + [n for n in methods if n not in config["methods"]]
    for name in ordered:
        method = methods[name]
        target = method.target_key if method.target == "ufo" and method.d != 0 else "average"
        key = (target, _effective(method.loss))
        canonical[name] = seen.setdefault(key, name)
    return canonical
