"""Unlabeled paragraphs of a new domain: no questions, they feed synthetic QA generation.

CSV with a `paragraph` / `context` / `text` column, JSONL with such a key, or plain text with
paragraphs separated by blank lines. The domain comes from a `domain` / `theme` column or key,
else from the source, else from the file name.
"""

from __future__ import annotations

import json
import re
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats.text import csv_records, json_lines, load_text, row_problem

TEXT_KEYS = ("paragraph", "context", "text", "Paragraph", "Context", "Text")
DOMAIN_KEYS = ("domain", "theme", "Domain", "Theme")


def _row(spec, domain: str, text: str, row_no: int, rid: str | None = None) -> dict:
    return {
        "id": rid or f"{spec.path.stem}-p{row_no}",
        "domain": spec.domain or domain or spec.path.stem,
        "context": text,
        "source": {"file": str(spec.path), "row": row_no},
        "split": None,
    }


def read_csv(spec) -> Iterator[dict]:
    records = csv_records(load_text(spec.path))
    first = next(records, None)
    header = first.values if first is not None and first.values is not None else []
    text_key = next((k for k in TEXT_KEYS if k in header), None)
    if text_key is None:
        raise InputError(spec.path, f"missing a paragraph column (one of {list(TEXT_KEYS)}); found {header}")
    domain_key = next((k for k in DOMAIN_KEYS if k in header), None)
    row_no = 0
    for record in records:
        if record.values is not None and not any(v.strip() for v in record.values):
            continue  # a blank line is not a row
        row_no += 1
        if record.values is None:
            yield row_problem(_row(spec, "", "", row_no), record.problem, {"line": record.line, "text": record.raw})
            continue
        rec = dict(zip(header, record.values))
        row = _row(spec, rec.get(domain_key) if domain_key else "", rec.get(text_key) or "", row_no, rec.get("id"))
        if len(record.values) != len(header):
            yield row_problem(row, f"row has {len(record.values)} fields, the header has {len(header)} (bad quoting?)",
                              record.values)
            continue
        yield row


def read_jsonl(spec) -> Iterator[dict]:
    row_no = 0
    for line in json_lines(load_text(spec.path)):
        if not line.strip():
            continue
        row_no += 1
        try:
            rec = json.loads(line)
            text = next(rec[k] for k in TEXT_KEYS if k in rec)
            domain = next((rec[k] for k in DOMAIN_KEYS if k in rec), "")
        except (json.JSONDecodeError, RecursionError, StopIteration, TypeError) as e:
            reason = f"not a JSON object with one of the keys {list(TEXT_KEYS)} ({type(e).__name__})"
            yield row_problem(_row(spec, "", "", row_no), reason, line)
            continue
        row = _row(spec, str(domain), text, row_no, str(rec["id"]) if "id" in rec else None)
        yield row if isinstance(text, str) else row_problem(row, f"the paragraph is not text: {type(text).__name__}", line)


def read_txt(spec) -> Iterator[dict]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", load_text(spec.path))]
    for row_no, block in enumerate((b for b in blocks if b), start=1):
        yield _row(spec, "", block, row_no)
