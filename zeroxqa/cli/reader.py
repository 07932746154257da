"""Reader commands: `train`, `eval`, `calibrate`, `average`, `answer`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import (AnswerRemovedRatio, AttentionDropout, BatchSize, CheckpointDir, CheckpointEvery, Device,
                                DocStride, Domains, Epochs, HiddenDropout, LearningRate, MaxLength, MaxSteps, NegativeRatio,
                                RepeatUnanswerable, Resume, Seed, Shards, Threads, _READER, app, clear_input_errors,
                                console, err_console, print_table)
from zeroxqa.config import ReaderConfig, TrainConfig
from zeroxqa.reader.reference import DEFAULT_READER

_TRAIN = TrainConfig()


@app.command()
def train(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the trained reader")],
    base: Annotated[str, typer.Option(help="starting point: 'squad' (the shipped reference reader), 'minilm' (the bare "
                                           "encoder), a HF name or a folder")] = DEFAULT_READER,
    domain: Domains = None,
    epochs: Epochs = _TRAIN.epochs,
    batch_size: BatchSize = _TRAIN.batch_size,
    learning_rate: LearningRate = _TRAIN.learning_rate,
    max_steps: MaxSteps = _TRAIN.max_steps,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    seed: Seed = _TRAIN.seed,
    device: Device = _TRAIN.device,
    precision: Annotated[str, typer.Option(help="auto, fp32 or bf16 (autocast)")] = _TRAIN.precision,
    freeze_embeddings: Annotated[bool, typer.Option(help="keep the word embeddings fixed")] = _TRAIN.freeze_embeddings,
    negative_ratio: NegativeRatio = _TRAIN.negative_ratio,
    answer_removed_ratio: AnswerRemovedRatio = _TRAIN.answer_removed_ratio,
    repeat_unanswerable: RepeatUnanswerable = _TRAIN.repeat_unanswerable,
    warmup_ratio: Annotated[float, typer.Option()] = _TRAIN.warmup_ratio,
    attention_dropout: AttentionDropout = _TRAIN.attention_dropout,
    hidden_dropout: HiddenDropout = _TRAIN.hidden_dropout,
    threads: Threads = _TRAIN.threads,
    checkpoint_every: CheckpointEvery = 500,
    checkpoint_dir: CheckpointDir = None,
    resume: Resume = False,
) -> None:
    """Fine-tune a reader on the train split of the shards; dev split picks the best epoch and the threshold.
    With checkpoints (every 500 steps by default), `--resume` continues an interrupted run exactly."""
    from zeroxqa.reader.model import check_model_dir, load_reader

    reader_cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    train_cfg = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, max_steps=max_steps, seed=seed,
                            device=device, precision=precision, freeze_embeddings=freeze_embeddings,
                            negative_ratio=negative_ratio, answer_removed_ratio=answer_removed_ratio,
                            repeat_unanswerable=repeat_unanswerable, warmup_ratio=warmup_ratio, threads=threads,
                            checkpoint_every=checkpoint_every, attention_dropout=attention_dropout,
                            hidden_dropout=hidden_dropout)
    with clear_input_errors():
        check_model_dir(base)
    run_training(shards, domain, out, lambda: load_reader(base), f"base {base}", reader_cfg, train_cfg,
                 checkpoint_dir, resume)


def run_training(shards: list[Path], domain: list[str] | None, out: Path, make_reader, label: str, reader_cfg: ReaderConfig,
                 train_cfg: TrainConfig, checkpoint_dir: Path | None, resume: bool, card: dict | None = None,
                 make_loss=None) -> None:
    """What `train` and `distill` share: rows, the card's data hashes, the loop with its checkpoints, the table."""
    from zeroxqa.ingest.dataset import load_rows, rows_sha256
    from zeroxqa.reader.train import train_reader

    with clear_input_errors():
        train_rows = load_rows(shards, "train", domain)
        dev_rows = load_rows(shards, "dev", domain)
    if not train_rows:
        err_console.print(f"[red]error:[/red] no rows in split 'train' of {[str(s) for s in shards]}"
                          + (f" for domains {domain}" if domain else ""))
        raise typer.Exit(2)
    console.print(f"train {len(train_rows)} questions, dev {len(dev_rows)}; {label}")
    reader = make_reader()
    card = {**(card or {}), "train_data_sha256": rows_sha256(train_rows), "dev_data_sha256": rows_sha256(dev_rows),
            "domains": sorted({r["domain"] for r in train_rows})}
    ckpt = checkpoint_dir or out.with_name(out.name + ".checkpoint")
    result = train_reader(reader, train_rows, dev_rows, out, reader_cfg, train_cfg, card=card,
                          checkpoint_dir=ckpt if train_cfg.checkpoint_every else None, resume=resume, progress=True,
                          loss_fn=make_loss() if make_loss else None)
    keys = ("epoch", "step", "seconds", "exact", "f1", "HasAns_f1", "NoAns_f1", "null_threshold")
    print_table("Training", [{k: h.get(k) for k in keys} for h in result.history if "seconds" in h])
    console.print(f"{result.steps} steps, {result.tokens} tokens in {result.seconds:.0f} s "
                  f"({result.tokens / max(result.seconds, 1e-9):.0f} tokens/s); best reader: {result.model_dir}")


