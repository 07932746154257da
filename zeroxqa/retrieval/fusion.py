"""Merging two rankings of one corpus into one: reciprocal-rank fusion (robust, needs no score scale) or a
weighted sum of min-max normalized scores (uses how far apart the scores are, not only their order)."""

from __future__ import annotations

import numpy as np


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` highest scores, best first (ties by index, so the order is reproducible)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(len(scores)), -scores))
    return order[:k]


def rrf(rankings: list[np.ndarray], k: int = 60) -> dict[int, float]:
    """Reciprocal-rank fusion: each ranking (indices, best first) adds 1 / (k + rank) to what it ranks."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking.tolist(), start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k + rank)
    return fused


def weighted(candidates: np.ndarray, lexical: np.ndarray, dense: np.ndarray, dense_weight: float) -> dict[int, float]:
    """A weighted sum of both scores over the candidates, each min-max normalized over them (a constant
    score contributes nothing, rather than dividing by zero)."""

    def norm(x: np.ndarray) -> np.ndarray:
        span = float(x.max() - x.min()) if len(x) else 0.0
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    mixed = (1 - dense_weight) * norm(lexical[candidates]) + dense_weight * norm(dense[candidates])
    return dict(zip(candidates.tolist(), mixed.tolist()))


def ranked(fused: dict[int, float]) -> list[tuple[int, float]]:
    """(index, fused score) best first, ties by index."""
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
