"""Per-job seeds derived from the root seed and the job's name, stable across runs and machines."""

from __future__ import annotations

import hashlib


def derive_seed(root: int, *parts: object) -> int:
    """A 31-bit seed from the root seed and any names (rule, scenario, identity, method)."""
    text = "/".join([str(root), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF
