"""The `zeroxqa` command line. Each command is a thin shell over a function in the package."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zeroxqa.config import MainJobConfig, ReaderConfig, ShardConfig, TrainConfig
from zeroxqa.errors import InputError

app = typer.Typer(help="ZeroxQA: domain-adapted extractive QA readers.", no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
_SHARD_DEFAULTS = ShardConfig()
_READER = ReaderConfig()
_TRAIN = TrainConfig()


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
    dev_fraction: Annotated[float, typer.Option(help="share of contexts held out as dev")] = _SHARD_DEFAULTS.dev_fraction,
    seed: Annotated[int, typer.Option(help="split seed")] = _SHARD_DEFAULTS.seed,
) -> None:
    """Validate inputs and write one Parquet shard per domain, a manifest, a quarantine and the reconciliation."""
    from zeroxqa.readers import SourceSpec
    from zeroxqa.shard import shard as run_shard

    with clear_input_errors():
        specs = [SourceSpec.parse(i) for i in inputs]
        result = run_shard(specs, out, ShardConfig(dev_fraction=dev_fraction, seed=seed))
    report_shard(result)


def report_shard(result) -> None:
    recon = result.reconciliation.to_pylist()
    by_file: dict[str, dict] = {}
    for r in recon:
        agg = by_file.setdefault(r["file"], {"file": r["file"], "domains": 0, "read": 0, "kept": 0, "repaired": 0, "quarantined": 0})
        agg["domains"] += 1
        for k in ("read", "kept", "repaired", "quarantined"):
            agg[k] += r[k]
    total = {k: sum(r[k] for r in recon) for k in ("read", "kept", "repaired", "quarantined")}
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
    from zeroxqa.model import load_reader

    with clear_input_errors():
        rows = load_rows(shards, None if split == "all" else split, domain)
    if not rows:
        err_console.print(f"[red]error:[/red] no rows in split {split!r} of {[str(s) for s in shards]}")
        raise typer.Exit(2)
    reader = load_reader(model)
    ev = evaluate(reader, rows, ReaderConfig(max_length=max_length, doc_stride=doc_stride), progress=True)
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
    """Answer one question over one paragraph ("no answer" when the reader judges it unanswerable)."""
    from zeroxqa.model import load_reader
    from zeroxqa.predict import predict_spans

    reader = load_reader(model)
    (span,) = predict_spans(reader, [question], [context], ReaderConfig(**reader.card.get("reader_config", {})))
    text = span.answer(reader.null_threshold)
    console.print(text if text else "(no answer)", highlight=False)
    console.print(f"[dim]span {span.text!r} at {span.start}, score {span.score:.2f}, null {span.null_score:.2f}, threshold {reader.null_threshold:.2f}[/dim]")


_MAIN = MainJobConfig()


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path(_MAIN.out),
    max_steps: Annotated[int, typer.Option(help="training budget, in optimizer steps")] = _MAIN.max_steps,
) -> None:
    """The main job on the embedded sample: shard, train an in-domain reader, evaluate in and out of domain."""
    from zeroxqa.main_job import run_main_job

    result = run_main_job(MainJobConfig(out=str(out), max_steps=max_steps))
    report_shard(result.in_shards)
    report_shard(result.out_shards)
    print_table("Dev EM / F1 of the in-domain reader",
                [{k: m[k] for k in ("scope", "domain", "n", "exact", "f1", "HasAns_f1", "NoAns_f1")} for m in result.metrics])
    console.print(f"shards: {result.in_shards.out}, {result.out_shards.out}")
    console.print(f"model: {result.model_dir}")
    console.print(f"report: {result.metrics_path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