@app.command("eval")
def eval_cmd(
    shards: Shards,
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader or ONNX variant; default: the shipped reference reader")] = DEFAULT_READER,
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="metrics Parquet to write")] = None,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
) -> None:
    """EM / F1 per domain (HasAns / NoAns) at the reader's calibrated threshold, printed and written to Parquet."""
    import math

    import pyarrow as pa

    from zeroxqa.registry.atomic import write_parquet
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.evaluate import evaluate
    from zeroxqa.reader.engine import QAEngine

    with clear_input_errors():
        rows = load_rows(shards, None if split == "all" else split, domain)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]}")
        raise typer.Exit(2)
    from zeroxqa.reader.paths import check_model_dir

    with clear_input_errors():
        engine = QAEngine.load(check_model_dir(model), cfg=ReaderConfig(max_length=max_length, doc_stride=doc_stride))
    ev = evaluate(engine, rows, progress=True)
    table = ev.per_domain()
    oracle_f1, oracle_t = ev.calibrate()
    # the answerable questions alone with the best span always given: the quality of the spans themselves
    forced = {m["domain"]: m for m in ev.per_domain(threshold=math.inf)}
    for m in table:  # each domain's oracle from its own rows
        m.update({"model": model, "split": split, "null_threshold": ev.threshold,
                  "oracle_f1": ev.of_domain(m["domain"]).calibrate()[0],
                  "span_exact": forced[m["domain"]]["HasAns_exact"], "span_f1": forced[m["domain"]]["HasAns_f1"]})
    print_table(f"{model} on {split} (threshold {ev.threshold:.3f})",
                [{k: m[k] for k in ("domain", "n", "exact", "f1", "HasAns_n", "HasAns_f1", "NoAns_n", "NoAns_f1", "span_f1")}
                 for m in table])
    console.print("span_f1: F1 on the answerable questions with the best span always given (no abstaining)")
    console.print(f"F1 with a threshold calibrated on these rows instead (an upper bound): {oracle_f1:.2f} at {oracle_t:.3f}")
    if out:
        write_parquet(pa.Table.from_pylist(table), out)
        console.print(f"metrics: {out}")


@app.command()
def calibrate(
    shards: Shards,
    model: Annotated[Path, typer.Option("--model", "-m", help="a saved reader or ONNX variant folder; its card is rewritten")],
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    max_length: MaxLength = _READER.max_length,
    doc_stride: DocStride = _READER.doc_stride,
    like: Annotated[str | None, typer.Option(help="a reader this one is a variant of (int8, skimming, a student): "
                                                  "abstain on these rows as often as it does at its best-F1 threshold")] = None,
) -> None:
    """Calibrate a reader's no-answer threshold again on labelled rows (on their domains that hold unanswerable
    questions; rows with none can only raise it) and write it into the reader's card. With `--like READER`,
    the threshold instead makes it abstain as often as READER does: steadier than its own best-F1 search
    when the rows hold few unanswerable questions."""
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.evaluate import recalibrate, reference_abstention
    from zeroxqa.reader.model import CARD_FILE, check_model_dir
    from zeroxqa.reader.reference import REFERENCE_DIR

    with clear_input_errors():
        folder = Path(check_model_dir(model))
        reference = check_model_dir(like) if like else None
        rows = load_rows(shards, None if split == "all" else split, domain)
    if folder.resolve() == Path(REFERENCE_DIR).resolve():
        err_console.print("[red]error:[/red] the shipped reference reader is not rewritten: copy its folder and calibrate the copy")
        raise typer.Exit(2)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]}")
        raise typer.Exit(2)
    cfg = ReaderConfig(max_length=max_length, doc_stride=doc_stride)
    share = reference_abstention(reference, rows, cfg, progress=True) if reference else None
    done = recalibrate(folder, rows, cfg, split, progress=True, abstain_share=share)
    if reference:
        console.print(f"abstains on {100 * done.abstained:.1f}% of the tuning rows, as {like} does at its best-F1 threshold")
    console.print(f"threshold {done.old:.3f} -> {done.new:.3f}; F1 on these {len(rows)} rows {done.f1_old:.2f} -> "
                  f"{done.f1_new:.2f}; written to {folder / CARD_FILE}")


