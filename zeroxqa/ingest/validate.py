"""Row-level checks of canonical QA rows. A row either passes (perhaps with a repaired offset) or goes
to quarantine with a reason; nothing is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Verdict:
    reason: str | None = None  # why the row is quarantined; None when it is kept
    repairs: list[str] = field(default_factory=list)  # what was mended in a kept row

    @property
    def kept(self) -> bool:
        return self.reason is None


def check_answer(context: str, answer: dict) -> tuple[str | None, str | None]:
    """Return (problem, repair) for one answer, repairing its offset in place when that is unambiguous.

    A wrong offset is repaired only when the answer text occurs exactly once in the context.
    """
    text, start = answer["text"], answer["start"]
    if not text or not text.strip():
        return "empty answer text", None
    in_bounds = 0 <= start and start + len(text) <= len(context)
    if in_bounds and context[start : start + len(text)] == text:
        return None, None
    occurrences = context.count(text)
    if occurrences == 1:
        new_start = context.index(text)
        answer["start"] = new_start
        return None, f"answer {text[:40]!r} offset {start} -> {new_start}"
    if occurrences == 0:
        if not in_bounds:
            return f"answer outside the context (start {start}, length {len(text)}, context length {len(context)})", None
        return f"answer text {text[:40]!r} not in the context", None
    where = "outside the context" if not in_bounds else "not at its offset"
    return f"answer text {text[:40]!r} {where} (start {start}) and occurs {occurrences} times, cannot repair", None


SPLITS = (None, "train", "dev")


def unencodable(text: str) -> bool:
    """True for text that cannot be written as UTF-8: an unpaired surrogate (JSON allows "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_problem(value: object, field: str, required: bool = True) -> str | None:
    if value is None:
        return f"field {field!r} is missing" if required else None
    if not isinstance(value, str):
        return f"field {field!r} is not text: {type(value).__name__} {str(value)[:40]!r}"
    if unencodable(value):
        return f"field {field!r} holds an unpaired surrogate (not valid Unicode text)"
    return None


def type_problem(row: dict) -> str | None:
    """Why a QA row is not of the canonical types (nothing is coerced: "177" or 160.7 is no offset), or None."""
    for name, required in (("id", False), ("domain", False), ("context", True), ("question", True)):
        if problem := text_problem(row.get(name), name, required):
            return problem
    if not isinstance(row.get("is_impossible"), bool):
        return f"field 'is_impossible' is not true/false: {row.get('is_impossible')!r}"
    answers = row.get("answers")
    if not isinstance(answers, list):
        return f"field 'answers' is not a list: {type(answers).__name__}"
    for i, a in enumerate(answers):
        if not isinstance(a, dict):
            return f"answers[{i}] is not an object"
        if problem := text_problem(a.get("text"), f"answers[{i}].text"):
            return problem
        start = a.get("start")
        if not isinstance(start, int) or isinstance(start, bool):
            return f"answers[{i}].start is not an integer offset: {start!r}"
    if row.get("split") not in SPLITS:
        return f"field 'split' must be 'train', 'dev' or empty, got {row.get('split')!r}"
    return None


class RowValidator:
    """Checks rows one by one; remembers ids so a duplicate is caught wherever it appears."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}

    def _duplicate(self, row: dict) -> str | None:
        rid = row.get("id")
        if rid is None:
            return None
        where = f"{row['source']['file']} row {row['source']['row']}"
        content = hash((row.get("context"), row.get("question"), str(row.get("answers"))))
        first, first_content = self._seen.setdefault(rid, (where, content))
        if first == where:
            return None
        same = "an exact repeat of the row" if content == first_content else "different content"
        return f"duplicate id {rid!r}: {same} first seen at {first}"

    def check_qa(self, row: dict) -> Verdict:
        if row.get("problem"):
            return Verdict(row["problem"])
        if problem := type_problem(row):
            return Verdict(problem)
        if not row.get("id"):
            return Verdict("missing id")
        if not row.get("domain") or not str(row["domain"]).strip():
            return Verdict("missing domain (theme/title); name one with DOMAIN=PATH")
        if not row["context"].strip():
            return Verdict("empty context")
        if not row["question"]:
            return Verdict("empty question")
        dup = self._duplicate(row)
        if dup:
            return Verdict(dup)
        if row["is_impossible"] and row["answers"]:
            return Verdict("marked unanswerable but has answers")
        if not row["is_impossible"] and not row["answers"]:
            return Verdict("marked answerable but has no answer")
        verdict = Verdict()
        for answer in row["answers"]:
            problem, repair = check_answer(row["context"], answer)
            if problem:
                return Verdict(problem)
            if repair:
                verdict.repairs.append(repair)
        return verdict

    def check_paragraph(self, row: dict) -> Verdict:
        if row.get("problem"):
            return Verdict(row["problem"])
        if problem := text_problem(row.get("context"), "paragraph") or text_problem(row.get("domain"), "domain", False):
            return Verdict(problem)
        if not row["context"].strip():
            return Verdict("empty paragraph")
        return Verdict(self._duplicate(row))
