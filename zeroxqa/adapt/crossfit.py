"""K-fold cross-fitting over a domain's few labels: every label is used to adapt (in k-1 folds) and to judge
(in its own fold) exactly once, so a decision and a threshold rest on all the labels without ever scoring a
reader on questions it was trained on. Folds are drawn by paragraph, so a held-out question never shares its
paragraph with a training one."""

from __future__ import annotations

import random
from typing import Callable, TypeVar

T = TypeVar("T")


def fold_of_each(rows: list[dict], k: int, seed: int = 0) -> list[int]:
    """The fold (0..k-1) of every row: paragraphs shuffled with `seed`, dealt round-robin, so fold sizes differ
    by at most one paragraph's questions. Fewer paragraphs than k: as many folds as paragraphs."""
    if k < 2:
        raise ValueError(f"cross-fitting needs k >= 2 folds, got {k}")
    contexts = sorted({r["context"] for r in rows})
    random.Random(seed).shuffle(contexts)
    fold = {c: i % k for i, c in enumerate(contexts)}
    return [fold[r["context"]] for r in rows]


def out_of_fold(rows: list[dict], k: int, fit: Callable[[list[dict]], T], predict: Callable[[T, list[dict]], list],
                seed: int = 0, only_folds: int | None = None) -> list:
    """Predictions for every row from a model fitted without its fold: `fit(train_rows)` per fold, then
    `predict(model, held_out_rows)`; returned in the order of `rows`. With `only_folds`, only that many folds
    are held out in turn (a cheaper judgement on many labels); the other rows' predictions are None."""
    folds = fold_of_each(rows, k, seed)
    out: list = [None] * len(rows)
    for f in sorted(set(folds))[:only_folds]:
        held = [i for i, g in enumerate(folds) if g == f]
        model = fit([r for r, g in zip(rows, folds) if g != f])
        for i, p in zip(held, predict(model, [rows[i] for i in held])):
            out[i] = p
    return out
