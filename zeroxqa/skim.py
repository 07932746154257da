"""Context skimming: before the reader, keep only the sentences of a paragraph most likely to hold the answer.

The reader's cost grows with the tokens it reads, and most sentences of a paragraph cannot answer a given
question. The scorer is deliberately cheap (IDS-Extract's idea, with a lexical scorer): each sentence scores
the BM25-style IDF, within its paragraph, of the question's content words it contains; the best
`keep_sentences` are read in their original order. A question that shares no content word with the
paragraph is read whole. Answers are mapped back to character offsets of the original context.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from zeroxqa.decode import SpanPrediction
from zeroxqa.terms import words

# a sentence ends at . ! or ? (closing quotes and brackets included) followed by white space
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of `text`, white space between them left out."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def sentence_scores(question: str, sentences: list[str]) -> list[float]:
    """Sum, over the question's distinct content words found in each sentence, of the word's IDF among the
    paragraph's sentences (rare words in the paragraph point at the answer's sentence)."""
    tokens = words([question, *sentences])
    query, bags = set(tokens[0]), [set(t) for t in tokens[1:]]
    n = len(bags)
    idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w in query if (df := sum(w in b for b in bags))}
    return [sum(idf.get(w, 0.0) for w in bag & query) for bag in bags]


@dataclass(frozen=True)
class Skimmed:
    """The text the reader reads, and where each kept piece came from in the original context."""

    text: str
    pieces: tuple[tuple[int, int, int], ...]  # (start in text, start in the original, length)

    def to_original(self, offset: int) -> int:
        """The original character offset of `offset` in the skimmed text (a joining space maps to the
        character after the piece before it)."""
        for at, source, length in reversed(self.pieces):
            if offset >= at:
                return source + min(offset - at, length)
        return 0

    def restore(self, pred: SpanPrediction, context: str) -> SpanPrediction:
        """The prediction with its span moved back into the original context."""
        if pred.start < 0 or not pred.text:
            return pred
        start = self.to_original(pred.start)
        end = self.to_original(pred.start + len(pred.text) - 1) + 1
        return SpanPrediction(context[start:end], start, pred.score, pred.null_score)


def skim(question: str, context: str, keep_sentences: int) -> Skimmed:
    """The best `keep_sentences` sentences of `context` for `question`, in their original order."""
    spans = sentence_spans(context)
    whole = Skimmed(context, ((0, 0, len(context)),))
    if len(spans) <= keep_sentences:
        return whole
    scores = sentence_scores(question, [context[a:b] for a, b in spans])
    if not any(scores):
        return whole
    kept = sorted(sorted(range(len(spans)), key=lambda i: (-scores[i], i))[:keep_sentences])
    parts, pieces, at = [], [], 0
    for i in kept:
        a, b = spans[i]
        pieces.append((at, a, b - a))
        parts.append(context[a:b])
        at += b - a + 1
    return Skimmed(" ".join(parts), tuple(pieces))
