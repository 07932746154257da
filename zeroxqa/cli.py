"""The `zeroxqa` command line. Each command is a thin shell over a function in the package."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zeroxqa.config import AdaptConfig, BenchConfig, MetaConfig, ReaderConfig, RetrainParams, ShardConfig, SynthConfig, TrainConfig
from zeroxqa.errors import InputError

app = typer.Typer(help="ZeroxQA: domain-adapted extractive QA readers.", no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
_SHARD = ShardConfig()
_READER = ReaderConfig()
_TRAIN = TrainConfig()
_SYNTH = SynthConfig()


@app.callback()
def _root() -> None:
    """ZeroxQA: domain-adapted extractive QA readers."""


@contextmanager
def clear_input_errors() -> Iterator[None]:
    """Bad input ends the command with its message (file, row, field) and exit code 2, not a traceback."""
    try:
        yield
    except InputError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None


def print_table(title: str, rows: list[dict], limit: int = 40) -> None:
    """Print dict rows as a table; past `limit` rows, say how many more there are and where they are."""
    table = Table(title=title, show_lines=False)
    for col in rows[0] if rows else []:
        numeric = isinstance(rows[0][col], (int, float))
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for r in rows[:limit]:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()))
    console.print(table)
    if len(rows) > limit:
        console.print(f"... and {len(rows) - limit} more rows")


@app.command()
def shard(
    inputs: Annotated[list[str], typer.Argument(help="input files: PATH, DOMAIN=PATH or DOMAIN:SPLIT=PATH")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
    dev_fraction: Annotated[float, typer.Option(help="share of contexts held out as dev")] = _SHARD.dev_fraction,
    seed: Annotated[int, typer.Option(help="split seed")] = _SHARD.seed,
) -> None:
    """Validate inputs and write one Parquet shard per domain, a manifest, a quarantine and the reconciliation."""
    from zeroxqa.readers import SourceSpec
    from zeroxqa.shard import shard as run_shard

    with clear_input_errors():
        specs = [SourceSpec.parse(i) for i in inputs]
        result = run_shard(specs, out, ShardConfig(dev_fraction=dev_fraction, seed=seed))
    report_shard(result)


def report_shard(result) -> None:
    from zeroxqa.shard import RECON_KEYS

    recon = result.reconciliation.to_pylist()
    by_file: dict[str, dict] = {}
    for r in recon:
        agg = by_file.setdefault(r["file"], {"file": r["file"], "domains": 0, **{k: 0 for k in RECON_KEYS}})
        agg["domains"] += 1
        for k in RECON_KEYS:
            agg[k] += r[k]
    total = {k: sum(r[k] for r in recon) for k in RECON_KEYS}
    print_table("Reconciliation by file (read = kept + quarantined)", list(by_file.values()))
    manifest = result.manifest.select(["kind", "domain", "rows", "answerable", "unanswerable", "contexts", "train", "dev"])
    print_table(f"Shards ({manifest.num_rows})", manifest.to_pylist())
    console.print(
        f"read {total['read']} = kept {total['kept']} + quarantined {total['quarantined']}"
        f" (repaired {total['repaired']}); per file and domain in {result.out / 'reconciliation.parquet'}"
    )
    if result.quarantined:
        console.print(f"[yellow]{result.quarantined} rows quarantined with their reasons:[/yellow] {result.out / 'quarantine.parquet'}")
    console.print(f"manifest: {result.manifest_path}")


Shards = Annotated[list[Path], typer.Argument(help="QA shard files, or shard folders written by `zeroxqa shard`")]
Domains = Annotated[list[str] | None, typer.Option("--domain", help="only these domains (repeatable)")]
MaxLength = Annotated[int, typer.Option(help="tokens per window")]
DocStride = Annotated[int, typer.Option(help="overlap of windows, in tokens")]


@app.command()
def train(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the trained reader")],
    base: Annotated[str, typer.Option(help="base encoder or saved reader: 'minilm', a HF name or a folder")] = "minilm",
    domain: Domains = None,
    epochs: Annotated[int, typer.Option()] = _TRAIN.epochs,
    batch_size: Annotated[int, typer.Option()] = _TRAIN.batch_size,
    learning_rate: Annotated[float, typer.Option("--lr")] = _TRAIN.learning_rate,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps")] = _TRAIN.max_steps,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    seed: Annotated[int, typer.Option()] = _TRAIN.seed,
) -> None:
    """Fine-tune a reader on the train split of the shards; dev split picks the best epoch and the threshold."""
    from zeroxqa.dataset import load_rows, rows_sha256
    from zeroxqa.model import load_reader
    from zeroxqa.train import train_reader

    reader_cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    train_cfg = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, max_steps=max_steps, seed=seed)
    with clear_input_errors():
        train_rows = load_rows(shards, "train", domain)
        dev_rows = load_rows(shards, "dev", domain)
    if not train_rows:
        err_console.print(f"[red]error:[/red] no rows in split 'train' of {[str(s) for s in shards]}"
                          + (f" for domains {domain}" if domain else ""))
        raise typer.Exit(2)
    console.print(f"train {len(train_rows)} questions, dev {len(dev_rows)}; base {base}")
    reader = load_reader(base)
    card = {"train_data_sha256": rows_sha256(train_rows), "dev_data_sha256": rows_sha256(dev_rows),
            "domains": sorted({r["domain"] for r in train_rows})}
    result = train_reader(reader, train_rows, dev_rows, out, reader_cfg, train_cfg, card=card)
    print_table("Training", [{k: v for k, v in h.items() if k in ("epoch", "step", "seconds", "exact", "f1", "HasAns_f1", "NoAns_f1", "null_threshold")} for h in result.history])
    console.print(f"{result.steps} steps in {result.seconds:.0f} s; best reader: {result.model_dir}")


@app.command("eval")
def eval_cmd(
    shards: Shards,
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader")],
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="metrics Parquet to write")] = None,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
) -> None:
    """EM / F1 per domain (HasAns / NoAns) at the reader's calibrated threshold, printed and written to Parquet."""
    import pyarrow as pa

    from zeroxqa.atomic import write_parquet
    from zeroxqa.dataset import load_rows
    from zeroxqa.evaluate import evaluate
    from zeroxqa.inference.engine import QAEngine

    with clear_input_errors():
        rows = load_rows(shards, None if split == "all" else split, domain)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]}")
        raise typer.Exit(2)
    engine = QAEngine.load(model, cfg=ReaderConfig(max_length=max_length, doc_stride=doc_stride))
    ev = evaluate(engine, rows, progress=True)
    table = ev.per_domain()
    oracle_f1, oracle_t = ev.calibrate()
    for m in table:
        m.update({"model": model, "split": split, "null_threshold": ev.threshold})
    print_table(f"{model} on {split} (threshold {ev.threshold:.3f})",
                [{k: m[k] for k in ("domain", "n", "exact", "f1", "HasAns_n", "HasAns_f1", "NoAns_n", "NoAns_f1")} for m in table])
    console.print(f"F1 with a threshold calibrated on these rows instead (an upper bound): {oracle_f1:.2f} at {oracle_t:.3f}")
    if out:
        write_parquet(pa.Table.from_pylist(table), out)
        console.print(f"metrics: {out}")


