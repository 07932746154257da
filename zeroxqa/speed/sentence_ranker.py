"""A learned sentence ranker for context skimming: which sentences of a paragraph may hold a question's answer.

The lexical scorer of `zeroxqa.speed.skim` ranks a sentence by the rare question words it shares. It misses
when the answer sits next to the sentence that repeats the question ("This committee has the power to set
salaries." after "The church conference is ..."), or when several sentences match equally and only one
holds the kind of thing asked for (a number for "how many", a name for "who"). The ranker scores each
sentence with a handful of cheap features (its lexical score and its neighbours', word and bigram overlap,
position, and whether it holds what the question's type asks for), combined by a small model trained on
labelled questions (IDS-Extract's trained selector, kept cheap enough to cost well under a millisecond).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from zeroxqa.retrieval.terms import words

PACKAGED = "packaged"  # the ranker shipped in `zeroxqa/assets/sentence_ranker.json`

FEATURES = ("score", "relative", "top", "reciprocal_rank", "coverage", "bigrams", "previous", "next",
            "first", "position", "length", "number_asked", "time_asked", "name_asked", "sentences")

_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                     r"forty|fifty|hundred|thousand|million|billion|half|dozen)\b", re.I)
_TIME = re.compile(r"\b(?:1\d{3}|20\d{2}|\d{1,2}(?:st|nd|rd|th)|January|February|March|April|May|June|July|"
                   r"August|September|October|November|December|century|centuries|decade|year|years|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|o'clock|[ap]\.?m\.?)\b", re.I)
_NAME = re.compile(r"(?<=[\w,;:] )[A-Z][\w'-]+")  # a capitalized word that does not start the sentence
_ASKS_NUMBER = re.compile(r"\bhow (?:many|much|long|old|far|big|large|often)\b|\bwhat (?:percent|percentage|"
                          r"number|amount)\b", re.I)
_ASKS_TIME = re.compile(r"\bwhen\b|\b(?:what|which) (?:year|month|day|date|time|century|decade)\b", re.I)
_ASKS_NAME = re.compile(r"\bwho(?:m|se)?\b|\bwhere\b|\bwhat (?:is|was) the name\b", re.I)


def idf_scores(query: set[str], bags: list[set[str]]) -> list[float]:
    """Sum, over the question's content words found in each sentence, of the word's IDF among the paragraph's
    sentences (rare words in the paragraph point at the answer's sentence)."""
    n = len(bags)
    idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w in query if (df := sum(w in b for b in bags))}
    return [math.fsum(idf[w] for w in bag & query if w in idf) for bag in bags]  # fsum: the same total in any set order


def sentence_features(question: str, sentences: list[str]) -> np.ndarray:
    """One row of `FEATURES` per sentence: float32, shape (len(sentences), len(FEATURES))."""
    tokens = words([question, *sentences])
    query, bags = set(tokens[0]), [set(t) for t in tokens[1:]]
    q_bigrams = set(zip(tokens[0], tokens[0][1:]))
    scores = idf_scores(query, bags)
    n, best = len(sentences), max(scores) or 1.0
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    rank = {i: r for r, i in enumerate(order)}
    asks = (bool(_ASKS_NUMBER.search(question)), bool(_ASKS_TIME.search(question)), bool(_ASKS_NAME.search(question)))
    q_lower = question.lower()
    rows = []
    for i, (text, toks) in enumerate(zip(sentences, tokens[1:])):
        relative = scores[i] / best
        names = [w for w in _NAME.findall(text) if w.lower() not in q_lower]
        rows.append((
            scores[i], relative, float(scores[i] == best and scores[i] > 0), 1.0 / (1 + rank[i]),
            len(bags[i] & query) / max(len(query), 1),
            min(len(q_bigrams & set(zip(toks, toks[1:]))), 3) / 3,
            scores[i - 1] / best if i else 0.0, scores[i + 1] / best if i + 1 < n else 0.0,
            float(i == 0), i / max(n - 1, 1), math.log1p(len(toks)),
            float(asks[0] and bool(_NUMBER.search(text))), float(asks[1] and bool(_TIME.search(text))),
            float(asks[2] and bool(names)), math.log(n),
        ))
    return np.asarray(rows, dtype=np.float32)


