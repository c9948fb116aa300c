"""Named unlearning methods: the registry of kinds, the config's `methods` and the ablations.

Each kind is one implementation module of this package (see `base` for what it provides)
with its options in the torch-free `options`; the registry `KINDS` names both, and
everything that differs between kinds (options, files read, the unlearning itself, how
its system is rebuilt and scored) is asked of them. Reading a config imports no torch.

The ablation grids of the paper's Tables 3-4 and Figure 9 expand
to generated GUIDE names (`alpha15`, `local_global`, `d-15`), so a rule's `{method}`
wildcard names everything that can be run.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, fields
from types import ModuleType
from typing import Any

from idunlearn.io import UserError
from idunlearn.methods import options as o
from idunlearn.methods.options import Method

COMMON_KEYS = ("kind", "lr")
DEFAULT_KIND = "guide"


@dataclass(frozen=True)
class Kind:
    """A kind of method: its options, and the module that runs it (imported only when a
    job runs, so that reading a config needs no torch)."""

    name: str
    Options: type
    implementation: str  # module with unlearn(context), system(...) and latents(...)
    keys: tuple[str, ...] | None = None  # a config entry's keys; None: the Options' fields
    read: Any = None  # (entry, shared) -> Options; None: Options(**entry)
    write: Any = None  # Options -> entry, every key resolved; None: asdict
    multi: bool = False  # its module has multi_loss/multi_start/multi_terms (idunlearn.multi)

    @property
    def config_keys(self) -> tuple[str, ...]:
        return self.keys if self.keys is not None else tuple(f.name for f in fields(self.Options))

    def options(self, entry: dict[str, Any], shared: dict[str, Any]) -> Any:
        return self.read(entry, shared) if self.read else self.Options(**entry)

    def entry(self, options: Any) -> dict[str, Any]:
        return self.write(options) if self.write else asdict(options)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "guide",
            o.GuideOptions,
            "idunlearn.methods.guide",
            o.GUIDE_KEYS,
            o.guide_options,
            o.guide_entry,
            multi=True,
        ),
        Kind("cascaded", o.CascadedConfig, "idunlearn.methods.cascaded"),
        Kind("feature", o.FeatureConfig, "idunlearn.methods.feature"),
        Kind("encoder", o.EncoderConfig, "idunlearn.methods.encoder"),
        Kind(
            "adapter",
            o.AdapterOptions,
            "idunlearn.methods.adapter",
            o.ADAPTER_KEYS,
            o.adapter_options,
            o.adapter_entry,
            multi=True,
        ),
        Kind(
            "sugar",
            o.SugarOptions,
            "idunlearn.methods.sugar",
            o.SUGAR_KEYS,
            o.sugar_options,
            o.sugar_entry,
            multi=True,
        ),
    )
}

# the kinds whose objective covers many identities at once (idunlearn.multi)
MULTI_KINDS = tuple(name for name, kind in KINDS.items() if kind.multi)

__all__ = [
    "KINDS",
    "MULTI_KINDS",
    "Kind",
    "Method",
    "all_methods",
    "canonical_names",
    "get_method",
    "implementation",
    "settings_json",
]


def kind(name: str) -> Kind:
    """The registered kind; an unknown one names the known ones."""
    if name not in KINDS:
        raise UserError(f"unknown kind {name!r} (expected {', '.join(KINDS)})")
    return KINDS[name]


def implementation(name: str) -> ModuleType:
    """The module that unlearns, rebuilds and scores methods of a kind (imports torch)."""
    return importlib.import_module(kind(name).implementation)


def kind_keys(name: str) -> tuple[str, ...]:
    """The config keys an entry of kind `name` may have besides `kind` and `lr`."""
    return kind(name).config_keys


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


def parse_method(name: str, entry: dict[str, Any], shared: dict[str, Any]) -> Method:
    """A config entry as a Method; a key its kind does not use is an error naming the key
    and the kind (the schema says the same for configs the workflow reads)."""
    kind_name = entry.get("kind", DEFAULT_KIND)
    try:
        spec = kind(kind_name)
    except UserError as err:
        raise UserError(f"method {name!r}: {err}") from None
    unknown = sorted(set(entry) - set(COMMON_KEYS) - set(spec.config_keys))
    if unknown:
        raise UserError(f"method {name!r} of kind {kind_name}: unknown key(s) {', '.join(unknown)}")
    settings = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
    lr = entry.get("lr")
    return Method(
        name, kind_name, spec.options(settings, shared), None if lr is None else float(lr)
    )


def all_methods(config: dict[str, Any]) -> dict[str, Method]:
    """Every runnable method, by name; the config's `loss` block sets shared defaults."""
    shared = config.get("loss", {})
    entries = {**ablation_methods(config.get("ablations", {})), **config["methods"]}
    return {name: parse_method(name, entry, shared) for name, entry in entries.items()}


def get_method(config: dict[str, Any], name: str) -> Method:
    methods = all_methods(config)
    if name not in methods:
        raise UserError(f"method {name!r} is not configured (known: {', '.join(sorted(methods))})")
    return methods[name]


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
        key = (method.kind, method.lr, getattr(method.options, "job_key", method.options))
        canonical[name] = seen.setdefault(key, name)
    return canonical


def method_entry(method: Method) -> dict[str, Any]:
    """A config entry, every key resolved, that `parse_method` reads back to `method`."""
    settings = kind(method.kind).entry(method.options)
    lr = {} if method.lr is None else {"lr": method.lr}
    return {"kind": method.kind, **lr, **settings}


def settings_json(config: dict[str, Any], name: str) -> str:
    """One method's resolved settings as canonical JSON (sorted keys): what its jobs'
    outputs depend on, so a job reruns only when its own method changes."""
    return json.dumps(method_entry(get_method(config, name)), sort_keys=True)


def method_from_settings(name: str, settings: str) -> Method:
    """The Method that `settings_json` described (a step's --settings)."""
    try:
        entry = json.loads(settings)
    except json.JSONDecodeError as err:
        raise UserError(f"method {name!r}: settings are not JSON ({err})") from err
    if not isinstance(entry, dict):
        raise UserError(f"method {name!r}: settings must be a JSON object, got {settings!r}")
    return parse_method(name, entry, {})
