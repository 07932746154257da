"""The stages of the retraining DAG as plain functions: artifact paths in, artifact paths out.

Each stage derives a key from the content of its inputs, its config and the code version, writes into
`ROOT/<stage>/<key>` and marks the folder done. Called again with the same inputs it returns the finished
folder at once; that is what makes a failed run resumable, with or without an orchestrator. The Prefect
tasks in `tasks/` wrap these functions and cache on the same keys.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from zeroxqa.registry.artifacts import is_done, mark_done, stage_dir, stage_key, stage_lock
from zeroxqa.registry.atomic import write_json
from zeroxqa.config import (AdaptLMConfig, BenchConfig, MetaConfig, ReaderConfig, RetrievalConfig, ShardConfig, SynthConfig,
                            TrainConfig)
from zeroxqa.ingest.dataset import domain_splits, load_rows, rows_sha256
from zeroxqa.isolate import run_isolated


_MEASURING = threading.Lock()


def measuring_lock():
    """One benchmark at a time on this machine, whichever process or flow run measures: latencies measured
    side by side would be meaningless (the thread lock `_MEASURING` serves the threads of one process)."""
    import tempfile

    from filelock import FileLock

    return FileLock(str(Path(tempfile.gettempdir()) / "zeroxqa-measuring.lock"))

# where each stage writes under the run root (then /<key>); a template filled from the stage's parameters
FOLDERS = {"shard": "shards-{name}", "meta": "meta", "synth": "synth", "adapt_lm": "adapt_lm", "finetune": "finetune",
           "quantize": "quantize", "benchmark": "benchmark", "decide": "decide", "index": "index"}


def _fresh(folder: Path) -> Path:
    """Start a stage folder anew (a half-written one from a killed run is discarded)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def shard_key(sources: list[str], cfg: ShardConfig, name: str) -> str:
    from zeroxqa.ingest.formats import SourceSpec

    specs = [SourceSpec.parse(s) for s in sources]
    return stage_key("shard", [s.path for s in specs], cfg, name=name, sources=[str(s) for s in specs])


def shard_stage(sources: list[str], root: str, cfg: ShardConfig, name: str) -> str:
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.shard import shard

    out = stage_dir(root, FOLDERS["shard"].format(name=name), shard_key(sources, cfg, name))
    with stage_lock(out):
        if not is_done(out):
            shard([SourceSpec.parse(s) for s in sources], _fresh(out), cfg)
            mark_done(out)
    return str(out)


def domain_data(shards: str, domain: str) -> str:
    """What a domain's own stages depend on in a shard folder: the content hashes of its own shard files (from
    the manifest), not the folder's. A nightly run where one domain is new or changed gets a new shard
    folder, but every other domain keeps its keys, so its fine-tune, export, benchmark, decision and index
    are reused. A folder without per-domain rows (or an older manifest) counts whole."""
    import hashlib

    import pyarrow.parquet as pq

    from zeroxqa.registry.artifacts import content_hash

    manifest = Path(shards) / "manifest.parquet"
    rows = pq.read_table(manifest).to_pylist() if manifest.exists() else []
    own = sorted((r["kind"], r.get("sha256") or "") for r in rows if r.get("domain") == domain)
    if not own or not all(h for _, h in own):
        return content_hash(shards)
    return hashlib.sha256(json.dumps(own).encode()).hexdigest()


def domains_of(shards: str, kind: str = "qa") -> list[str]:
    import pyarrow.parquet as pq

    return sorted(r["domain"] for r in pq.read_table(Path(shards) / "manifest.parquet").to_pylist() if r["kind"] == kind)


def meta_key(in_shards: str, base: str, val_domains: list[str], cfg: MetaConfig, reader_cfg: ReaderConfig) -> str:
    return stage_key("meta", [in_shards], {"meta": cfg.model_dump(), "reader": reader_cfg.model_dump()},
                     base=base, val=sorted(val_domains), base_hash=_model_hash(base))


