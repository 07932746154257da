"""Answer candidates of a parsed paragraph: named entities per sentence (at most `ner_limit`), optionally
noun chunks and numbers. Character offsets come straight from spaCy, so every answer is a substring of
its paragraph; a text that occurs again later in the paragraph is taken once (its first occurrence)."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Span

from zeroxqa.config import SynthConfig
from zeroxqa.reader.metrics import normalize_answer

_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those"}


@dataclass(frozen=True)
class Candidate:
    text: str
    start: int  # character offset in the paragraph
    kind: str  # "entity", "noun_chunk" or "number"
    label: str  # the entity label (PERSON, DATE, ...), NOUN_CHUNK or NUMBER
    tokens: tuple[int, int]  # token range [start, end) in the Doc


def _trimmed(span: Span) -> Span | None:
    """A noun chunk without its leading determiner; None for pronouns."""
    while len(span) and span[0].lower_ in _DETERMINERS:
        span = span[1:]
    if not len(span) or all(t.pos_ == "PRON" for t in span):
        return None
    return span


def candidates(doc: Doc, cfg: SynthConfig) -> list[Candidate]:
    """Candidates in order of appearance, without repeats (same span, or same normalized text)."""
    found: list[Candidate] = []
    for sent in doc.sents:
        spans: list[tuple[Span, str, str]] = [(e, "entity", e.label_) for e in sent.ents[: cfg.ner_limit]]
        taken = {t.i for e in sent.ents for t in e}
        if cfg.noun_chunks:
            for chunk in (_trimmed(c) for c in doc.noun_chunks if sent.start <= c.start and c.end <= sent.end):
                if chunk is not None and not taken & {t.i for t in chunk}:
                    spans.append((chunk, "noun_chunk", "NOUN_CHUNK"))
        if cfg.numbers:
            spans += [(doc[t.i : t.i + 1], "number", "NUMBER") for t in sent if t.like_num and t.i not in taken]
        for span, kind, label in sorted(spans, key=lambda s: (s[0].start_char, s[0].end_char)):
            found.append(Candidate(span.text, span.start_char, kind, label, (span.start, span.end)))
    seen: set[str] = set()
    unique: list[Candidate] = []
    for c in found:
        key = normalize_answer(c.text)
        if key and key not in seen:
            seen.add(key)
            unique.append(c)
    return unique