@app.command()
def answer(
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader")],
    context: Annotated[str, typer.Option(help="the paragraph")],
    question: Annotated[str, typer.Option(help="the question")],
) -> None:
    """Answer one question over one paragraph ("no answer" when the reader judges it unanswerable).
    MODEL may be a saved reader or an exported ONNX variant."""
    from zeroxqa.inference.engine import QAEngine

    engine = QAEngine.load(model)
    (span,) = engine.spans([question], [context])
    text = span.answer(engine.threshold)
    console.print(text if text else "(no answer)", highlight=False)
    console.print(f"[dim]span {span.text!r} at {span.start}, score {span.score:.2f}, null {span.null_score:.2f}, threshold {engine.threshold:.2f}[/dim]")


@app.command()
def export(
    model: Annotated[Path, typer.Option("--model", "-m", help="a saved reader")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the ONNX variant")],
    optimize: Annotated[str | None, typer.Option(help="ORT graph optimization level: O1, O2 or O3")] = None,
    quantize: Annotated[bool, typer.Option(help="dynamic int8 with this CPU's preset")] = True,
) -> None:
    """Export a reader to ONNX, optionally graph-optimize it, and quantize it to int8."""
    from zeroxqa.export.cpu import quantization_preset
    from zeroxqa.export.onnx import export_onnx, optimize_onnx, quantize_int8

    path = export_onnx(model, out.with_name(out.name + "-fp32") if optimize or quantize else out)
    if optimize:
        path = optimize_onnx(path, out.with_name(out.name + f"-{optimize.lower()}") if quantize else out, optimize)
    if quantize:
        path = quantize_int8(path, out)
        console.print(f"int8 preset: {quantization_preset()}")
    console.print(f"ONNX reader: {path}")


_BENCH = BenchConfig()


@app.command()
def bench(
    shards: Shards,
    model: Annotated[Path, typer.Option("--model", "-m", help="a saved reader (torch fp32)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of variants, bench.parquet, report.md, plots")],
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    max_questions: Annotated[int | None, typer.Option(help="score at most this many questions")] = _BENCH.max_questions,
    latency_questions: Annotated[int, typer.Option(help="questions timed at batch 1")] = _BENCH.latency_questions,
    batch_size: Annotated[int, typer.Option(help="batch of the throughput pass")] = _BENCH.batch_size,
    threads: Annotated[int | None, typer.Option(help="threads per variant (default: all cores)")] = _BENCH.threads,
    max_f1_drop: Annotated[float, typer.Option(help="largest F1 loss of an accepted int8 model")] = _BENCH.max_f1_drop,
    hf_pipeline: Annotated[bool, typer.Option(help="measure the HF pipeline reference row")] = _BENCH.hf_pipeline,
) -> None:
    """Torch fp32, ONNX fp32, ONNX optimized and ONNX int8 against the HF pipeline: EM/F1, latency
    p50/p95/p99 at batch 1, throughput, size, peak memory; gate the int8 model; write Parquet, Markdown, PNG."""
    from zeroxqa.bench.run import run_bench
    from zeroxqa.dataset import load_rows

    with clear_input_errors():
        rows = load_rows(shards, None if split == "all" else split, domain)
    cfg = BenchConfig(max_questions=max_questions, latency_questions=latency_questions, batch_size=batch_size,
                      threads=threads, max_f1_drop=max_f1_drop, hf_pipeline=hf_pipeline)
    label = f"{split} split of {', '.join(str(s) for s in shards)}"
    result = run_bench(model, rows, out, cfg, data_label=label, progress=lambda m: console.print(f"[dim]{m}[/dim]"))
    shown = ("variant", "f1", "p50_ms", "p95_ms", "throughput_qps", "speedup_p50_vs_hf", "size_mb", "peak_rss_mb")
    print_table("Benchmark (full table in report.md)", [{c: r[c] for c in shown} for r in result["results"]])
    for reason in result["decision"].reasons:
        console.print(f"- {reason}", highlight=False)
    for name, path in result["paths"].items():
        console.print(f"{name}: {path}")


_META = MetaConfig()


@app.command("meta-train")
def meta_train_cmd(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder: last/, best/, meta_state.json (resumable)")],
    algorithm: Annotated[str, typer.Option(help="fomaml or reptile")] = _META.algorithm,
    base: Annotated[str, typer.Option(help="initialization: 'minilm', a HF name or a folder")] = "minilm",
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
    seed: Annotated[int, typer.Option()] = _META.seed,
) -> None:
    """Meta-train an initialization across in-domain shards; select checkpoints by K-shot F1 on --val-domain."""
    from zeroxqa.dataset import domain_splits
    from zeroxqa.meta.baseline import examples_seen, joint_baseline
    from zeroxqa.meta.train import meta_train

    cfg = MetaConfig(algorithm=algorithm, meta_epochs=meta_epochs, meta_steps_per_epoch=meta_steps, tasks_per_batch=tasks_per_batch,
                     inner_steps=inner_steps, inner_lr=inner_lr, meta_lr=meta_lr, temperature=temperature, workers=workers,
                     ray_address=ray_address, seed=seed)
    reader_cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    with clear_input_errors():
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
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    resume: Annotated[bool, typer.Option(help="keep the rows already in --out (written after every cell) and measure the rest")] = True,
) -> None:
    """Fine-tune each initialization on K examples of each target domain and score its dev split."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zeroxqa.atomic import write_parquet
    from zeroxqa.dataset import domain_splits
    from zeroxqa.meta.adapt import adapt_eval

    inits = dict(i.split("=", 1) if "=" in i else (i, i) for i in init)
    with clear_input_errors():
        targets = domain_splits(shards, domain)
    cfg = AdaptConfig(shots=[int(k) for k in shots.split(",")], max_dev=max_dev)
    done = pq.read_table(out).to_pylist() if resume and out.exists() else []
    if done:
        console.print(f"resuming: {len(done)} rows already in {out}")

    def save(rows: list[dict]) -> None:
        write_parquet(pa.Table.from_pylist(rows), out)

    rows = adapt_eval(inits, targets, cfg, ReaderConfig(max_length=max_length, doc_stride=doc_stride),
                      progress=lambda m: console.print(f"[dim]{m}[/dim]"), done=done, on_row=save)
    save(rows)
    print_table("K-shot adaptation: F1 on each domain's dev split",
                [{"init": r["init"], "domain": r["domain"], "K": str(r["K"]), "f1": r["f1"], "HasAns_f1": r["HasAns_f1"]} for r in rows],
                limit=200)
    console.print(f"table: {out}")


@app.command()
def synth(
    paragraphs: Annotated[list[str], typer.Argument(help="paragraph or QA shards/folders from `zeroxqa shard` (questions are ignored), "
                                                    "or raw paragraph files; DOMAIN=PATH names the domain")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder: qa/<domain>.parquet, manifest, provenance, quarantine, synth.json")],
    domain: Annotated[str | None, typer.Option(help="the domain to generate for (needed when the inputs hold several)")] = None,
    reader: Annotated[str | None, typer.Option(help="reader of the round-trip filter and the negatives check (saved reader or ONNX folder)")] = None,
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
        result = synth_domain(paragraphs, domain, reader, out, cfg)
    print_table("synthetic QA", [{"count": k, "value": v} for k, v in sorted(result.counts.items())])
    console.print(f"written: {out}")


_RETRAIN = RetrainParams()


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="root folder of all artifacts")] = Path(_RETRAIN.out),
) -> None:
    """The main job: the Prefect `retrain` flow on the embedded sample (shard, meta-train, fine-tune per
    out-domain, quantize, benchmark, register, report). Run again unchanged, every stage finds its finished output and nothing is recomputed."""
    import os
    import time

    # without PREFECT_API_URL Prefect starts a temporary server; on a busy laptop it can need more than
    # Prefect's default wait (seen: a timeout with the 2 cores taken by another job)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from flows.retrain import retrain

    started = time.perf_counter()
    result = retrain(RetrainParams(out=str(out)))
    for p in result["promotions"]:
        console.print(f"{p['domain']}: {p['reason']}", highlight=False)
    console.print(f"shards: {', '.join(result['shards'])}")
    console.print(f"meta model: {result['meta_model']}")
    for domain, model in result["models"].items():
        console.print(f"model {domain}: {model}")
    console.print(f"report: {result['report']}")
    console.print(f"registry: {result['registry']}")
    console.print(f"finished in {time.perf_counter() - started:.0f} s")


@app.command("watch")
def watch_cmd(
    inbox: Annotated[Path, typer.Argument(help="folder where new domain files land")],
    out: Annotated[str, typer.Option(help="artifact root the onboarding flow writes to")] = _RETRAIN.out,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 5.0,
    once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
) -> None:
    """Emit `zeroxqa.domain.arrived` for each new file in INBOX (the onboarding deployment listens for it)."""
    from zeroxqa.watch import watch

    watch(inbox, out, interval=interval, once=once, log=lambda m: console.print(m, highlight=False))


@app.command("emit-domain")
def emit_domain(
    domain: Annotated[str, typer.Option(help="the new domain's name")],
    labeled: Annotated[Path | None, typer.Option(help="file of labelled questions")] = None,
    paragraphs: Annotated[Path | None, typer.Option(help="file of unlabeled paragraphs")] = None,
    out: Annotated[str, typer.Option(help="artifact root the onboarding flow writes to")] = _RETRAIN.out,
) -> None:
    """Emit one `zeroxqa.domain.arrived` event by hand."""
    from zeroxqa.watch import emit_domain_arrived

    payload = {"domain": domain, "labeled": str(labeled.resolve()) if labeled else None,
               "paragraphs": str(paragraphs.resolve()) if paragraphs else None, "out": out}
    emit_domain_arrived(payload)
    console.print(f"emitted zeroxqa.domain.arrived for {domain}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
