"""SQuAD v1.1 and v2.0 JSON: `data[].title`, `paragraphs[].context`, `qas[]` with `answers` and, in
v2.0, `is_impossible`. Titles become domains unless the source names one. Rows are numbered by
question, in file order."""

from __future__ import annotations

import json
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.readers.text import load_text, row_problem


def read(spec) -> Iterator[dict]:
    try:
        doc = json.loads(load_text(spec.path))
    except json.JSONDecodeError as e:
        raise InputError(spec.path, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(spec.path, "not SQuAD JSON: expected an object with a 'data' list", field="data")
    file = str(spec.path)
    row_no = 0
    for a, article in enumerate(doc["data"]):
        title = str(article.get("title") or spec.path.stem).strip()
        for p, paragraph in enumerate(article.get("paragraphs") or []):
            context = paragraph.get("context")
            for q, qa in enumerate(paragraph.get("qas") or []):
                row_no += 1
                row = {
                    "id": str(qa["id"]) if qa.get("id") is not None else None,
                    "domain": spec.domain or title,
                    "context": context if isinstance(context, str) else "",
                    "question": (qa.get("question") or "").strip(),
                    "answers": [],
                    "is_impossible": bool(qa.get("is_impossible", False)),
                    "source": {"file": file, "row": row_no},
                    "split": None,
                }
                raw = {"locator": f"data[{a}].paragraphs[{p}].qas[{q}]", "qa": qa}
                answers = qa.get("answers")
                if not isinstance(answers, list):
                    yield row_problem(row, "field 'answers' is not a list", raw)
                    continue
                try:
                    row["answers"] = [{"text": str(x["text"]), "start": int(x["answer_start"])} for x in answers]
                except (KeyError, TypeError, ValueError):
                    yield row_problem(row, "an answer lacks 'text' or an integer 'answer_start'", raw)
                    continue
                if row["id"] is None:
                    yield row_problem(row, "question has no 'id'", raw)
                    continue
                row["raw"] = raw
                yield row