def meta_stage(in_shards: str, root: str, base: str, val_domains: list[str], cfg: MetaConfig, reader_cfg: ReaderConfig) -> str:
    """Meta-train on the in-domain shards; returns the best meta checkpoint. A killed run resumes from its
    last meta-epoch checkpoint (the stage folder is kept until it is done)."""
    from zeroxqa.meta.train import meta_train

    out = stage_dir(root, FOLDERS["meta"], meta_key(in_shards, base, val_domains, cfg, reader_cfg))
    with stage_lock(out):
        if not is_done(out):
            splits = domain_splits([in_shards])
            train = {d: tr for d, (tr, _) in splits.items() if d not in val_domains and tr}
            val = {d: splits[d] for d in val_domains if d in splits}
            meta_train(base, train, val, out, cfg, reader_cfg)
            mark_done(out)
    return str(out / "best")


def _model_hash(model: str) -> str:
    """Content of a model folder, short names ('squad', 'minilm') resolved to the packaged folders (they
    change with the packages); a hub id stands for itself."""
    from zeroxqa.registry.artifacts import content_hash
    from zeroxqa.reader.model import resolve_model_path

    model = resolve_model_path(model)
    return content_hash(model) if Path(model).exists() else model


def synth_key(shards: str, domain: str, reader: str, cfg: SynthConfig) -> str:
    return stage_key("synth", [], cfg, domain=domain, data=domain_data(shards, domain), reader=reader,
                     reader_hash=_model_hash(reader))


def synth_stage(shards: str, domain: str, reader: str, root: str, cfg: SynthConfig) -> str:
    """Synthetic QA for a domain that has paragraphs only, filtered by `reader`; returns a shard-like folder
    (its paragraphs' train/dev split carries over, so the synthetic dev split calibrates the fine-tune).
    Runs in its own process, like the fine-tunes: loading a model is not safe beside another in threads."""
    out = stage_dir(root, FOLDERS["synth"], synth_key(shards, domain, reader, cfg))
    with stage_lock(out):
        if not is_done(out):
            run_isolated(_synth, shards, domain, reader, str(_fresh(out)), cfg)
            mark_done(out)
    return str(out)


def _synth(shards: str, domain: str, reader: str, out: str, cfg: SynthConfig) -> None:
    from zeroxqa.synth.run import synth_domain

    synth_domain([shards], domain, reader, out, cfg)


def synthetic_filter(base: str, fine_tuned: list[str]) -> str | None:
    """The reader that filters a paragraph-only domain's synthetic questions when none is named: the base
    reader, which no other domain changes (so adding or changing one domain leaves every synthetic domain's
    stages as they were); a bare encoder (no QA head) cannot filter, then the first fine-tuned reader."""
    from zeroxqa.reader.paths import BASE_ALIASES

    if base.lower() not in BASE_ALIASES:
        return base
    return fine_tuned[0] if fine_tuned else None


def synthetic_split_problem(shards: str) -> str | None:
    """Why a synthetic folder cannot be fine-tuned on and scored (it needs train and dev pairs), or None."""
    import pyarrow.parquet as pq

    manifest = pq.read_table(Path(shards) / "manifest.parquet").to_pylist()
    train, dev = sum(r["train"] for r in manifest), sum(r["dev"] for r in manifest)
    if train and dev:
        return None
    return f"synthetic QA kept {train} train and {dev} dev pairs, it needs both (see {shards}/provenance.parquet)"


def is_synthetic(shards: str) -> bool:
    return (Path(shards) / "synth.json").exists()


def best_registered_reader(registry: str) -> str | None:
    """The promoted reader with the highest F1 across domains: the default round-trip filter of onboarding."""
    from zeroxqa.registry.store import good_entry, load_registry

    entries = [good_entry(e)[0] for e in load_registry(registry)["domains"].values()]
    entries = [e for e in entries if e is not None and Path(e["model"]).exists()]
    return max(entries, key=lambda e: e["f1"])["model"] if entries else None


def adapt_lm_key(init: str, shards: str, domain: str, cfg: AdaptLMConfig) -> str:
    return stage_key("adapt_lm", [], cfg, domain=domain, data=domain_data(shards, domain), init_hash=_model_hash(init))


