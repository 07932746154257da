"""Parquet already in the canonical schema (for example shards written by an earlier run)."""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from zeroxqa.errors import InputError
from zeroxqa.ingest.schema import QA_SCHEMA

REQUIRED = ("id", "domain", "context", "question", "answers", "is_impossible")


def read(spec) -> Iterator[dict]:
    try:
        table = pq.read_table(spec.path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(spec.path, f"not a readable Parquet file ({e})") from None
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(spec.path, f"missing columns {missing} of the canonical schema {QA_SCHEMA.names}")
    if table.num_rows == 0:
        raise InputError(spec.path, "file is empty (no rows)")
    file = str(spec.path)
    for row_no, rec in enumerate(table.to_pylist(), start=1):
        # values pass as they are (a null context stays null, a string offset a string): validation
        # quarantines what is not of the schema's type instead of coercing it into something else
        question, answers = rec["question"], rec["answers"]
        yield {
            "id": rec["id"],
            "domain": spec.domain or rec["domain"],
            "context": rec["context"],
            "question": question.strip() if isinstance(question, str) else question,
            "answers": [{"text": a.get("text"), "start": a.get("start")} if isinstance(a, dict) else a for a in answers]
            if isinstance(answers, list) else answers,
            "is_impossible": rec["is_impossible"],
            "source": {"file": file, "row": row_no},
            "split": rec.get("split"),
            "raw": {k: rec.get(k) for k in ("id", "domain", "question", "answers", "is_impossible", "split")},
        }
