"""The meta-training driver: sample tasks, run their inner loops on workers, apply the first-order meta
update; every few meta-steps, checkpoint the run state (a killed run resumes there: every meta-step is
seeded, so the resumed run equals an uninterrupted one); after each meta-epoch, save `last/` and select
`best/` by K-shot F1 (then span F1) on validation domains."""

from __future__ import annotations

import copy
import math
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from zeroxqa.registry.atomic import write_json
from zeroxqa.reader.checkpoint import RunState, has_checkpoint, load_checkpoint, peek_checkpoint, save_checkpoint
from zeroxqa.config import AdaptConfig, MetaConfig, ReaderConfig
from zeroxqa.meta.adapt import adapt_and_score
from zeroxqa.meta.algorithms import apply_meta_update, outer_optimizer
from zeroxqa.meta.inner import get_state
from zeroxqa.meta.tasks import sample_tasks
from zeroxqa.meta.worker import WorkerPool
from zeroxqa.reader.model import Reader, load_reader, save_reader
from zeroxqa.progress import bar as progress_bar, note

STATE_FILE = "meta_state.json"
CHECKPOINT_DIR = "checkpoint"  # model, outer optimizer and position (safetensors + JSON), every few meta-steps


@dataclass
class MetaResult:
    best_dir: Path
    last_dir: Path
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def step_seed(seed: int, epoch: int, step: int) -> int:
    return seed * 1_000_003 + epoch * 10_007 + step


def validate(reader: Reader, val: dict[str, tuple[list[dict], list[dict]]], cfg: MetaConfig, reader_cfg: ReaderConfig) -> dict:
    """Mean F1 over validation domains after a K-shot adaptation of a copy of the meta weights, and the
    mean span F1 (answerable questions, best span always given)."""
    adapt_cfg = AdaptConfig(min_steps=cfg.adapt_steps, epochs=1, seed=cfg.seed, max_dev=64, device=cfg.device)
    scores = {}
    for domain, (train_rows, dev_rows) in val.items():
        trial = Reader(copy.deepcopy(reader.model), reader.tokenizer, reader.card)
        scores[domain] = adapt_and_score(trial, train_rows, dev_rows, cfg.adapt_shots, adapt_cfg, reader_cfg)
    spans = [s["span_f1"] for s in scores.values() if not math.isnan(s["span_f1"])]
    return {"val_f1": sum(s["f1"] for s in scores.values()) / max(len(scores), 1),
            "val_span_f1": sum(spans) / len(spans) if spans else -1.0,
            "val_f1_by_domain": {d: s["f1"] for d, s in scores.items()}}


def selection_score(record: dict) -> tuple[float, float]:
    """What picks the best checkpoint: K-shot F1, then span F1. With few shots and a young QA head the
    reader says "no answer" to everything after adapting, so F1 is the no-answer share for every
    checkpoint; the span F1 still tells them apart."""
    return record["val_f1"], record.get("val_span_f1", -1.0)


def meta_train(base: str, domains: dict[str, list[dict]], val: dict[str, tuple[list[dict], list[dict]]], out: str | Path,
               cfg: MetaConfig | None = None, reader_cfg: ReaderConfig | None = None) -> MetaResult:
    """Meta-train from `base` (or resume from `out/last`) on the in-domain train rows of `domains`."""
    cfg, reader_cfg = cfg or MetaConfig(), reader_cfg or ReaderConfig()
    out = Path(out)
    last, best_dir = out / "last", out / "best"
    state = json.loads((out / STATE_FILE).read_text()) if (out / STATE_FILE).exists() else None
    source = str(last) if state else base
    reader = load_reader(source)
    optimizer = outer_optimizer(reader.model, cfg.algorithm, cfg.outer_lr)
    history = state["history"] if state else []
    start_epoch, start_step, losses = (state["epoch"] + 1) if state else 1, 0, []
    ckpt = out / CHECKPOINT_DIR
    if has_checkpoint(ckpt) and (peek_checkpoint(ckpt).epoch, peek_checkpoint(ckpt).batch_in_epoch) >= (start_epoch, 0):
        run = load_checkpoint(ckpt, reader.model, optimizer)  # the newest state there is: weights and optimizer
        start_epoch, start_step, history, losses = run.epoch, run.batch_in_epoch, run.history, run.extra.get("losses", [])
        if start_step:
            note(f"resuming meta-epoch {start_epoch} at meta-step {start_step + 1}")
    scored = [h for h in history if not math.isnan(h["val_f1"])]
    best = max(scored, key=lambda h: (selection_score(h), h["epoch"]), default=None)  # a resumed run keeps its pick
    pool = WorkerPool(source, reader_cfg, cfg.workers, cfg.ray_address, cfg.threads, cfg.device)
    started = time.perf_counter()
    n_support = cfg.inner_steps * cfg.inner_batch_size

    def checkpoint(epoch: int, next_step: int) -> None:
        save_checkpoint(ckpt, reader.model, optimizer, RunState(epoch=epoch, batch_in_epoch=next_step, history=history,
                                                                 extra={"losses": losses}))

    try:
        for epoch in range(start_epoch, cfg.meta_epochs + 1):
            t0 = time.perf_counter()
            first = start_step if epoch == start_epoch else 0
            for step in progress_bar(range(first, cfg.meta_steps_per_epoch), desc=f"meta-epoch {epoch}", unit="meta-step", leave=False,
                             initial=first, total=cfg.meta_steps_per_epoch):
                seed = step_seed(cfg.seed, epoch, step)
                tasks = sample_tasks(domains, cfg.tasks_per_batch, cfg.temperature, n_support, cfg.query_size, seed)
                updates = pool.run(get_state(reader.model), tasks, cfg, [seed + i for i in range(len(tasks))])
                apply_meta_update(reader.model, optimizer, [u.pseudo_grad for u in updates])
                losses += [u.query_loss if u.query_loss is not None else u.support_loss for u in updates]
                if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.meta_steps_per_epoch:
                    checkpoint(epoch, step + 1)
            record = {"epoch": epoch, "loss": sum(losses) / len(losses), "seconds": time.perf_counter() - t0,
                      **(validate(reader, val, cfg, reader_cfg) if val else {"val_f1": float("nan")})}
            history.append(record)
            losses = []
            note(f"meta-epoch {epoch}: task loss {record['loss']:.3f}, K-shot val F1 {record['val_f1']:.2f}, "
                       f"span F1 {record.get('val_span_f1', float('nan')):.2f}")
            # the no-answer threshold stays the base reader's (meta-training has no data to calibrate it on, and
            # adapt-eval only raises an initialization's own): a bare 0.0 made meta inits answer more than the base
            reader.card = {**reader.card, "meta_config": cfg.model_dump(), "reader_config": reader_cfg.model_dump(),
                           "meta_epoch": epoch, "meta_history": history,
                           "null_threshold": reader.null_threshold}
            save_reader(reader, last)
            if not val or best is None or selection_score(record) >= selection_score(best):  # a tie goes to the later
                best = record if val else None
                save_reader(reader, best_dir)
            checkpoint(epoch + 1, 0)  # before the state file: a kill between the two resumes from the checkpoint
            write_json({"epoch": epoch, "best_epoch": best["epoch"] if best else epoch, "history": history}, out / STATE_FILE)
    finally:
        pool.close()
    return MetaResult(best_dir, last, history, time.perf_counter() - started)
