"""MRQA JSONL: a header line, then one context per line with `qas[].detected_answers[].char_spans`
(inclusive `[start, end]`). The spans are authoritative: answer texts are read from the context.
The header's `dataset` becomes the domain unless the source names one."""

from __future__ import annotations

import json
from typing import Iterator

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats.text import json_lines, load_text, row_problem


def read(spec) -> Iterator[dict]:
    lines = json_lines(load_text(spec.path))
    try:
        header = json.loads(lines[0]).get("header", {})
    except (json.JSONDecodeError, AttributeError, RecursionError):
        raise InputError(spec.path, "first line is not an MRQA header object", row=1) from None
    domain = spec.domain or str(header.get("dataset") or spec.path.stem)
    file = str(spec.path)
    row_no = 0
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        control = None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            # raw control characters (a NUL byte) inside a string are not JSON, but the record's questions
            # can still be read and counted one by one: each is quarantined with the reason
            control = f"line {line_no} holds raw control characters inside a string ({e.msg}), not valid JSON"
            try:
                obj = json.loads(line, strict=False)
            except json.JSONDecodeError:
                obj = None
        except RecursionError:
            control, obj = f"line {line_no} is nested too deeply to read", None
        context, qas = (obj.get("context"), obj.get("qas")) if isinstance(obj, dict) else (None, None)
        if not isinstance(context, str) or not isinstance(qas, list):
            row_no += 1
            yield row_problem(_row(domain, "", {}, file, row_no),
                              control or f"line {line_no} is not an MRQA context object (a 'context' text and a 'qas' list)", line)
            continue
        for qa in qas:
            row_no += 1
            row = _row(domain, context, qa if isinstance(qa, dict) else {}, file, row_no)
            if control or not isinstance(qa, dict):
                yield row_problem(row, control or f"line {line_no}: a 'qas' entry is not an object", {"line": line_no, "qa": qa})
                continue
            raw = {"line": line_no, "qa": qa}
            try:
                for det in qa.get("detected_answers") or []:
                    for start, end in det["char_spans"]:
                        start, end = int(start), int(end)
                        text = context[start : end + 1] if 0 <= start <= end < len(context) else det.get("text", "")
                        row["answers"].append({"text": text, "start": start})
            except (KeyError, TypeError, ValueError):
                yield row_problem(row, "malformed detected_answers / char_spans", raw)
                continue
            row["is_impossible"] = not row["answers"]
            row["raw"] = raw
            yield row


def _row(domain: str, context: str, qa: dict, file: str, row_no: int) -> dict:
    qid = qa.get("qid", qa.get("id"))
    return {
        "id": str(qid) if qid is not None else f"{file}-{row_no}",
        "domain": domain,
        "context": context,
        "question": question.strip() if isinstance(question := qa.get("question"), str) else question,
        "answers": [],
        "is_impossible": False,
        "source": {"file": file, "row": row_no},
        "split": None,
    }
