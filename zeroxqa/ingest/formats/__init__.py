"""Readers turn each accepted input format into rows of the canonical schema (see `zeroxqa.ingest.schema`).

A reader yields plain dicts: `id, domain, context, question, answers, is_impossible, source, split`
(paragraph readers leave out the question fields). A row the reader could not parse carries a
`problem` (why) and `raw` (what it read) so validation can quarantine it instead of dropping it.
File-level problems raise `InputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats.text import load_text

Kind = Literal["qa", "paragraphs"]

FORMATS = {
    "theme-csv": "theme CSV (Theme, Paragraph, Question, Answer_possible, Answer_text, Answer_start)",
    "squad-json": "SQuAD v1.1 / v2.0 JSON",
    "mrqa-jsonl": "MRQA JSONL (header line, detected_answers char spans), optionally .gz",
    "parquet": "Parquet in the canonical schema",
    "paragraphs-csv": "unlabeled paragraphs, CSV with a paragraph/context/text column",
    "paragraphs-jsonl": "unlabeled paragraphs, JSONL with a paragraph/context/text key",
    "paragraphs-txt": "unlabeled paragraphs, plain text separated by blank lines",
}


@dataclass(frozen=True)
class SourceSpec:
    """One input: a path, optionally with the domain and split its rows belong to.

    Written on the command line as `PATH`, `DOMAIN=PATH` or `DOMAIN:SPLIT=PATH`.
    Without a domain, SQuAD titles, CSV themes and MRQA dataset names become domains.
    """

    path: Path
    domain: str | None = None
    split: str | None = None

    @classmethod
    def parse(cls, text: str) -> "SourceSpec":
        if "=" in text and not Path(text).exists():
            label, path = text.split("=", 1)
            domain, _, split = label.partition(":")
            if split and split not in ("train", "dev"):
                raise InputError(path, f"split must be 'train' or 'dev', got {split!r} in {text!r}")
            return cls(Path(path), domain or None, split or None)
        return cls(Path(text))


def detect_format(path: Path) -> str:
    """Pick the reader from the file name and, where names are shared (.csv, .jsonl), from its first record."""
    if path.is_dir():
        raise InputError(path, "is a folder, not a file; pass the files inside it")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".json"):
        return "squad-json"
    if name.endswith((".jsonl", ".jsonl.gz")):
        first = load_text(path).lstrip().split("\n", 1)[0]
        try:
            obj = json.loads(first)
        except json.JSONDecodeError as e:
            raise InputError(path, f"first line is not JSON ({e.msg})", row=1) from None
        except RecursionError:
            raise InputError(path, "first line is nested too deeply to read", row=1) from None
        if isinstance(obj, dict) and "header" in obj:
            return "mrqa-jsonl"
        return "paragraphs-jsonl"
    if name.endswith(".csv"):
        import csv
        import io

        header = next(csv.reader(io.StringIO(load_text(path))), [])
        if "Question" in header or "question" in header:
            return "theme-csv"
        return "paragraphs-csv"
    if name.endswith((".txt", ".md")):
        return "paragraphs-txt"
    known = ".json, .jsonl, .jsonl.gz, .csv, .parquet, .txt"
    raise InputError(path, f"unknown format (expected one of {known})")


def kind_of(fmt: str) -> Kind:
    return "paragraphs" if fmt.startswith("paragraphs") else "qa"


def read_rows(spec: SourceSpec, fmt: str | None = None) -> Iterator[dict]:
    """Yield the rows of one input in the canonical shape, whatever its format."""
    from zeroxqa.ingest.formats import mrqa_jsonl, paragraphs, parquet_canonical, squad_json, theme_csv

    if not spec.path.exists():
        raise InputError(spec.path, "file not found")
    if spec.path.is_dir():
        raise InputError(spec.path, "is a folder; pass the files inside it")
    fmt = fmt or detect_format(spec.path)
    readers = {
        "theme-csv": theme_csv.read,
        "squad-json": squad_json.read,
        "mrqa-jsonl": mrqa_jsonl.read,
        "parquet": parquet_canonical.read,
        "paragraphs-csv": paragraphs.read_csv,
        "paragraphs-jsonl": paragraphs.read_jsonl,
        "paragraphs-txt": paragraphs.read_txt,
    }
    for row in readers[fmt](spec):
        if spec.split is not None:
            row["split"] = spec.split
        yield row
