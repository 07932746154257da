"""Fine-tuning a reader: a plain PyTorch loop (AdamW, linear warm-up and decay, gradient clipping, seeded),
evaluated after each epoch on dev rows, keeping the best checkpoint. It starts from a base encoder or from
any saved reader; meta-training and per-domain fine-tuning reuse it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from zeroxqa.batching import collate, length_grouped_batches
from zeroxqa.config import ReaderConfig, TrainConfig
from zeroxqa.evaluate import ALL, evaluate
from zeroxqa.features import prepare_features
from zeroxqa.inference.engine import QAEngine
from zeroxqa.model import Reader, save_reader


@dataclass
class TrainResult:
    model_dir: Path
    best_metrics: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and LayerNorm weights, as usual for BERT."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def dev_metrics(reader: Reader, dev_rows: list[dict], cfg: ReaderConfig, batch_size: int) -> tuple[dict, float]:
    """Calibrate the no-answer threshold on dev rows and return (overall metrics at it, threshold)."""
    ev = evaluate(QAEngine.from_reader(reader, cfg), dev_rows, batch_size)
    _, threshold = ev.calibrate()
    overall = next(m for m in ev.per_domain(threshold) if m["domain"] == ALL)
    return overall, threshold


def train_reader(
    reader: Reader,
    train_rows: list[dict],
    dev_rows: list[dict],
    out_dir: str | Path,
    reader_cfg: ReaderConfig | None = None,
    train_cfg: TrainConfig | None = None,
    card: dict | None = None,
) -> TrainResult:
    reader_cfg, train_cfg = reader_cfg or ReaderConfig(), train_cfg or TrainConfig()
    if not train_rows:
        raise ValueError("no training rows (check the shards and the split)")
    seed_everything(train_cfg.seed)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    model, tok = reader.model, reader.tokenizer
    feats = prepare_features(tok, [r["question"] for r in train_rows], [r["context"] for r in train_rows], reader_cfg,
                             answers=[[] if r["is_impossible"] else r["answers"] for r in train_rows])
    lengths = [len(x) for x in feats.input_ids]
    steps_per_epoch = math.ceil(len(feats) / train_cfg.batch_size)
    total = min(train_cfg.max_steps or 10**12, train_cfg.epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(param_groups(model, train_cfg.weight_decay), lr=train_cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(train_cfg.warmup_ratio * total), total)

    started, step, best_f1 = time.perf_counter(), 0, -1.0
    result = TrainResult(Path(out_dir), {})
    for epoch in range(1, train_cfg.epochs + 1):
        model.train()
        batches = length_grouped_batches(lengths, train_cfg.batch_size, seed=train_cfg.seed + epoch)
        bar = tqdm(batches[: total - step], desc=f"epoch {epoch}", leave=False)
        for idx in bar:
            batch = collate(feats, idx, tok.pad_token_id or 0, with_labels=True)
            loss = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        metrics, threshold = dev_metrics(reader, dev_rows, reader_cfg, train_cfg.eval_batch_size) if dev_rows else ({}, 0.0)
        record = {"epoch": epoch, "step": step, "seconds": time.perf_counter() - started, "null_threshold": threshold, **metrics}
        result.history.append(record)
        tqdm.write(f"epoch {epoch}: step {step}, dev F1 {metrics.get('f1', float('nan')):.2f}, EM {metrics.get('exact', float('nan')):.2f}")
        f1 = metrics.get("f1", 0.0)
        if f1 > best_f1 or not dev_rows:
            best_f1 = f1
            reader.card = {
                **(card or {}),
                "base_model": reader.card.get("base_model"),
                "null_threshold": threshold,
                "threshold_calibrated": bool(dev_rows),
                "reader_config": reader_cfg.model_dump(),
                "train_config": train_cfg.model_dump(),
                "train_examples": len(train_rows),
                "train_windows": len(feats),
                "dev_examples": len(dev_rows),
                "epoch": epoch,
                "step": step,
                "dev_metrics": metrics,
            }
            save_reader(reader, out_dir)
            result.best_metrics = record
        if step >= total:
            break
    result.seconds, result.steps = time.perf_counter() - started, step
    return result
