"""Skimming commands: `skim-train` (the learned sentence ranker) and `skim-eval` (answers kept against text read)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import Domains, Seed, Shards, app, clear_input_errors, console, err_console, print_table

KEEP = [1, 2, 3]
COVERAGES = [0.8, 0.9, 0.95]


def _paragraphs(shards: list[Path], split: str, domain: list[str] | None):
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.speed.skim_eval import answered_paragraphs

    with clear_input_errors():
        rows = load_rows(shards, None if split == "all" else split, domain)
    paragraphs = answered_paragraphs(rows)
    if not paragraphs:
        err_console.print(f"[red]error:[/red] no answerable question in split {split!r} of {[str(s) for s in shards]}")
        raise typer.Exit(2)
    return rows, paragraphs


@app.command("skim-train")
def skim_train(
    shards: Shards,
    out: Annotated[Path, typer.Option("--out", "-o", help="the ranker's JSON file (weights and card)")],
    domain: Domains = None,
    hidden: Annotated[int, typer.Option(help="hidden units of the ranker")] = 16,
    epochs: Annotated[int, typer.Option(help="passes over the training questions")] = 30,
    seed: Seed = 0,
    max_sentences: Annotated[int, typer.Option(help="most sentences adaptive skimming keeps, in the dev table")] = 4,
) -> None:
    """Train the sentence ranker of adaptive skimming on the answerable questions of the train split, and show
    on the dev split how many answers each skimming policy keeps for how much text read."""
    from zeroxqa.registry.atomic import write_json
    from zeroxqa.ingest.dataset import rows_sha256
    from zeroxqa.speed.skim_eval import fit_ranker, skim_table

    rows, paragraphs = _paragraphs(shards, "train", domain)
    ranker = fit_ranker(paragraphs, hidden=hidden, epochs=epochs, seed=seed, progress=True).to_dict()
    ranker["card"] = {"name": out.stem, "trained_on": [str(s) for s in shards], "train_data_sha256": rows_sha256(rows),
                      "answerable_questions": len(paragraphs), "hidden": hidden, "epochs": epochs, "seed": seed,
                      "command": shlex.join(["zeroxqa", *sys.argv[1:]])}
    try:
        _, dev = _paragraphs(shards, "dev", domain)
    except typer.Exit:
        dev = []
    if dev:
        table = skim_table(dev, ranker, KEEP, COVERAGES, max_sentences)
        ranker["card"]["dev"] = table
        print_table(f"Skimming on the dev split ({len(dev)} answerable questions; % kept / % read)", table)
    write_json(ranker, out)
    console.print(f"sentence ranker ({len(paragraphs)} questions): {out}")


@app.command("skim-eval")
def skim_eval(
    shards: Shards,
    split: Annotated[str, typer.Option(help="'dev', 'train' or 'all'")] = "dev",
    domain: Domains = None,
    ranker: Annotated[str, typer.Option(help="'packaged', a ranker from `skim-train`, or 'none' (lexical only)")] = "packaged",
    keep: Annotated[list[int] | None, typer.Option("--keep", help="sentences kept (repeatable; default 1, 2, 3)")] = None,
    coverage: Annotated[list[float] | None, typer.Option(help="adaptive coverages (repeatable; default 0.8, 0.9, 0.95)")] = None,
    max_sentences: Annotated[int, typer.Option(help="most sentences adaptive skimming keeps")] = 4,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the table as Parquet, and its plot beside it (.png)")] = None,
) -> None:
    """How many gold answers each skimming policy keeps, and how much of the paragraphs it reads: the knob of
    skimming chosen on labelled questions, before a reader is measured with it."""
    from zeroxqa.speed.sentence_ranker import resolve_ranker
    from zeroxqa.speed.skim_eval import plot_skim_table, skim_table

    _, paragraphs = _paragraphs(shards, split, domain)
    with clear_input_errors():
        weights = None if ranker == "none" else resolve_ranker(ranker)
    table = skim_table(paragraphs, weights, keep or KEEP, coverage or COVERAGES, max_sentences)
    print_table(f"Skimming on {split} ({len(paragraphs)} answerable questions; % kept / % read)", table)
    if out:
        import pyarrow as pa

        from zeroxqa.registry.atomic import write_parquet

        write_parquet(pa.Table.from_pylist(table), out)
        plot_skim_table(table, out.with_suffix(".png"))
        console.print(f"table: {out}; plot: {out.with_suffix('.png')}")
