"""K-shot adaptation and its score: what a meta-learned initialization is for, so it is also how
checkpoints are selected and how initializations are compared (`zeroxqa adapt-eval`)."""

from __future__ import annotations

import math
import random
import time
from typing import Callable, Iterable

from zeroxqa.config import AdaptConfig, ReaderConfig
from zeroxqa.evaluate import ALL, evaluate
from zeroxqa.inference.engine import QAEngine
from zeroxqa.meta.inner import inner_adapt
from zeroxqa.model import Reader, load_reader

MEAN = "(mean)"


def k_shot(rows: list[dict], k: int, seed: int) -> list[dict]:
    """The first K of a seeded shuffle (all of them when K is 0 or larger than the set)."""
    rows = sorted(rows, key=lambda r: r["id"])
    random.Random(seed).shuffle(rows)
    return rows if k <= 0 else rows[:k]


def adapt_and_score(reader: Reader, train_rows: list[dict], dev_rows: list[dict], k: int, cfg: AdaptConfig,
                    reader_cfg: ReaderConfig) -> dict:
    """Adapt `reader` in place on K examples, calibrate the no-answer threshold on those same K examples
    (all a user with K labels has; when none of them is unanswerable, they can only raise the reader's own),
    and score the domain's dev rows at that threshold."""
    shots = k_shot(train_rows, k, cfg.seed)
    started = time.perf_counter()
    steps = cfg.steps(len(shots))
    inner_adapt(reader.model, reader.tokenizer, shots, reader_cfg, steps, cfg.learning_rate, cfg.batch_size, cfg.seed)
    engine = QAEngine.from_reader(reader, reader_cfg)
    threshold = evaluate(engine, shots).abstention_threshold()
    dev = evaluate(engine, dev_rows[: cfg.max_dev] if cfg.max_dev else dev_rows, threshold=threshold)
    metrics = next(m for m in dev.per_domain() if m["domain"] == ALL)
    # the best span always given: how good the spans are, whatever K examples made of the threshold
    forced = next(m for m in dev.per_domain(threshold=math.inf) if m["domain"] == ALL)
    return {"shots": len(shots), "steps": steps, "threshold": threshold, "seconds": time.perf_counter() - started,
            **{k_: metrics[k_] for k_ in ("n", "exact", "f1", "HasAns_f1", "NoAns_f1")}, "span_f1": forced["HasAns_f1"]}


def cell(row: dict) -> tuple[str, str, str, str]:
    """What a table row measures: initialization, domain, K (as text: "16", "all") and the setup (the
    initialization's path and every setting), so a resumed run never reuses a row measured differently."""
    return row["init"], row["domain"], str(row["K"]), row.get("setup") or ""


def setup_of(source: str, cfg: AdaptConfig, reader_cfg: ReaderConfig) -> str:
    return f"{source} {cfg.model_dump_json(exclude={'shots'})} {reader_cfg.model_dump_json()}"


def adapt_eval(inits: dict[str, str], targets: dict[str, tuple[list[dict], list[dict]]], cfg: AdaptConfig,
               reader_cfg: ReaderConfig, progress: Callable[[str], None] = lambda msg: None,
               done: Iterable[dict] = (), on_row: Callable[[list[dict]], None] = lambda rows: None) -> list[dict]:
    """Every initialization x every target domain x every K: one row each, then the mean over domains.

    A run is long (each cell is a fine-tune), so `on_row` gets the rows so far after every cell, and the
    cells already in `done` (an interrupted run's rows) are kept rather than measured again."""
    setups = {setup_of(source, cfg, reader_cfg) for source in inits.values()}
    rows = [r for r in done if r["domain"] != MEAN and r.get("setup") in setups]
    measured = {cell(r) for r in rows}
    for name, source in inits.items():
        for domain, (train_rows, dev_rows) in targets.items():
            for k in cfg.shots:
                row = {"init": name, "domain": domain, "K": str(k or "all"), "setup": setup_of(source, cfg, reader_cfg)}
                if cell(row) in measured:
                    continue
                progress(f"{name} -> {domain}, K={row['K']}")
                rows.append({**row, **adapt_and_score(load_reader(source), train_rows, dev_rows, k, cfg, reader_cfg)})
                on_row(rows)
    means = []
    for name in inits:
        for k in cfg.shots:
            group = [r for r in rows if r["init"] == name and r["K"] == str(k or "all") and r["domain"] in targets]
            means.append({"init": name, "domain": MEAN, "K": str(k or "all"),
                          **{m: sum(r[m] for r in group) / len(group) for m in ("f1", "exact", "HasAns_f1")}})
    return rows + means
