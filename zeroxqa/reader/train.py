"""Fine-tuning a reader: a plain PyTorch loop (AdamW, linear warm-up and decay, gradient clipping, seeded),
evaluated after each epoch on dev rows, keeping the best epoch. It starts from a base encoder or from any
saved reader; meta-training and per-domain fine-tuning reuse it.

The same loop trains the reference reader on ~50k questions: windows are held packed in numpy, batches are
grouped by length, bf16 autocast runs where the hardware has it, and with a checkpoint folder the full
run state is saved every N steps so that a run resumes mid-epoch exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from transformers import get_linear_schedule_with_warmup

from zeroxqa.reader.batching import length_grouped_batches
from zeroxqa.reader.checkpoint import RunState, has_checkpoint, load_checkpoint, save_checkpoint
from zeroxqa.config import ReaderConfig, TrainConfig
from zeroxqa.ingest.dataset import rows_sha256
from zeroxqa.reader.evaluate import ALL, evaluate
from zeroxqa.reader.features import pack_train_windows
from zeroxqa.reader.engine import QAEngine
from zeroxqa.reader.model import Reader, save_reader, set_dropout
from zeroxqa.reader.negatives import answer_removed_negatives, same_article_negatives
from zeroxqa.progress import bar as progress_bar, note

HISTORY_FILE, CURVE_FILE = "training.json", "training.png"


@dataclass
class TrainResult:
    model_dir: Path
    best_metrics: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    tokens: int = 0


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


def resolve_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast where it is fast: CUDA, or a CPU with bf16 instructions (AVX-512 BF16, AMX); without
    them a CPU emulates bf16 and fp32 is faster."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    from zeroxqa.speed.export.cpu import cpu_flags

    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def dev_metrics(reader: Reader, dev_rows: list[dict], cfg: ReaderConfig, batch_size: int) -> tuple[dict, float]:
    """Calibrate the no-answer threshold on dev rows (`Evaluation.abstention_threshold`: on their domains with
    unanswerable questions) and return (overall metrics at it, threshold)."""
    ev = evaluate(QAEngine.from_reader(reader, cfg), dev_rows, batch_size)
    threshold = ev.abstention_threshold()
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
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
    loss_fn: Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor] | None = None,
) -> TrainResult:
    """Train, keep the epoch with the best dev F1 in `out_dir` (its threshold calibrated on dev rows).

    With `checkpoint_dir` and `train_cfg.checkpoint_every`, the run state is saved every N steps and at
    each epoch end; `resume` continues from it (same data, same config) and gives the weights an
    uninterrupted run would have. `on_step(step)` is called after every optimizer step; `loss_fn(model, batch)`
    replaces the model's own loss (distillation adds the teacher's soft targets)."""
    reader_cfg, train_cfg = reader_cfg or ReaderConfig(), train_cfg or TrainConfig()
    if not train_rows:
        raise ValueError("no training rows (check the shards and the split)")
    seed_everything(train_cfg.seed)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    device = resolve_device(train_cfg.device)
    bf16 = use_bf16(train_cfg.precision, device)
    model, tok = reader.model.to(device), reader.tokenizer
    if train_cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    set_dropout(model, attention=train_cfg.attention_dropout, hidden=train_cfg.hidden_dropout)

    negatives = same_article_negatives(train_rows, train_cfg.negative_ratio, train_cfg.seed)
    removed = answer_removed_negatives(train_rows, train_cfg.answer_removed_ratio, train_cfg.seed)
    repeats = [r for r in train_rows if r["is_impossible"]] * (train_cfg.repeat_unanswerable - 1)
    rows = train_rows + repeats + negatives + removed
    windows = pack_train_windows(tok, [r["question"] for r in rows], [r["context"] for r in rows],
                                 [[] if r["is_impossible"] else r["answers"] for r in rows], reader_cfg, progress=progress)
    lengths = windows.lengths.tolist()
    steps_per_epoch = math.ceil(len(windows) / train_cfg.batch_size)
    total = min(train_cfg.max_steps or 10**12, train_cfg.epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(param_groups(model, train_cfg.weight_decay), lr=train_cfg.learning_rate)
    data_sha = rows_sha256(rows) if checkpoint_dir else ""
    state = RunState(data_sha256=data_sha, extra={"train_config": train_cfg.model_dump(), "reader_config": reader_cfg.model_dump()})
    if resume and checkpoint_dir and has_checkpoint(checkpoint_dir):
        state = load_checkpoint(checkpoint_dir, model, optimizer)
        if state.data_sha256 != data_sha:
            raise ValueError(f"{checkpoint_dir}: the checkpoint was trained on other data; resume with the same shards")
        note(f"resuming at step {state.step} (epoch {state.epoch}, batch {state.batch_in_epoch})")
    warmup = int(train_cfg.warmup_ratio * total)
    for g in optimizer.param_groups:
        g.setdefault("initial_lr", train_cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total, last_epoch=state.step - 1)

    def checkpoint() -> None:
        if checkpoint_dir and train_cfg.checkpoint_every:
            save_checkpoint(checkpoint_dir, model, optimizer, state)

    started = time.perf_counter()
    result = TrainResult(Path(out_dir), {}, state.history)
    bar = progress_bar(total=total, initial=state.step, desc="train", unit="step", show=progress, dynamic_ncols=True)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    loss_sum, loss_n, tokens, tick = 0.0, 0, 0, time.perf_counter()
    while state.epoch <= train_cfg.epochs and state.step < total:
        model.train()
        batches = length_grouped_batches(lengths, train_cfg.batch_size, seed=train_cfg.seed + state.epoch)
        for idx in batches[state.batch_in_epoch :]:
            if state.step >= total:
                break
            batch = {k: torch.from_numpy(v).to(device) for k, v in windows.batch(idx, tok.pad_token_id or 0).items()}
            with autocast():
                loss = loss_fn(model, batch) if loss_fn else model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            state.batch_in_epoch += 1
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            tokens += int(batch["attention_mask"].sum())
            bar.update(1)
            if state.step % train_cfg.log_every == 0 or state.step == total:
                now = time.perf_counter()
                record = {"step": state.step, "epoch": state.epoch, "loss": loss_sum / loss_n,
                          "lr": scheduler.get_last_lr()[0], "tokens_per_s": tokens / max(now - tick, 1e-9)}
                state.history.append(record)
                bar.set_postfix(epoch=state.epoch, loss=f"{record['loss']:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")
                result.tokens += tokens
                loss_sum, loss_n, tokens, tick = 0.0, 0, 0, now
            if train_cfg.checkpoint_every and state.step % train_cfg.checkpoint_every == 0:
                checkpoint()
            if on_step:
                on_step(state.step)
        result.tokens += tokens
        tokens = 0
        # without dev rows the base reader's threshold is the best there is (0.0 for a bare encoder)
        metrics, threshold = (dev_metrics(reader, dev_rows, reader_cfg, train_cfg.eval_batch_size) if dev_rows
                              else ({}, reader.null_threshold))
        record = {"epoch": state.epoch, "step": state.step, "seconds": time.perf_counter() - started,
                  "null_threshold": threshold, **metrics}
        state.history.append(record)
        note(f"epoch {state.epoch}: step {state.step}, dev F1 {metrics.get('f1', float('nan')):.2f}, "
                  f"EM {metrics.get('exact', float('nan')):.2f}")
        f1 = metrics.get("f1", 0.0)
        if f1 > state.best_f1 or not dev_rows:
            state.best_f1 = f1
            reader.card = {
                **(card or {}),
                "base_model": reader.card.get("base_model"),
                "null_threshold": threshold,
                "threshold_calibrated": bool(dev_rows),
                "reader_config": reader_cfg.model_dump(),
                "train_config": train_cfg.model_dump(),
                "train_examples": len(train_rows),
                "train_negatives": len(negatives),
                "train_answer_removed": len(removed),
                "train_unanswerable_repeats": len(repeats),
                "train_windows": len(windows),
                "dev_examples": len(dev_rows),
                "epoch": state.epoch,
                "step": state.step,
                "dev_metrics": metrics,
            }
            save_reader(reader, out_dir)
            result.best_metrics = record
        state.epoch, state.batch_in_epoch = state.epoch + 1, 0
        checkpoint()
    bar.close()
    model.to("cpu")
    result.seconds, result.steps, result.history = time.perf_counter() - started, state.step, state.history
    write_training_curve(state.history, out_dir)
    return result


def write_training_curve(history: list[dict], out_dir: str | Path) -> None:
    """The loss records and per-epoch dev metrics beside the model, as JSON and as a plot."""
    from zeroxqa.registry.atomic import write_json
    from zeroxqa.plots import figure, save_figure

    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    write_json(history, out_dir / HISTORY_FILE)
    losses = [h for h in history if "loss" in h]
    epochs = [h for h in history if "f1" in h]
    if not losses and not epochs:
        return
    fig, ax = figure(figsize=(7, 4))
    if losses:
        ax.plot([h["step"] for h in losses], [h["loss"] for h in losses], color="tab:blue", label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if epochs:
        ax2 = ax.twinx()
        ax2.plot([h["step"] for h in epochs], [h["f1"] for h in epochs], "o-", color="tab:red", label="dev F1")
        ax2.set_ylabel("dev F1")
    ax.set_title("training")
    save_figure(fig, out_dir / CURVE_FILE)
