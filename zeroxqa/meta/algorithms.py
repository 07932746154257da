"""The two first-order meta-learning rules, each a pseudo-gradient that an ordinary optimizer applies
to the meta weights θ:

    Reptile:  g = θ - φ              (φ: weights adapted on the task's support set)
    FOMAML:   g = ∇ L_query(φ)       (the query loss gradient at the adapted weights)

With SGD, Reptile's step θ - ε·mean(g) moves θ toward the adapted weights; with ε = 1 and one task, θ
becomes φ.
"""

from __future__ import annotations

import numpy as np
import torch

from zeroxqa.meta.inner import State


def reptile_pseudo_grad(meta: State, adapted: State) -> State:
    return {k: meta[k] - adapted[k] for k in meta}


def mean_state(states: list[State]) -> State:
    return {k: np.mean([s[k] for s in states], axis=0) for k in states[0]}


def outer_optimizer(model, algorithm: str, lr: float) -> torch.optim.Optimizer:
    if algorithm == "reptile":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


def apply_meta_update(model, optimizer: torch.optim.Optimizer, pseudo_grads: list[State]) -> None:
    """Average the tasks' pseudo-gradients, write them as .grad, take one optimizer step."""
    g = mean_state(pseudo_grads)
    for n, p in model.named_parameters():
        p.grad = torch.from_numpy(g[n]).to(p.dtype) if n in g else None
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
