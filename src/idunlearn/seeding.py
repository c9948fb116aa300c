"""Per-job seeds derived from the root seed and the job's name, stable across runs and machines,
and the one place where a job seeds the global generators from its seed."""

from __future__ import annotations

import hashlib
import os
import random

# cuBLAS needs a fixed workspace for repeatable GEMMs; read when CUDA initialises
CUBLAS_WORKSPACE = ":4096:8"


def derive_seed(root: int, *parts: object) -> int:
    """A 31-bit seed from the root seed and any names (rule, scenario, identity, method)."""
    text = "/".join([str(root), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed random, numpy, torch and every CUDA device from the job's seed, before a network is
    built: draws not made from a passed generator (EG3D's per-pass noise and ray-depth
    jitter, dropout) then repeat from run to run.

    `deterministic` adds the GPU switches (config `deterministic`): deterministic algorithms
    where torch has them (warn only: grid_sample's CUDA backward has none), cuDNN without
    benchmarking, a fixed cuBLAS workspace. The CPU needs none of them.
    """
    import numpy as np
    import torch  # imported here: the workflow imports derive_seed where torch is absent

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # the CPU and every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
