"""Adaptation commands: `meta-train`, `adapt-eval`, `adapt-lm`, `synth`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import (_READER, Device, DocStride, Domains, MaxLength, Shards, app, clear_input_errors, console,
                                err_console, print_table)
from zeroxqa.config import AdaptConfig, AdaptLMConfig, MetaConfig, ReaderConfig, SynthConfig
from zeroxqa.reader.paths import check_model_dir
from zeroxqa.reader.reference import DEFAULT_READER

_SYNTH = SynthConfig()


_META = MetaConfig()
_ADAPT = AdaptConfig()
_LM = AdaptLMConfig()


@app.command("meta-train")
def meta_train_cmd(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder: last/, best/, meta_state.json (resumable)")],
    algorithm: Annotated[str, typer.Option(help="fomaml or reptile")] = _META.algorithm,
    base: Annotated[str, typer.Option(help="initialization: 'squad' (the reference reader), 'minilm', a HF name or a folder")] = DEFAULT_READER,
    domain: Domains = None,
    val_domain: Annotated[list[str] | None, typer.Option("--val-domain", help="held out to select checkpoints (repeatable)")] = None,
    meta_epochs: Annotated[int, typer.Option()] = _META.meta_epochs,
    meta_steps: Annotated[int, typer.Option(help="meta-steps per meta-epoch")] = _META.meta_steps_per_epoch,
    tasks_per_batch: Annotated[int, typer.Option()] = _META.tasks_per_batch,
    inner_steps: Annotated[int, typer.Option()] = _META.inner_steps,
    inner_lr: Annotated[float, typer.Option()] = _META.inner_lr,
    meta_lr: Annotated[float | None, typer.Option(help="default 0.5 (Reptile) or 5e-5 (FOMAML)")] = _META.meta_lr,
    temperature: Annotated[float, typer.Option(help="task sampling: 1 proportional to size, large uniform")] = _META.temperature,
    workers: Annotated[int, typer.Option(help="Ray actors; 0 runs in-process")] = _META.workers,
    ray_address: Annotated[str | None, typer.Option(help="connect to this Ray cluster")] = _META.ray_address,
    baseline: Annotated[bool, typer.Option(help="also train the equal-compute joint baseline into OUT/baseline")] = False,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    device: Device = _META.device,
    seed: Annotated[int, typer.Option()] = _META.seed,
) -> None:
    """Meta-train an initialization across in-domain shards; select checkpoints by K-shot F1 on --val-domain."""
    from zeroxqa.ingest.dataset import domain_splits
    from zeroxqa.meta.baseline import examples_seen, joint_baseline
    from zeroxqa.meta.train import meta_train

    cfg = MetaConfig(algorithm=algorithm, meta_epochs=meta_epochs, meta_steps_per_epoch=meta_steps, tasks_per_batch=tasks_per_batch,
                     inner_steps=inner_steps, inner_lr=inner_lr, meta_lr=meta_lr, temperature=temperature, workers=workers,
                     ray_address=ray_address, device=device, seed=seed)
    reader_cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    with clear_input_errors():
        check_model_dir(base)
        splits = domain_splits(shards, domain)
    val_names = set(val_domain or [])
    unknown = val_names - set(splits)
    if unknown:
        err_console.print(f"[red]error:[/red] --val-domain {sorted(unknown)} not in the shards ({sorted(splits)})")
        raise typer.Exit(2)
    train_domains = {d: tr for d, (tr, _) in splits.items() if d not in val_names and tr}
    val = {d: splits[d] for d in sorted(val_names)}
    console.print(f"{cfg.algorithm}: {len(train_domains)} training domains, {len(val)} validation domains, workers {workers}")
    result = meta_train(base, train_domains, val, out, cfg, reader_cfg)
    print_table("Meta-training", [{k: h.get(k, float("nan")) for k in ("epoch", "loss", "seconds", "val_f1", "val_span_f1")}
                                  for h in result.history])
    console.print(f"{result.seconds:.0f} s; best: {result.best_dir}; last: {result.last_dir}")
    if baseline:
        b = joint_baseline(base, train_domains, out / "baseline", cfg, reader_cfg)
        console.print(f"baseline ({examples_seen(cfg)} examples, {b.steps} steps, {b.seconds:.0f} s): {b.model_dir}")


@app.command("adapt-eval")
def adapt_eval_cmd(
    shards: Shards,
    init: Annotated[list[str], typer.Option("--init", help="NAME=PATH of an initialization (repeatable); 'minilm' for the base")],
    out: Annotated[Path, typer.Option("--out", "-o", help="table Parquet")],
    shots: Annotated[str, typer.Option(help="comma-separated K values; 0 means all")] = "16,64,0",
    domain: Domains = None,
    max_dev: Annotated[int | None, typer.Option(help="score at most this many dev questions per domain")] = None,
    seeds: Annotated[int, typer.Option(help="seeds per cell with K <= 64 (mean ± std over them)")] = 1,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    device: Device = _ADAPT.device,
    resume: Annotated[bool, typer.Option(help="keep the rows already in --out (written after every cell) and measure the rest")] = True,
) -> None:
    """Fine-tune each initialization on K examples of each target domain and score its dev split beside the base
    reader, the base with a threshold fitted from the K labels, and what a decision made on the K labels alone
    (cross-fitted, paired bootstrap against the base) ships. The table (one row per seed, then mean ± std
    rows) goes to --out, F1 against K as a plot beside it (.png)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zeroxqa.registry.atomic import write_parquet
    from zeroxqa.ingest.dataset import domain_splits
    from zeroxqa.meta.adapt import adapt_eval, plot_adapt_eval

    inits = dict(i.split("=", 1) if "=" in i else (i, i) for i in init)
    with clear_input_errors():
        for path in inits.values():
            check_model_dir(path)
        targets = domain_splits(shards, domain)
    cfg = AdaptConfig(shots=[int(k) for k in shots.split(",")], max_dev=max_dev, seeds=seeds, device=device)
    done = pq.read_table(out).to_pylist() if resume and out.exists() else []
    if done:
        console.print(f"resuming: {len(done)} rows already in {out}")

    def save(rows: list[dict]) -> None:
        keys = list(dict.fromkeys(k for r in rows for k in r))  # per-seed and summary rows have different fields
        write_parquet(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), out)

    rows = adapt_eval(inits, targets, cfg, ReaderConfig(max_length=max_length, doc_stride=doc_stride),
                      progress=lambda m: console.print(f"[dim]{m}[/dim]"), done=done, on_row=save)
    save(rows)
    summary = [r for r in rows if r.get("seed") is None]
    plot_adapt_eval(summary, out.with_suffix(".png"))
    print_table("K-shot adaptation: F1 on each domain's dev split (mean ± std over seeds); 'shipped' is what the "
                "decision on the K labels alone ships",
                [{"init": r["init"], "domain": r["domain"], "K": r["K"], "seeds": r["seeds"], "base": r.get("base_f1"),
                  "threshold": r.get("threshold_f1"), "fine-tune": r["f1"], "±": r["f1_std"], "wise-ft": r.get("wise_f1"), "span_f1": r["span_f1"],
                  "shipped": r.get("shipped_f1"), "shipped HasAns": r.get("shipped_HasAns_f1"),
                  "base HasAns": r.get("base_HasAns_f1")} for r in summary], limit=200)
    console.print(f"table: {out}; plot: {out.with_suffix('.png')}")


