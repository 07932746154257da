"""Context skimming: before the reader, keep only the sentences of a paragraph most likely to hold the answer.

The reader's cost grows with the tokens it reads, and most sentences of a paragraph cannot answer a given
question. The scorers are deliberately cheap (IDS-Extract's idea): the lexical one scores each sentence by
the BM25-style IDF, within its paragraph, of the question's content words it contains; the learned one
(`zeroxqa.speed.sentence_ranker`) adds its neighbours' scores, overlap, position and answer-type cues. The best
`keep_sentences` are read in their original order; with a `coverage`, fewer when the ranker is sure (adaptive
skimming: the best sentences are kept until the ranker gives them that probability of holding the answer).
A question that shares no content word with the paragraph is read whole. Answers are mapped back to
character offsets of the original context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from zeroxqa.config import SkimConfig
from zeroxqa.reader.decode import SpanPrediction
from zeroxqa.speed.sentence_ranker import SentenceRanker, idf_scores, sentence_features
from zeroxqa.retrieval.terms import words

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
    return idf_scores(set(tokens[0]), [set(t) for t in tokens[1:]])


def chosen_sentences(scores: list[float] | np.ndarray, keep_sentences: int, coverage: float | None = None) -> list[int]:
    """Indices, in order, of the best `keep_sentences` sentences; with `coverage`, of as few of them as hold
    that share of the softmax of `scores` (ties go to the earlier sentence)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:keep_sentences]
    if coverage is not None:
        p = np.exp(np.asarray(scores, dtype=np.float64) - np.max(scores))
        mass = np.cumsum(p[order] / p.sum())
        order = order[:int(np.searchsorted(mass, coverage - 1e-9)) + 1]
    return sorted(order)


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


def skim(question: str, context: str, keep_sentences: int, coverage: float | None = None,
         ranker: SentenceRanker | None = None) -> Skimmed:
    """The best `keep_sentences` sentences of `context` for `question` (fewer with a `coverage`; scored by
    `ranker` if given, else lexically), in their original order."""
    spans = sentence_spans(context)
    whole = Skimmed(context, ((0, 0, len(context)),))
    if len(spans) <= (1 if coverage is not None else keep_sentences):
        return whole
    sentences = [context[a:b] for a, b in spans]
    if ranker is not None:
        features = sentence_features(question, sentences)
        lexical, scores = features[:, 0], ranker.scores_of(features)
    else:
        lexical = scores = sentence_scores(question, sentences)
    if not any(lexical):
        return whole
    kept = chosen_sentences(scores, keep_sentences, coverage)
    if len(kept) == len(spans):
        return whole
    parts, pieces, at = [], [], 0
    for i in kept:
        a, b = spans[i]
        pieces.append((at, a, b - a))
        parts.append(context[a:b])
        at += b - a + 1
    return Skimmed(" ".join(parts), tuple(pieces))


@dataclass(frozen=True)
class Skimmer:
    """A skim config made ready to run: its ranker's weights parsed once, not per question."""

    cfg: SkimConfig
    ranker: SentenceRanker | None = field(default=None, compare=False)

    @classmethod
    def of(cls, cfg: SkimConfig) -> "Skimmer":
        return cls(cfg, SentenceRanker.from_dict(cfg.ranker) if cfg.ranker else None)

    def __call__(self, question: str, context: str) -> Skimmed:
        return skim(question, context, self.cfg.keep_sentences, self.cfg.coverage, self.ranker)