def adapt_lm_stage(init: str, shards: str, domain: str, root: str, cfg: AdaptLMConfig) -> str:
    """Self-supervised domain adaptation of `init` on the paragraphs of the domain's train split (masked LM,
    whole words), in its own process; returns the adapted reader's folder, the fine-tune's init."""
    out = stage_dir(root, FOLDERS["adapt_lm"], adapt_lm_key(init, shards, domain, cfg))
    with stage_lock(out):
        if not is_done(out):
            run_isolated(_adapt_lm, init, shards, domain, str(_fresh(out) / "model"), cfg)
            mark_done(out)
    return str(out / "model")


def _adapt_lm(init: str, shards: str, domain: str, model_dir: str, cfg: AdaptLMConfig) -> None:
    from zeroxqa.adapt.lm import adapt_lm
    from zeroxqa.reader.model import load_reader, save_reader

    reader = load_reader(init)
    adapt_lm(reader, [r["context"] for r in load_rows([shards], "train", [domain])], cfg)
    reader.card = {**reader.card, "domain": domain, "init": init}
    save_reader(reader, model_dir)


def finetune_key(init: str, shards: str, domain: str, cfg: TrainConfig, reader_cfg: ReaderConfig) -> str:
    # the init may be a short name ('squad', 'minilm') or a hub id as well as a folder
    return stage_key("finetune", [], {"train": cfg.model_dump(), "reader": reader_cfg.model_dump()}, domain=domain,
                     data=domain_data(shards, domain), init_hash=_model_hash(init))


def finetune_stage(init: str, shards: str, domain: str, root: str, cfg: TrainConfig, reader_cfg: ReaderConfig) -> str:
    """Fine-tune `init` on one domain's train split (dev split picks the epoch and the threshold), in its
    own process so that several domains can fine-tune at once."""
    out = stage_dir(root, FOLDERS["finetune"], finetune_key(init, shards, domain, cfg, reader_cfg))
    with stage_lock(out):
        if not is_done(out):
            run_isolated(_finetune, init, shards, domain, str(_fresh(out) / "model"), cfg, reader_cfg)
            mark_done(out)
    return str(out / "model")


def _finetune(init: str, shards: str, domain: str, model_dir: str, cfg: TrainConfig, reader_cfg: ReaderConfig) -> None:
    from zeroxqa.reader.model import load_reader
    from zeroxqa.reader.train import train_reader

    train_rows, dev_rows = load_rows([shards], "train", [domain]), load_rows([shards], "dev", [domain])
    card = {"domain": domain, "init": init, "train_data_sha256": rows_sha256(train_rows)}
    train_reader(load_reader(init), train_rows, dev_rows, model_dir, reader_cfg, cfg, card=card)


def quantize_key(model_dir: str) -> str:
    from zeroxqa.speed.export.cpu import quantization_preset

    return stage_key("quantize", [model_dir], preset=quantization_preset())


def quantize_stage(model_dir: str, root: str) -> str:
    """Export to ONNX and quantize to int8 with this CPU's preset (in its own process); returns the stage
    folder holding `onnx-fp32/` and `onnx-int8/`."""
    out = stage_dir(root, FOLDERS["quantize"], quantize_key(model_dir))
    with stage_lock(out):
        if not is_done(out):
            run_isolated(_quantize, model_dir, str(_fresh(out)))
            mark_done(out)
    return str(out)


def _quantize(model_dir: str, out: str) -> None:
    from zeroxqa.speed.export.onnx import export_onnx, quantize_int8

    quantize_int8(export_onnx(model_dir, Path(out) / "onnx-fp32"), Path(out) / "onnx-int8")


def benchmark_key(model_dir: str, quantized: str, shards: str, domain: str, cfg: BenchConfig) -> str:
    return stage_key("benchmark", [model_dir, quantized], cfg, domain=domain, data=domain_data(shards, domain))


