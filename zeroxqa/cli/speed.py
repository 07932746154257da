"""Speed commands: `export` (ONNX, optimization, int8, skimming), `bench` and `distill`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from zeroxqa.cli.common import (AnswerRemovedRatio, AttentionDropout, BatchSize, CheckpointDir, CheckpointEvery, Device,
                                DocStride, Domains, Epochs, HiddenDropout, LearningRate, MaxLength, MaxSteps, NegativeRatio,
                                RepeatUnanswerable, Resume, Seed, Shards, Threads, _READER, app, clear_input_errors,
                                console, err_console, print_table)
from zeroxqa.config import BenchConfig, DistillConfig, ReaderConfig, SkimConfig, TrainConfig
from zeroxqa.reader.reference import DEFAULT_READER


@app.command()
def export(
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader, or 'squad'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the ONNX variant")],
    optimize: Annotated[str | None, typer.Option(help="ORT graph optimization level: O1, O2 or O3")] = None,
    quantize: Annotated[bool, typer.Option(help="int8: dynamic with this CPU's preset, or static with --calibrate-on")] = True,
    skim: Annotated[int | None, typer.Option(help="read only this many sentences of each paragraph (context skimming; "
                                                   "at most this many with --skim-coverage)")] = None,
    skim_coverage: Annotated[float | None, typer.Option(help="adaptive skimming: keep the learned ranker's best sentences "
                                                             "until they hold this probability of holding the answer")] = None,
    skim_ranker: Annotated[str | None, typer.Option(help="score sentences with a learned ranker: 'packaged' or a file "
                                                         "from `zeroxqa skim-train` (default with --skim-coverage: packaged)")] = None,
    calibrate_on: Annotated[list[Path] | None, typer.Option(help="shards whose dev questions calibrate static int8's ranges "
                                                                 "and the variant's no-answer threshold (repeatable)")] = None,
) -> None:
    """Export a reader to ONNX, optionally graph-optimize it, and quantize it to int8 (static, with its
    threshold set again, when given held-out questions to calibrate on)."""
    from zeroxqa.speed.export.cpu import quantization_preset
    from zeroxqa.speed.export.onnx import (calibration_texts, export_onnx, optimize_onnx, quantize_int8, quantize_static_int8,
                                     with_skimming)
    from zeroxqa.reader.paths import check_model_dir

    if calibrate_on and optimize:
        err_console.print("[red]error:[/red] static int8 (--calibrate-on) quantizes the plain export: leave out --optimize "
                          "(onnxruntime fuses the quantized graph when it loads it)")
        raise typer.Exit(2)
    with clear_input_errors():
        model = check_model_dir(model)
        calibration = load_dev_rows(calibrate_on) if calibrate_on else []
        skimming = skim_config(skim, skim_coverage, skim_ranker)
    path = export_onnx(model, out.with_name(out.name + "-fp32") if optimize or quantize or skimming else out)
    if optimize:
        path = optimize_onnx(path, out.with_name(out.name + f"-{optimize.lower()}") if quantize or skimming else out, optimize)
    int8_out = out.with_name(out.name + "-int8") if skimming else out
    if quantize and calibration:
        questions, contexts = calibration_texts(calibration, _BENCH.calibration_questions)
        path = quantize_static_int8(path, int8_out, questions, contexts)
        console.print(f"static int8, ranges calibrated on {len(questions)} held-out questions")
    elif quantize:
        path = quantize_int8(path, int8_out)
        console.print(f"int8 preset: {quantization_preset()}")
    if skimming:
        path = with_skimming(path, out, skimming)
    if calibration:
        from zeroxqa.reader.evaluate import recalibrate, reference_abstention

        console.print(f"reading the {len(calibration)} held-out questions with {model}, then with the variant...")
        share = reference_abstention(model, calibration, progress=True)
        done = recalibrate(path, calibration, split="calibration", progress=True, abstain_share=share)
        console.print(f"no-answer threshold {done.old:.2f} -> {done.new:.2f}: abstains on {100 * done.abstained:.1f}% of "
                      f"the held-out questions, as {model} does at its best-F1 threshold (F1 {done.f1_new:.2f})")
    console.print(f"ONNX reader: {path}")


def skim_config(keep: int | None, coverage: float | None, ranker: str | None) -> SkimConfig | None:
    """The skimming the options ask for, None for none: --skim alone reads K sentences, lexically scored;
    --skim-coverage (with the packaged ranker unless --skim-ranker names another) reads at most K (default 4)."""
    from zeroxqa.speed.sentence_ranker import PACKAGED, resolve_ranker

    if keep is None and coverage is None and ranker is None:
        return None
    weights = resolve_ranker(ranker or PACKAGED) if ranker or coverage is not None else None
    return SkimConfig(keep_sentences=keep or (_BENCH.skim_max_sentences if coverage is not None else SkimConfig().keep_sentences),
                      coverage=coverage, ranker=weights)


def load_dev_rows(shards: list[Path]) -> list[dict]:
    """The dev rows of `shards`, the held-out questions a variant is calibrated on; none is an input error."""
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.errors import InputError

    rows = load_rows(shards, "dev", None)
    if not rows:
        raise InputError(", ".join(str(s) for s in shards), "no dev rows to calibrate on (--calibrate-on)")
    return rows


_BENCH = BenchConfig()


@app.command()
def bench(
    shards: Shards,
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader (torch fp32), or 'squad'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of variants, bench.parquet, report.md, plots")],
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    max_questions: Annotated[int | None, typer.Option(help="score at most this many questions")] = _BENCH.max_questions,
    latency_questions: Annotated[int, typer.Option(help="questions timed at batch 1")] = _BENCH.latency_questions,
    batch_size: Annotated[int, typer.Option(help="batch of the throughput pass")] = _BENCH.batch_size,
    threads: Annotated[int | None, typer.Option(help="threads per variant (default: all cores)")] = _BENCH.threads,
    max_f1_drop: Annotated[float, typer.Option(help="largest F1 loss of an accepted int8 model")] = _BENCH.max_f1_drop,
    hf_pipeline: Annotated[bool, typer.Option(help="measure the HF pipeline reference row")] = _BENCH.hf_pipeline,
    skim: Annotated[list[int] | None, typer.Option(help="add skimming variants (of the optimized and the static int8 "
                                                        "models) reading this many sentences a paragraph (repeatable)")] = None,
    skim_coverage: Annotated[list[float] | None, typer.Option(help="add adaptive skimming variants at this coverage "
                                                                   "(learned ranker; repeatable)")] = None,
    skim_max_sentences: Annotated[int, typer.Option(help="most sentences an adaptive variant keeps")] = _BENCH.skim_max_sentences,
    skim_ranker: Annotated[str, typer.Option(help="ranker of the adaptive variants: 'packaged' or a file from "
                                                  "`zeroxqa skim-train`")] = _BENCH.skim_ranker,
    student: Annotated[list[str] | None, typer.Option(help="a smaller reader (a distilled student) to measure in the same run (repeatable)")] = None,
    calibrate_on: Annotated[list[Path] | None, typer.Option(help="shards whose dev questions calibrate each ONNX variant's "
                                                                 "threshold and a static int8 variant (never the benchmark's own)")] = None,
    only: Annotated[list[str] | None, typer.Option(help="measure only this variant, e.g. onnx-int8-static-skim2 (repeatable; "
                                                        "torch-fp32 and the HF pipeline always)")] = None,
) -> None:
    """Torch fp32, ONNX fp32, ONNX optimized and ONNX int8 against the HF pipeline: EM/F1, latency
    p50/p95/p99 at batch 1, throughput, size, peak memory; gate the int8 model; write Parquet, Markdown, PNG."""
    from zeroxqa.speed.bench.run import run_bench
    from zeroxqa.speed.bench.variants import UnknownVariant
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.paths import check_model_dir

    with clear_input_errors():
        model = check_model_dir(model)
        student = [check_model_dir(s) for s in student or []]
        rows = load_rows(shards, None if split == "all" else split, domain)
        calibration = load_dev_rows(calibrate_on) if calibrate_on else None
        if skim_coverage:
            from zeroxqa.speed.sentence_ranker import resolve_ranker

            resolve_ranker(skim_ranker)  # a bad file is an input error now, not after the variants are built
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]} to benchmark on")
        raise typer.Exit(2)
    cfg = BenchConfig(max_questions=max_questions, latency_questions=latency_questions, batch_size=batch_size,
                      threads=threads, max_f1_drop=max_f1_drop, hf_pipeline=hf_pipeline,
                      skim_sentences=skim or [], skim_coverage=skim_coverage or [], skim_max_sentences=skim_max_sentences,
                      skim_ranker=skim_ranker, students=student or [], only=only or [])
    label = f"{split} split of {', '.join(str(s) for s in shards)}"
    try:
        result = run_bench(model, rows, out, cfg, data_label=label, progress=lambda m: console.print(f"[dim]{m}[/dim]"),
                           calibration_rows=calibration)
    except UnknownVariant as e:
        err_console.print(f"[red]error:[/red] --only: {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None
    shown = ("variant", "f1", "p50_ms", "p95_ms", "throughput_qps", "speedup_p50_vs_hf", "size_mb", "peak_rss_mb")
    print_table("Benchmark (full table in report.md)", [{c: r[c] for c in shown} for r in result["results"]])
    for reason in result["decision"].reasons:
        console.print(f"- {reason}", highlight=False)
    for name, path in result["paths"].items():
        console.print(f"{name}: {path}")


_DISTILL, _TRAIN = DistillConfig(), TrainConfig()


@app.command()
def distill(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the student reader")],
    teacher: Annotated[str, typer.Option(help="the reader to distill: 'squad' (the shipped one) or a folder")] = DEFAULT_READER,
    layers: Annotated[int, typer.Option(help="transformer layers of the student (spread out from the teacher's)")] = _DISTILL.layers,
    temperature: Annotated[float, typer.Option(help="softens the teacher's and student's distributions")] = _DISTILL.temperature,
    alpha: Annotated[float, typer.Option(help="weight of the teacher's soft targets (the rest: gold labels)")] = _DISTILL.alpha,
    domain: Domains = None,
    epochs: Epochs = _TRAIN.epochs,
    batch_size: BatchSize = _TRAIN.batch_size,
    learning_rate: LearningRate = _TRAIN.learning_rate,
    max_steps: MaxSteps = _TRAIN.max_steps,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    freeze_embeddings: Annotated[bool, typer.Option(help="keep the word embeddings fixed (the student then ships compact)")] = True,
    negative_ratio: NegativeRatio = _TRAIN.negative_ratio,
    answer_removed_ratio: AnswerRemovedRatio = _TRAIN.answer_removed_ratio,
    repeat_unanswerable: RepeatUnanswerable = _TRAIN.repeat_unanswerable,
    seed: Seed = _TRAIN.seed,
    device: Device = _TRAIN.device,
    attention_dropout: AttentionDropout = _TRAIN.attention_dropout,
    hidden_dropout: HiddenDropout = _TRAIN.hidden_dropout,
    threads: Threads = _TRAIN.threads,
    checkpoint_every: CheckpointEvery = 500,
    checkpoint_dir: CheckpointDir = None,
    resume: Resume = False,
) -> None:
    """Distill a reader into a smaller student: the teacher's layers thinned out, then trained on the
    teacher's soft start/end distributions and the gold labels of the shards' train split. The student is a
    reader like any other (export, quantize, bench, register)."""
    from zeroxqa.cli.reader import run_training
    from zeroxqa.speed.distill import DistillationLoss, spread_layers, student_from_teacher
    from zeroxqa.reader.model import check_model_dir, load_reader

    cfg = DistillConfig(layers=layers, temperature=temperature, alpha=alpha)
    reader_cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    train_cfg = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, max_steps=max_steps,
                            seed=seed, device=device, freeze_embeddings=freeze_embeddings, negative_ratio=negative_ratio,
                            answer_removed_ratio=answer_removed_ratio, repeat_unanswerable=repeat_unanswerable,
                            threads=threads, checkpoint_every=checkpoint_every,
                            attention_dropout=attention_dropout, hidden_dropout=hidden_dropout)
    with clear_input_errors():
        check_model_dir(teacher)
    taught = load_reader(teacher)
    try:
        kept = spread_layers(taught.model.config.num_hidden_layers, layers)
    except ValueError as e:
        err_console.print(f"[red]error:[/red] --layers: {e}")
        raise typer.Exit(2) from None
    card = {"distilled_from": {"teacher": teacher, "teacher_layers": kept, **cfg.model_dump()}}
    run_training(shards, domain, out, lambda: student_from_teacher(taught, kept), f"teacher {teacher}, student layers {kept}",
                 reader_cfg, train_cfg, checkpoint_dir, resume, card, lambda: DistillationLoss(taught.model, cfg))
