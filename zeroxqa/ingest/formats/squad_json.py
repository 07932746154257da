"""SQuAD v1.1 and v2.0 JSON: `data[].title`, `paragraphs[].context`, `qas[]` with `answers` and, in
v2.0, `is_impossible`. Titles become domains unless the source names one. Rows are numbered by
question, in file order."""

from __future__ import annotations

import json
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats.text import load_text, row_problem


def read(spec) -> Iterator[dict]:
    try:
        doc = json.loads(load_text(spec.path))
    except json.JSONDecodeError as e:
        raise InputError(spec.path, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise InputError(spec.path, "not SQuAD JSON: nested too deeply to read") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(spec.path, "not SQuAD JSON: expected an object with a 'data' list", field="data")
    file = str(spec.path)
    row_no = 0
    for a, article in enumerate(doc["data"]):
        if not isinstance(article, dict):
            row_no += 1
            yield row_problem(_empty(spec, file, row_no), f"data[{a}] is not an object", {"locator": f"data[{a}]", "value": article})
            continue
        title = str(article.get("title") or spec.path.stem).strip()
        paragraphs = article.get("paragraphs") or []
        for p, paragraph in enumerate(paragraphs if isinstance(paragraphs, list) else [paragraphs]):
            if not isinstance(paragraph, dict):
                row_no += 1
                yield row_problem(_empty(spec, file, row_no, title), f"data[{a}].paragraphs[{p}] is not an object",
                                  {"locator": f"data[{a}].paragraphs[{p}]", "value": paragraph})
                continue
            context = paragraph.get("context")
            qas = paragraph.get("qas") or []
            for q, qa in enumerate(qas if isinstance(qas, list) else [qas]):
                row_no += 1
                raw = {"locator": f"data[{a}].paragraphs[{p}].qas[{q}]", "qa": qa}
                row = _empty(spec, file, row_no, title)
                if not isinstance(qa, dict):
                    yield row_problem(row, "question entry is not an object", raw)
                    continue
                question = qa.get("question")
                row.update({
                    "id": str(qa["id"]) if qa.get("id") is not None else None,
                    "context": context if isinstance(context, str) else "",
                    "question": question.strip() if isinstance(question, str) else question,
                    # as it is: validation quarantines anything but true / false ("false" is a string, not false)
                    "is_impossible": qa.get("is_impossible", False),
                })
                answers = qa.get("answers")
                if not isinstance(answers, list):
                    yield row_problem(row, "field 'answers' is not a list", raw)
                    continue
                try:  # values as they are: validation quarantines a text or an offset of the wrong type
                    row["answers"] = [{"text": x["text"], "start": x["answer_start"]} for x in answers]
                except (KeyError, TypeError):
                    yield row_problem(row, "an answer lacks 'text' or 'answer_start'", raw)
                    continue
                if row["id"] is None:
                    yield row_problem(row, "question has no 'id'", raw)
                    continue
                row["raw"] = raw
                yield row


def _empty(spec, file: str, row_no: int, title: str | None = None) -> dict:
    return {"id": None, "domain": spec.domain or title, "context": "", "question": "", "answers": [],
            "is_impossible": False, "source": {"file": file, "row": row_no}, "split": None}