def benchmark_stage(model_dir: str, quantized: str, shards: str, domain: str, root: str, cfg: BenchConfig) -> dict:
    """Benchmark every variant on the domain's dev split; returns the summary (also in summary.json)."""
    from zeroxqa.speed.bench.run import run_bench
    from zeroxqa.speed.bench.variants import build_variants
    from zeroxqa.speed.export.cpu import cpu_description

    out = stage_dir(root, FOLDERS["benchmark"], benchmark_key(model_dir, quantized, shards, domain, cfg))
    with stage_lock(out):
        if not is_done(out):
            rows = load_rows([shards], "dev", [domain])
            eval_data = "synthetic dev" if is_synthetic(shards) else "dev"
            given = {"onnx-fp32": Path(quantized) / "onnx-fp32", "onnx-int8": Path(quantized) / "onnx-int8"}
            # the remaining exports run in their own process; the measurements already do. The flows' gate
            # (`only` the quantize stage's variants) builds nothing more
            _fresh(out)
            prebuilt = given if cfg.only and set(cfg.only) <= set(given) else run_isolated(
                build_variants, model_dir, out / "variants", cfg.optimize_level, given)
            with _MEASURING, measuring_lock():  # one benchmark at a time on the machine
                result = run_bench(model_dir, rows, out, cfg, data_label=f"{domain} {eval_data}", progress=lambda m: None,
                                   prebuilt=prebuilt)
            accepted = next(r for r in result["results"] if r["variant"] == result["decision"].accepted)
            summary = {
                "domain": domain,
                "eval_data": eval_data,
                "accepted": result["decision"].accepted,
                "model": str(result["variants"][result["decision"].accepted]),
                "f1": accepted["f1"],
                "exact": accepted["exact"],
                "p50_ms": accepted["p50_ms"],
                "reasons": result["decision"].reasons,
                "cpu": cpu_description(),  # latencies depend on it: the registry keeps it beside p50_ms
                "report": str(out / "report.md"),
                "table": [{k: v for k, v in r.items() if k != "latencies_ms"} for r in result["results"]],
            }
            write_json(summary, out / "summary.json")
            mark_done(out)
    return json.loads((out / "summary.json").read_text())


def decide_key(summary: dict, init: str, shards: str, domain: str) -> str:
    return stage_key("decide", [summary["model"]], None, domain=domain, data=domain_data(shards, domain),
                     init_hash=_model_hash(init), init=init)


def decide_stage(summary: dict, init: str, shards: str, domain: str, root: str) -> dict:
    """The adapted reader (the benchmark's accepted variant) against the base it was adapted from, on the
    domain's dev questions, paired (`zeroxqa.adapt.decision`): the adapted one ships only when its gain is
    real; otherwise the base ships, with its threshold fitted to the domain when that is measurably better.
    Returns the benchmark summary with `model`/`f1` of the reader that ships and the decision beside them."""
    out = stage_dir(root, FOLDERS["decide"], decide_key(summary, init, shards, domain))
    with stage_lock(out):
        if not is_done(out):
            decision = run_isolated(_decide, summary["model"], init, shards, domain, str(_fresh(out)))
            write_json(decision, out / "decision.json")
            mark_done(out)
    decision = json.loads((out / "decision.json").read_text())
    adapted = {"adapted_model": summary["model"], "adapted_f1": summary["f1"], "adapted_exact": summary["exact"]}
    return {**summary, **adapted, **decision}


def _decide(adapted: str, init: str, shards: str, domain: str, out: str) -> dict:
    from zeroxqa.adapt.ship import decide_for_domain

    return decide_for_domain(adapted, init, load_rows([shards], "dev", [domain]), Path(out))


def index_key(shards: str, domain: str, cfg: RetrievalConfig) -> str:
    return stage_key("index", [], cfg, domain=domain, data=domain_data(shards, domain), encoder_hash=_model_hash(cfg.encoder))


def index_stage(shards: str, domain: str, root: str, cfg: RetrievalConfig) -> str:
    """The domain's retrieval index (BM25 + dense vectors of its distinct paragraphs), in its own process
    (it loads the sentence encoder); returns the index folder, which serving and `zeroxqa ask` load."""
    out = stage_dir(root, FOLDERS["index"], index_key(shards, domain, cfg))
    with stage_lock(out):
        if not is_done(out):
            run_isolated(_index, shards, domain, str(_fresh(out) / "index"), cfg)
            mark_done(out)
    return str(out / "index")


