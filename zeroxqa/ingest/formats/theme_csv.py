"""The theme CSV: `Theme, Paragraph, Question, Answer_possible, Answer_text, Answer_start`.

`Answer_text` and `Answer_start` are Python list literals in a string (`['Cabinet Office']`, `[162]`,
`[]`). An optional first column (often unnamed, a pandas index) becomes the row id.
"""

from __future__ import annotations

import ast
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats.text import csv_records, load_text, row_problem

REQUIRED = ("Theme", "Paragraph", "Question", "Answer_possible", "Answer_text", "Answer_start")
ID_COLUMNS = ("id", "Id", "ID", "", "Unnamed: 0")


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ValueError(f"Answer_possible must be True or False, got {value!r}")


def parse_list_literal(value: str, field: str, item_type: type) -> list:
    """Parse a list literal safely (no eval); name the field when it is malformed."""
    try:
        parsed = ast.literal_eval(value.strip() or "[]")
    except (ValueError, SyntaxError, RecursionError, MemoryError):  # the last two: absurdly nested literals
        raise ValueError(f"malformed list literal in {field}: {value[:80]!r}") from None
    if not isinstance(parsed, list) or not all(isinstance(x, item_type) and not isinstance(x, bool) for x in parsed):
        raise ValueError(f"{field} must be a list of {item_type.__name__}, got {value[:80]!r}")
    return parsed


def read(spec) -> Iterator[dict]:
    records = csv_records(load_text(spec.path))
    first = next(records, None)
    if first is None or first.values is None:
        raise InputError(spec.path, f"cannot parse the CSV header ({first.problem if first else 'no header'})", row=0)
    header = first.values
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(spec.path, f"missing columns {missing}; found {header}")
    col = {name: i for i, name in enumerate(header)}
    id_col = next((col[c] for c in ID_COLUMNS if c in col), None)
    file = str(spec.path)
    row_no = 0
    for record in records:
        values = record.values
        if values is None:
            row_no += 1
            yield row_problem(_empty(spec, file, row_no), record.problem, {"line": record.line, "text": record.raw})
            continue
        if not any(v.strip() for v in values):
            continue  # a blank line is not a row
        row_no += 1
        row = _empty(spec, file, row_no)
        if len(values) != len(header):
            yield row_problem(row, f"row has {len(values)} fields, the header has {len(header)} (bad quoting?)", values)
            continue
        raw = dict(zip(header, values))
        row["id"] = values[id_col].strip() if id_col is not None and values[id_col].strip() else f"{spec.path.stem}-{row_no}"
        row["domain"] = spec.domain or values[col["Theme"]].strip()
        row["context"] = values[col["Paragraph"]]
        row["question"] = values[col["Question"]].strip()
        try:
            possible = parse_bool(values[col["Answer_possible"]])
            texts = parse_list_literal(values[col["Answer_text"]], "Answer_text", str)
            starts = parse_list_literal(values[col["Answer_start"]], "Answer_start", int)
            if len(texts) != len(starts):
                raise ValueError(f"Answer_text has {len(texts)} items but Answer_start has {len(starts)}")
        except ValueError as e:
            yield row_problem(row, str(e), raw)
            continue
        row["answers"] = [{"text": t, "start": s} for t, s in zip(texts, starts)]
        row["is_impossible"] = not possible
        row["raw"] = raw
        yield row


def _empty(spec, file: str, row_no: int) -> dict:
    return {
        "id": None,
        "domain": spec.domain,
        "context": "",
        "question": "",
        "answers": [],
        "is_impossible": False,
        "source": {"file": file, "row": row_no},
        "split": None,
    }
