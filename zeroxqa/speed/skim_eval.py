"""How well a skimmer keeps the answer: on labelled questions, the share whose gold answer it keeps and the
share of the paragraph it reads; the same questions, as sentence labels, train the learned ranker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from zeroxqa.config import SkimConfig
from zeroxqa.progress import bar as progress_bar
from zeroxqa.reader.metrics import is_answerable
from zeroxqa.speed.sentence_ranker import SentenceRanker, sentence_features, train_ranker
from zeroxqa.speed.skim import Skimmer, sentence_spans


@dataclass(frozen=True)
class AnsweredParagraph:
    """An answerable question, its paragraph's sentences, and which of them hold (part of) its gold answer."""

    question: str
    context: str
    spans: list[tuple[int, int]]
    answer: tuple[int, int]
    labels: np.ndarray

    @property
    def sentences(self) -> list[str]:
        return [self.context[a:b] for a, b in self.spans]


def answered_paragraphs(rows: Iterable[dict]) -> list[AnsweredParagraph]:
    """The answerable rows, as sentences and labels (unanswerable ones have no sentence to keep)."""
    out = []
    for r in rows:
        if not is_answerable(r):
            continue
        spans = sentence_spans(r["context"])
        a = r["answers"][0]
        start, end = a["start"], a["start"] + len(a["text"])
        labels = np.array([s < end and start < e for s, e in spans], dtype=np.float32)
        if labels.any():
            out.append(AnsweredParagraph(r["question"], r["context"], spans, (start, end), labels))
    return out


def fit_ranker(paragraphs: list[AnsweredParagraph], hidden: int = 16, epochs: int = 30, seed: int = 0,
               progress: bool = False) -> SentenceRanker:
    """The learned ranker, trained on the paragraphs with a choice to make (two sentences or more)."""
    chosen = [p for p in paragraphs if len(p.spans) >= 2]
    if not chosen:
        raise ValueError("no answerable question whose paragraph has two sentences or more to train on")
    feats = [sentence_features(p.question, p.sentences) for p in progress_bar(chosen, desc="features", unit="question", show=progress)]
    return train_ranker(feats, [p.labels for p in chosen], hidden, epochs, seed=seed, progress=progress)


def skim_recall(paragraphs: list[AnsweredParagraph], cfg: SkimConfig) -> dict[str, float]:
    """answer_kept: the share of questions whose whole gold answer is in what the skimmer keeps (so the reader
    can still find it); read: the mean share of the paragraph's characters read; both in %."""
    skimmer = Skimmer.of(cfg)
    kept, read = [], []
    for p in paragraphs:
        skimmed = skimmer(p.question, p.context)
        start, end = p.answer
        covered = [(src, src + n) for _, src, n in skimmed.pieces]
        inside = all(any(a <= i < b for a, b in covered) for i in range(start, end) if not p.context[i].isspace())
        kept.append(inside)
        read.append(len(skimmed.text) / max(len(p.context), 1))
    return {"questions": len(paragraphs), "answer_kept": 100 * float(np.mean(kept)) if kept else 0.0,
            "read": 100 * float(np.mean(read)) if read else 0.0}


def skim_table(paragraphs: list[AnsweredParagraph], ranker: dict | None, keep: list[int], coverages: list[float],
               max_sentences: int) -> list[dict]:
    """One row per skimming policy: lexical top-K, learned top-K, and adaptive (learned, at each coverage):
    the frontier of answers kept against text read, to choose a knob from."""
    policies = [("lexical", k, None, None) for k in keep]
    if ranker is not None:
        policies += [("learned", k, None, ranker) for k in keep]
        policies += [("adaptive", max_sentences, c, ranker) for c in coverages]
    return [{"scorer": name, "max_sentences": k, "coverage": c,
             **skim_recall(paragraphs, SkimConfig(keep_sentences=k, coverage=c, ranker=r))}
            for name, k, c, r in policies]


def plot_skim_table(table: list[dict], path) -> None:
    """Answers kept against text read, one line per scorer: up and to the left is better."""
    from zeroxqa.plots import figure, save_figure

    fig, ax = figure(figsize=(7, 4.5))
    for scorer, marker in (("lexical", "o"), ("learned", "s"), ("adaptive", "^")):
        points = sorted((r["read"], r["answer_kept"], r) for r in table if r["scorer"] == scorer)
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, label=scorer)
        for read, kept, r in points:
            label = f"p={r['coverage']:g}" if scorer == "adaptive" else f"K={r['max_sentences']}"
            ax.annotate(label, (read, kept), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("% of the paragraph's characters read")
    ax.set_ylabel("% of gold answers kept")
    ax.set_title(f"Skimming: answers kept against text read ({table[0]['questions']} questions)")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)
