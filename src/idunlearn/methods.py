"""Named unlearning methods: the config's `methods` plus the ablation grids.

A method has a `kind`. `guide` (the default) is a target (average or UFO at distance d)
and a LossConfig. The comparison kinds `cascaded`, `feature` and `encoder` (see
`idunlearn.comparisons`) carry their own options instead. The ablation grids of the
paper's Tables 3-4 and Figure 9 expand to generated names (`alpha15`, `local_global`,
`d-15`), so a rule's `{method}` wildcard names everything that can be run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from idunlearn.comparisons.cascaded import CascadedConfig
from idunlearn.comparisons.encoder import EncoderConfig
from idunlearn.comparisons.feature import FeatureConfig
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
# Per kind, the dataclass of its options; `guide` uses LOSS_KEYS, `target` and `d`.
OPTIONS = {"cascaded": CascadedConfig, "feature": FeatureConfig, "encoder": EncoderConfig}
KINDS = ("guide", *OPTIONS)
COMMON_KEYS = ("kind", "lr")
GUIDE_KEYS = (*LOSS_KEYS, "target", "d")

Options = CascadedConfig | FeatureConfig | EncoderConfig


@dataclass(frozen=True)
class Method:
    name: str
    target: str  # "average" or "ufo"
    d: float  # UFO distance (ignored for "average")
    loss: LossConfig
    kind: str = "guide"  # guide | cascaded | feature | encoder
    options: Options | None = None  # the comparison kinds' options (None for guide)
    lr: float | None = None  # overrides the unlearn schedule's learning rate

    @property
    def target_key(self) -> str:
        """The target file the method's jobs read: its w_t (guide); comparison methods make
        their own target, and read the `average` file only for the evaluation strip."""
        if self.kind != "guide" or self.target == "average":
            return "average"
        return f"ufo_d{self.d:g}"

    @property
    def needs_retain_images(self) -> bool:
        """Whether unlearning reads the world's dataset and identity table (retain images)."""
        return bool(getattr(self.options, "needs_retain_images", False))

    @property
    def needs_encoder(self) -> bool:
        """Whether unlearning and evaluation read the inversion encoder's file."""
        return self.kind == "encoder"


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


def method_options(name: str, entry: dict[str, Any]) -> tuple[str, Options | None]:
    """The kind of a method entry and its options; a key that the kind does not use is an
    error naming it (the schema says the same for configs the workflow reads)."""
    kind = entry.get("kind", "guide")
    if kind not in KINDS:
        raise ValueError(f"method {name!r}: unknown kind {kind!r} (expected {', '.join(KINDS)})")
    cls = OPTIONS.get(kind)
    allowed = set(COMMON_KEYS) | (set(GUIDE_KEYS) if cls is None else {f.name for f in fields(cls)})
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(f"method {name!r} of kind {kind}: unknown key(s) {', '.join(unknown)}")
    if cls is None:
        return kind, None
    return kind, cls(**{k: v for k, v in entry.items() if k not in COMMON_KEYS})


def all_methods(config: dict[str, Any]) -> dict[str, Method]:
    """Every runnable method, by name; the config's `loss` block sets shared defaults."""
    shared = config.get("loss", {})
    entries = {**ablation_methods(config.get("ablations", {})), **config["methods"]}
    methods = {}
    for name, entry in entries.items():
        kind, options = method_options(name, entry)
        loss_args = {k: entry.get(k, shared.get(k)) for k in LOSS_KEYS}
        loss_args = {k: v for k, v in loss_args.items() if v is not None}
        lr = entry.get("lr")
        methods[name] = Method(
            name=name,
            target=entry.get("target", "ufo"),
            d=float(entry.get("d", shared.get("d", 30.0))),
            loss=LossConfig(**loss_args),
            kind=kind,
            options=options,
            lr=None if lr is None else float(lr),
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
    The kind is part of the key, so methods of different kinds never alias.
    """
    seen: dict[tuple, str] = {}
    canonical = {}
    methods = all_methods(config)
    ordered = list(config["methods"]) + [n for n in methods if n not in config["methods"]]
    for name in ordered:
        method = methods[name]
        if method.kind == "guide":
            target = method.target_key if method.target == "ufo" and method.d != 0 else "average"
            key: tuple = (method.kind, method.lr, target, _effective(method.loss))
        else:
            key = (method.kind, method.lr, method.options)
        canonical[name] = seen.setdefault(key, name)
    return canonical
