"""K-shot adaptation and its score: what a meta-learned initialization is for, so it is also how
checkpoints are selected and how initializations are compared (`zeroxqa adapt-eval`)."""

from __future__ import annotations

import random
import time

from zeroxqa.config import AdaptConfig, ReaderConfig
from zeroxqa.evaluate import ALL, evaluate
from zeroxqa.inference.engine import QAEngine
from zeroxqa.meta.inner import inner_adapt
from zeroxqa.model import Reader, load_reader


def k_shot(rows: list[dict], k: int, seed: int) -> list[dict]:
    """The first K of a seeded shuffle (all of them when K is 0 or larger than the set)."""
    rows = sorted(rows, key=lambda r: r["id"])
    random.Random(seed).shuffle(rows)
    return rows if k <= 0 else rows[:k]


def adapt_and_score(reader: Reader, train_rows: list[dict], dev_rows: list[dict], k: int, cfg: AdaptConfig,
                    reader_cfg: ReaderConfig) -> dict:
    """Adapt `reader` in place on K examples, calibrate the no-answer threshold on those same K examples
    (all a user with K labels has), and score the domain's dev rows at that threshold."""
    shots = k_shot(train_rows, k, cfg.seed)
    started = time.perf_counter()
    steps = cfg.steps(len(shots))
    inner_adapt(reader.model, reader.tokenizer, shots, reader_cfg, steps, cfg.learning_rate, cfg.batch_size, cfg.seed)
    engine = QAEngine.from_reader(reader, reader_cfg, threshold=0.0)
    _, threshold = evaluate(engine, shots).calibrate()
    dev = dev_rows[: cfg.max_dev] if cfg.max_dev else dev_rows
    metrics = next(m for m in evaluate(engine, dev, threshold=threshold).per_domain() if m["domain"] == ALL)
    return {"shots": len(shots), "steps": steps, "threshold": threshold, "seconds": time.perf_counter() - started,
            **{k_: metrics[k_] for k_ in ("n", "exact", "f1", "HasAns_f1", "NoAns_f1")}}


def adapt_eval(inits: dict[str, str], targets: dict[str, tuple[list[dict], list[dict]]], cfg: AdaptConfig,
               reader_cfg: ReaderConfig, progress=lambda msg: None) -> list[dict]:
    """Every initialization x every target domain x every K: one row each, then the mean over domains."""
    rows = []
    for name, source in inits.items():
        for domain, (train_rows, dev_rows) in targets.items():
            for k in cfg.shots:
                progress(f"{name} -> {domain}, K={k or 'all'}")
                result = adapt_and_score(load_reader(source), train_rows, dev_rows, k, cfg, reader_cfg)
                rows.append({"init": name, "domain": domain, "K": k or "all", **result})
    means = []
    for name in inits:
        for k in cfg.shots:
            group = [r for r in rows if r["init"] == name and r["K"] == (k or "all")]
            means.append({"init": name, "domain": "(mean)", "K": k or "all",
                          **{m: sum(r[m] for r in group) / len(group) for m in ("f1", "exact", "HasAns_f1")}})
    return rows + means