@app.command("adapt-lm")
def adapt_lm_cmd(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the adapted reader")],
    domain: Domains = None,
    split: Annotated[str, typer.Option(help="whose paragraphs: 'train', 'dev' or 'all'")] = "train",
    base: Annotated[str, typer.Option(help="the reader to adapt: 'squad' (the reference reader), a HF name or a folder")] = DEFAULT_READER,
    steps: Annotated[int, typer.Option()] = _LM.steps,
    batch_size: Annotated[int, typer.Option()] = _LM.batch_size,
    learning_rate: Annotated[float, typer.Option("--lr")] = _LM.learning_rate,
    mlm_probability: Annotated[float, typer.Option(help="share of words masked")] = _LM.mlm_probability,
    max_length: MaxLength = _LM.max_length,
    device: Device = _LM.device,
    threads: Annotated[int | None, typer.Option(help="torch threads (CPU)")] = _LM.threads,
    seed: Annotated[int, typer.Option()] = _LM.seed,
) -> None:
    """Self-supervised domain adaptation: continue the reader's encoder as a whole-word masked LM on the
    domain's paragraphs (questions ignored); fine-tune the result as usual (`train --base OUT`)."""
    from zeroxqa.adapt.lm import adapt_lm
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.model import load_reader, save_reader

    cfg = AdaptLMConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, mlm_probability=mlm_probability,
                        max_length=max_length, device=device, threads=threads, seed=seed)
    with clear_input_errors():
        check_model_dir(base)
        rows = load_rows(shards, None if split == "all" else split, domain)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split '{split}' of {[str(s) for s in shards]}"
                          + (f" for domains {domain}" if domain else ""))
        raise typer.Exit(2)
    reader = load_reader(base)
    result = adapt_lm(reader, [r["context"] for r in rows], cfg, progress=True)
    save_reader(reader, out)
    summary = result.summary()
    console.print(f"{result.windows} paragraph windows, {result.steps} steps in {result.seconds:.0f} s; masked-LM loss "
                  f"{summary['loss_start']:.3f} -> {summary['loss_end']:.3f}; adapted reader: {out}")


