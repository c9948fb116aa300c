"""The GUIDE objective's settings, apart from the torch code of `losses`: the config's
methods are read when the Snakefile is parsed, which must not import torch."""

from __future__ import annotations

from dataclasses import dataclass

from idunlearn.io import UserError


@dataclass(frozen=True)
class LossConfig:
    """Weights and draws of the GUIDE objective; defaults are the paper's."""

    feature_weight: float = 0.01  # lambda_L2 on the backbone features (tri-planes)
    lpips_weight: float = 1.0  # lambda_per
    id_weight: float = 0.1  # lambda_id
    adj_weight: float = 0.0  # lambda_adj; 0 switches L_adj off (paper: 1.0)
    global_weight: float = 0.0  # lambda_global; 0 switches L_global off (paper: 1.0)
    alpha_max: float = 15.0  # adjacency radius: alpha ~ U(0, alpha_max)
    num_adj: int = 2  # N_a
    num_global: int = 2  # N_g
    reduction: str = "mean"  # over N_a and N_g: "mean" (paper eqs. 7-8) or "sum" (reference code)
    ewc: float = 0.0  # lambda_ewc on sum F (theta - theta_0)^2 (SUGAR); 0 switches it off
    fisher_samples: int = 8  # mapped latents whose tri-plane gradients give the diagonal F

    def __post_init__(self) -> None:
        if self.reduction not in ("mean", "sum"):
            raise UserError(f"reduction must be 'mean' or 'sum', got {self.reduction!r}")
        if self.ewc < 0 or self.fisher_samples < 1:
            raise UserError("ewc must be >= 0 and fisher_samples >= 1")

    @property
    def adj_draws(self) -> int:
        return self.num_adj if self.adj_weight > 0 else 0

    @property
    def global_draws(self) -> int:
        return self.num_global if self.global_weight > 0 else 0
