"""The main job on the embedded sample: shard -> train an in-domain reader -> evaluate in and out of domain.

This is the laptop-sized path through the stages that exist; the Prefect `retrain` flow wires the same
functions with caching and the later stages (meta-learning, synthesis, quantization, benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from zeroxqa.atomic import write_parquet
from zeroxqa.config import MainJobConfig, TrainConfig
from zeroxqa.dataset import load_rows, rows_sha256
from zeroxqa.evaluate import evaluate
from zeroxqa.inference.engine import QAEngine
from zeroxqa.model import load_reader
from zeroxqa.readers import SourceSpec
from zeroxqa.sample import POLICY_SITES, POLICY_UNLABELED, SQUAD_THEMES
from zeroxqa.shard import ShardResult, shard
from zeroxqa.train import train_reader


@dataclass
class MainJobResult:
    in_shards: ShardResult
    out_shards: ShardResult
    model_dir: Path
    metrics_path: Path
    metrics: list[dict]


def run_main_job(cfg: MainJobConfig | None = None) -> MainJobResult:
    cfg = cfg or MainJobConfig()
    out = Path(cfg.out)
    in_shards = shard([SourceSpec(SQUAD_THEMES)], out / "shards" / "in_domain", cfg.shard)
    out_shards = shard([SourceSpec(POLICY_SITES), SourceSpec(POLICY_UNLABELED)], out / "shards" / "out_domain", cfg.shard)
    train_rows = load_rows([in_shards.out], "train")
    dev_rows = load_rows([in_shards.out], "dev")
    reader = load_reader("minilm")
    card = {"train_data_sha256": rows_sha256(train_rows), "domains": sorted({r["domain"] for r in train_rows})}
    result = train_reader(reader, train_rows, dev_rows, out / "models" / "in_domain", cfg.reader,
                          TrainConfig(epochs=cfg.epochs, max_steps=cfg.max_steps), card=card)
    engine = QAEngine.load(result.model_dir)
    metrics = []
    for scope, shards in (("in_domain", in_shards.out), ("out_domain", out_shards.out)):
        ev = evaluate(engine, load_rows([shards], "dev"))
        metrics += [{"scope": scope, **m} for m in ev.per_domain()]
    metrics_path = write_parquet(pa.Table.from_pylist(metrics), out / "reports" / "metrics.parquet")
    return MainJobResult(in_shards, out_shards, result.model_dir, metrics_path, metrics)