@app.command()
def synth(
    paragraphs: Annotated[list[str], typer.Argument(help="paragraph or QA shards/folders from `zeroxqa shard` (questions are ignored), "
                                                    "or raw paragraph files; DOMAIN=PATH names the domain")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder: qa/<domain>.parquet, manifest, provenance, quarantine, synth.json")],
    domain: Annotated[str | None, typer.Option(help="the domain to generate for (needed when the inputs hold several)")] = None,
    reader: Annotated[str | None, typer.Option(help="reader of the round-trip filter and the negatives check (saved reader or "
                                                    "ONNX folder); default: the shipped reference reader")] = DEFAULT_READER,
    generator: Annotated[str, typer.Option(help="'rule' or a Hugging Face text-to-text QG model (name or path)")] = _SYNTH.generator,
    ner_limit: Annotated[int, typer.Option(help="entities per sentence")] = _SYNTH.ner_limit,
    noun_chunks: Annotated[bool, typer.Option(help="noun chunks as answer candidates too")] = _SYNTH.noun_chunks,
    numbers: Annotated[bool, typer.Option(help="numbers outside entities as candidates too")] = _SYNTH.numbers,
    min_f1: Annotated[float, typer.Option(help="round trip: least F1 of the reader's answer against the candidate")] = _SYNTH.min_f1,
    min_confidence: Annotated[float, typer.Option(help="round trip: least reader confidence")] = _SYNTH.min_confidence,
    negative_ratio: Annotated[float, typer.Option(help="unanswerable negatives per kept question")] = _SYNTH.negative_ratio,
    max_paragraphs: Annotated[int | None, typer.Option(help="use at most this many paragraphs")] = None,
    n_process: Annotated[int, typer.Option(help="spaCy processes")] = _SYNTH.n_process,
    seed: Annotated[int, typer.Option()] = _SYNTH.seed,
) -> None:
    """Generate synthetic QA pairs for a domain's paragraphs: NER answers, questions, round-trip filter, negatives."""
    from zeroxqa.synth.run import synth_domain

    cfg = SynthConfig(generator=generator, ner_limit=ner_limit, noun_chunks=noun_chunks, numbers=numbers, min_f1=min_f1,
                      min_confidence=min_confidence, negative_ratio=negative_ratio, max_paragraphs=max_paragraphs,
                      n_process=n_process, seed=seed)
    if reader is None:
        err_console.print("[yellow]no --reader: questions are not round-trip filtered and negatives are checked lexically only[/yellow]")
    with clear_input_errors():
        if reader is not None:
            check_model_dir(reader)
        result = synth_domain(paragraphs, domain, reader, out, cfg)
    print_table("synthetic QA", [{"count": k, "value": v} for k, v in sorted(result.counts.items())])
    console.print(f"written: {out}")
