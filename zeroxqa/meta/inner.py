"""The inner loop: a few AdamW steps on a task's support set, and the loss gradient on its query set."""

from __future__ import annotations

import numpy as np
import torch

from zeroxqa.reader.batching import collate
from zeroxqa.config import ReaderConfig
from zeroxqa.reader.features import prepare_features

State = dict[str, np.ndarray]


def labelled_batch(tokenizer, rows: list[dict], cfg: ReaderConfig, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    feats = prepare_features(tokenizer, [r["question"] for r in rows], [r["context"] for r in rows], cfg,
                             answers=[[] if r["is_impossible"] else r["answers"] for r in rows])
    batch = collate(feats, list(range(len(feats))), tokenizer.pad_token_id or 0, with_labels=True)
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


def inner_adapt(model, tokenizer, rows: list[dict], cfg: ReaderConfig, steps: int, lr: float, batch_size: int, seed: int) -> float:
    """Adapt `model` in place on `rows`: `steps` AdamW steps on consecutive mini-batches, on the model's
    device. Returns the last loss."""
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        chunk = [rows[(step * batch_size + i) % len(rows)] for i in range(batch_size)]
        loss = model(**labelled_batch(tokenizer, chunk, cfg, device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def query_gradient(model, tokenizer, rows: list[dict], cfg: ReaderConfig) -> tuple[State, float]:
    """The gradient of the query loss at the model's current (adapted) weights."""
    model.train()
    model.zero_grad(set_to_none=True)
    loss = model(**labelled_batch(tokenizer, rows, cfg, next(model.parameters()).device)).loss
    loss.backward()
    grads = {n: p.grad.detach().cpu().numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads, float(loss.detach())


def get_state(model) -> State:
    """The weights as host arrays, wherever the model lives: what travels between driver and workers."""
    return {n: p.detach().cpu().numpy().copy() for n, p in model.named_parameters()}


def set_state(model, state: State) -> None:
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.from_numpy(state[n]))  # onto the parameter's device