@dataclass(frozen=True)
class SentenceRanker:
    """A one-hidden-layer scorer over `FEATURES` (numpy only: serving needs no torch)."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # (features, hidden)
    b1: np.ndarray
    w2: np.ndarray  # (hidden,)

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        """One score per sentence (one at least); their softmax is the ranker's probability that a sentence holds the answer."""
        return self.scores_of(sentence_features(question, sentences))

    def scores_of(self, features: np.ndarray) -> np.ndarray:
        x = (features - self.mean) / self.scale
        return np.tanh(x @ self.w1 + self.b1) @ self.w2

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), **{k: getattr(self, k).tolist() for k in ("mean", "scale", "w1", "b1", "w2")}}

    @classmethod
    def from_dict(cls, d: dict) -> "SentenceRanker":
        if list(d.get("features", [])) != list(FEATURES):
            raise ValueError(f"this sentence ranker was trained on other features: {d.get('features')}")
        return cls(*(np.asarray(d[k], dtype=np.float32) for k in ("mean", "scale", "w1", "b1", "w2")))


@lru_cache(maxsize=1)
def packaged_ranker() -> dict:
    """The shipped ranker (weights and card), trained on the reference reader's train split."""
    return json.loads(resources.files("zeroxqa").joinpath("assets/sentence_ranker.json").read_text())


def resolve_ranker(name_or_path: str | Path) -> dict:
    """'packaged' or the path of a ranker written by `zeroxqa skim-train`, as the dict a skim config holds."""
    if str(name_or_path) == PACKAGED:
        return packaged_ranker()
    from zeroxqa.errors import InputError

    path = Path(name_or_path)
    try:
        ranker = json.loads(path.read_text())
        SentenceRanker.from_dict(ranker)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(path, f"not a sentence ranker from `zeroxqa skim-train` ({e})") from None
    return ranker


def train_ranker(feats: list[np.ndarray], labels: list[np.ndarray], hidden: int = 16, epochs: int = 30,
                 lr: float = 3e-3, seed: int = 0, progress: bool = False) -> SentenceRanker:
    """Fit the ranker listwise on each paragraph's sentence features and 0/1 labels (1: holds the answer): a
    softmax over the paragraph's sentences, cross-entropy against the answer's sentence(s). Seconds on a CPU."""
    import torch

    from zeroxqa.progress import bar as progress_bar

    stacked = np.concatenate(feats)
    mean, scale = stacked.mean(0), stacked.std(0) + 1e-6
    n, width = len(feats), max(len(f) for f in feats)
    x = np.zeros((n, width, len(FEATURES)), np.float32)
    y = np.zeros((n, width), np.float32)
    mask = np.zeros((n, width), bool)
    for i, (f, lab) in enumerate(zip(feats, labels)):
        x[i, :len(f)], y[i, :len(f)], mask[i, :len(f)] = (f - mean) / scale, lab / lab.sum(), True
    x, y, mask = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(len(FEATURES), hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, 1, bias=False))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
    for _ in progress_bar(range(epochs), desc="fit", unit="epoch", show=progress, leave=False):
        for idx in torch.randperm(n).split(256):
            logits = model(x[idx]).squeeze(-1).masked_fill(~mask[idx], -1e9)
            loss = -(y[idx] * torch.log_softmax(logits, -1)).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    first, second = model[0], model[2]
    return SentenceRanker(mean.astype(np.float32), scale.astype(np.float32),
                          first.weight.detach().numpy().T.copy(), first.bias.detach().numpy().copy(),
                          second.weight.detach().numpy()[0].copy())