def _index(shards: str, domain: str, folder: str, cfg: RetrievalConfig) -> None:
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.retrieval.index import DomainIndex

    DomainIndex.build(domain, load_paragraphs([shards], domain), cfg).save(folder)


def report_markdown(benchmarks: list[dict], promotions: list[dict], skipped: dict[str, str]) -> str:
    """The retraining report: per domain, the base reader's F1 and the adapted one's on the same questions,
    the interval of their difference, what ships and why, and the registry's decision."""
    lines = ["# ZeroxQA retraining report", "",
             "| domain | scored on | questions | always abstain F1 | base F1 | adapted F1 | adapted - base | shipped | shipped F1 "
             "| adapted variant | p50 ms | registry |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_domain = {p["domain"]: p for p in promotions}
    for b in benchmarks:
        p = by_domain.get(b["domain"], {})
        base, abstain = b.get("base_f1"), b.get("abstain_f1")
        lines.append(f"| {b['domain']} | {b.get('eval_data', 'dev')} | {b.get('questions', '')} | "
                     f"{'' if abstain is None else f'{abstain:.2f}'} | "
                     f"{'' if base is None else f'{base:.2f}'} | {b.get('adapted_f1', b['f1']):.2f} | "
                     f"{b.get('interval', '')} | {b.get('shipped', 'adapted')} | {b['f1']:.2f} | {b['accepted']} | "
                     f"{b['p50_ms']:.1f} | {p.get('reason', '')} |")
    for domain, why in skipped.items():
        lines.append(f"| {domain} | | | | | | | (skipped) | | | | {why} |")
    lines += ["", "*adapted - base*: mean paired F1 difference on the same questions with its 90% bootstrap interval "
              "(its lower end a one-sided 95% bound). "
              "The adapted reader ships only when the interval lies above zero and its HasAns F1 is not significantly "
              "below the base's; otherwise the base ships (as it is, or with its no-answer threshold fitted to the domain)."]
    reasons = [f"- {b['domain']}: {b['decision']}" + (" **Needs more labels**: no reader beats always abstaining."
                                                      if b.get("needs_more_labels") else "")
               for b in benchmarks if b.get("decision")]
    if reasons:
        lines += ["", "Why each domain ships what it ships:", ""] + reasons
    if any(b.get("eval_data") == "synthetic dev" for b in benchmarks):
        lines += ["", "Domains scored on *synthetic dev* had paragraphs only: their F1 is measured on generated questions, "
                  "not comparable with real-question F1; label some questions before relying on it."]
    lines += ["", "Per-domain benchmark reports:", ""] + [f"- {b['domain']}: `{b['report']}`" for b in benchmarks]
    return "\n".join(lines) + "\n"


def current_meta_model(registry: str) -> str:
    """The initialization of the last retraining (its meta model, or its base reader when it did not
    meta-learn; recorded in the registry), else the shipped reference reader."""
    from zeroxqa.registry.store import load_registry

    return load_registry(registry).get("meta_model") or "squad"


def register_stage(registry: str, domain: str, candidate: dict) -> dict:
    """Promote the candidate the decide stage shipped, unless its model's stage folder no longer holds what
    that stage recorded (checked by content, every file re-hashed): a damaged candidate is never registered."""
    from dataclasses import asdict

    from zeroxqa.registry.artifacts import DONE, verify_done
    from zeroxqa.registry.store import Promotion, promote

    model = Path(candidate["model"])
    for folder in [model, *model.parents][:4]:
        if (folder / DONE).exists():
            problems = verify_done(folder, deep=True)
            if problems:
                reason = f"refused: the candidate's stage folder {folder} no longer matches what it recorded ({'; '.join(problems[:3])})"
                return asdict(Promotion(domain, False, reason, float(candidate["f1"]), None))
            break
    return asdict(promote(registry, domain, candidate))
