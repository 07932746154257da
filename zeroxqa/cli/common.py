"""What every command group shares: the Typer app, the consoles, clear input errors, tables, and the
argument types of shard-reading and training commands."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zeroxqa.config import ReaderConfig
from zeroxqa.errors import InputError

app = typer.Typer(help="ZeroxQA: domain-adapted extractive QA readers.", no_args_is_help=True, add_completion=False)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
_READER = ReaderConfig()


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
        numeric = any(isinstance(r[col], (int, float)) for r in rows[:limit])
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for r in rows[:limit]:
        table.add_row(*("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()))
    console.print(table)
    if len(rows) > limit:
        console.print(f"... and {len(rows) - limit} more rows")


Shards = Annotated[list[Path], typer.Argument(help="QA shard files, or shard folders written by `zeroxqa shard`")]
Domains = Annotated[list[str] | None, typer.Option("--domain", help="only these domains (repeatable)")]
MaxLength = Annotated[int, typer.Option(help="tokens per window")]
DocStride = Annotated[int, typer.Option(help="overlap of windows, in tokens")]


# options of the training commands (`train`, `distill`, and `--device` of the adaptation commands)
Epochs = Annotated[int, typer.Option()]
BatchSize = Annotated[int, typer.Option()]
LearningRate = Annotated[float, typer.Option("--lr")]
MaxSteps = Annotated[int | None, typer.Option(help="stop after this many steps")]
Seed = Annotated[int, typer.Option()]


def _visible_device(name: str) -> str:
    """`--device cuda` on a machine without a GPU is refused when the command starts (exit 2), not after
    minutes of loading data (other values are checked by the configs' pattern, as before)."""
    if name == "cuda":
        from zeroxqa.reader.train import resolve_device

        try:
            resolve_device(name)
        except ValueError as e:
            raise typer.BadParameter(f"{e} (use auto or cpu)") from None
    return name


Device = Annotated[str, typer.Option(help="auto (CUDA when there is a GPU), cpu or cuda", callback=_visible_device)]
NegativeRatio = Annotated[float, typer.Option(help="same-article negatives per answerable question")]
AnswerRemovedRatio = Annotated[float, typer.Option(help="negatives per answerable question made by deleting its "
                                                    "answer's sentences from its own paragraph")]
RepeatUnanswerable = Annotated[int, typer.Option(help="times each real unanswerable question is seen an epoch")]
Threads = Annotated[int | None, typer.Option(help="torch threads (CPU)")]
AttentionDropout = Annotated[float | None, typer.Option(help="attention dropout for this run (default: the model's); 0 "
                                                             "lets a CPU use its fused attention kernel")]
HiddenDropout = Annotated[float | None, typer.Option(help="hidden-state dropout for this run (default: the model's)")]
CheckpointEvery = Annotated[int, typer.Option(help="save the run state every N steps (0: never)")]
CheckpointDir = Annotated[Path | None, typer.Option(help="where the run state goes; default OUT.checkpoint")]
Resume = Annotated[bool, typer.Option(help="continue from the checkpoint, mid-epoch")]
