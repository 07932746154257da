"""Unlabeled paragraphs of a new domain: no questions, they feed synthetic QA generation.

CSV with a `paragraph` / `context` / `text` column, JSONL with such a key, or plain text with
paragraphs separated by blank lines. The domain comes from a `domain` / `theme` column or key,
else from the source, else from the file name.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.readers.text import json_lines, load_text, row_problem

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
    reader = csv.DictReader(io.StringIO(load_text(spec.path), newline=""))
    header = reader.fieldnames or []
    text_key = next((k for k in TEXT_KEYS if k in header), None)
    if text_key is None:
        raise InputError(spec.path, f"missing a paragraph column (one of {list(TEXT_KEYS)}); found {header}")
    domain_key = next((k for k in DOMAIN_KEYS if k in header), None)
    for row_no, rec in enumerate(reader, start=1):
        row = _row(spec, rec.get(domain_key) if domain_key else "", rec.get(text_key) or "", row_no, rec.get("id"))
        if None in rec:
            yield row_problem(row, "row has more fields than the header (bad quoting?)", rec)
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
        except (json.JSONDecodeError, StopIteration, TypeError) as e:
            reason = f"not a JSON object with one of the keys {list(TEXT_KEYS)} ({type(e).__name__})"
            yield row_problem(_row(spec, "", "", row_no), reason, line)
            continue
        yield _row(spec, str(domain), str(text), row_no, str(rec["id"]) if "id" in rec else None)


def read_txt(spec) -> Iterator[dict]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", load_text(spec.path))]
    for row_no, block in enumerate((b for b in blocks if b), start=1):
        yield _row(spec, "", block, row_no)
