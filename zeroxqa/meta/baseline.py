"""The equal-compute baseline: joint fine-tuning on all in-domain rows pooled, reading as many examples
as meta-training read."""

from __future__ import annotations

import math
from pathlib import Path

from zeroxqa.config import MetaConfig, ReaderConfig, TrainConfig
from zeroxqa.reader.model import load_reader
from zeroxqa.reader.train import TrainResult, train_reader


def examples_seen(cfg: MetaConfig) -> int:
    return cfg.examples_per_meta_step * cfg.meta_steps_per_epoch * cfg.meta_epochs


def joint_baseline(base: str, domains: dict[str, list[dict]], out: str | Path, meta_cfg: MetaConfig,
                   reader_cfg: ReaderConfig, batch_size: int = 16) -> TrainResult:
    rows = [r for d in sorted(domains) for r in domains[d]]
    steps = max(1, math.ceil(examples_seen(meta_cfg) / batch_size))
    cfg = TrainConfig(epochs=max(1, math.ceil(steps * batch_size / len(rows))), batch_size=batch_size,
                      learning_rate=meta_cfg.inner_lr, max_steps=steps, seed=meta_cfg.seed, warmup_ratio=0.0,
                      device=meta_cfg.device)
    card = {"baseline": "joint multi-domain fine-tuning", "examples_seen": steps * batch_size,
            "domains": sorted(domains)}
    return train_reader(load_reader(base), rows, [], out, reader_cfg, cfg, card=card)