@app.command()
def average(
    first: Annotated[str, typer.Argument(help="a reader ('squad', a folder)")],
    second: Annotated[str, typer.Argument(help="a reader of the same architecture, e.g. FIRST trained further")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder of the averaged reader")],
    weight: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of SECOND in every weight")] = 0.5,
) -> None:
    """Average the weights of two readers (WiSE-FT): a reader trained further on one kind of text, averaged
    with the one it started from, keeps most of its gain and gives back most of what it lost elsewhere.
    Calibrate the result's threshold afterwards (`zeroxqa calibrate`)."""
    from zeroxqa.adapt.average import average_readers
    from zeroxqa.reader.model import check_model_dir, load_reader, save_reader

    with clear_input_errors():
        readers = [load_reader(check_model_dir(m)) for m in (first, second)]
    try:
        reader = average_readers(*readers, weight)
    except ValueError as e:
        err_console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    reader.card = {**reader.card, "averaged": {"first": first, "second": second, "weight": weight},
                   "threshold_calibrated": False}
    save_reader(reader, out)
    console.print(f"{out}: {1 - weight:g} x {first} + {weight:g} x {second}; calibrate its no-answer threshold next")


def read_text_arg(value: str | None, file: Path | None, name: str) -> str:
    """A text given inline or as a file (`-` for standard input): a 200,000-character paragraph does not fit
    on a command line."""
    import sys

    from zeroxqa.errors import InputError

    if (value is None) == (file is None):
        raise InputError(f"--{name}", f"give --{name} TEXT or --{name}-file PATH (or - for standard input), one of them")
    if file is None:
        return value
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(file, "file not found") from None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise InputError(file, f"not a UTF-8 text file ({e.__class__.__name__})") from None


@app.command()
def answer(
    context: Annotated[str | None, typer.Option(help="the paragraph")] = None,
    question: Annotated[str | None, typer.Option(help="the question")] = None,
    context_file: Annotated[Path | None, typer.Option(help="the paragraph from a file, - for standard input")] = None,
    question_file: Annotated[Path | None, typer.Option(help="the question from a file, - for standard input")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="a saved reader or ONNX variant; default: the shipped reference reader")] = DEFAULT_READER,
) -> None:
    """Answer one question over one paragraph ("no answer" when the reader judges it unanswerable).
    MODEL may be a saved reader or an exported ONNX variant."""
    from zeroxqa.errors import InputError
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.paths import check_model_dir

    with clear_input_errors():
        if str(context_file) == "-" and str(question_file) == "-":
            raise InputError("-", "standard input can be read once: give the context or the question another way")
        context = read_text_arg(context, context_file, "context")
        question = read_text_arg(question, question_file, "question")
        if not question.strip():
            raise InputError(question_file or "--question", "the question is empty")
        if not context.strip():
            raise InputError(context_file or "--context", "the context is empty")
        engine = QAEngine.load(check_model_dir(model))
    (span,) = engine.spans([question], [context])
    text = span.answer(engine.threshold)
    console.print(text if text else "(no answer)", highlight=False)
    console.print(f"[dim]span {span.text!r} at {span.start}, score {span.score:.2f}, null {span.null_score:.2f}, threshold {engine.threshold:.2f}[/dim]")
