"""Words as lexical matching sees them (BM25 retrieval, sentence skimming): lower-cased, English stop words
dropped, Snowball-stemmed, so "refunds" and "refund" match.

The same words as `bm25s.tokenize(texts, stopwords="en", stemmer=..., return_ids=False)` (tested), made
directly: that function builds a vocabulary and three progress bars per call, which costs more than the
tokenizing itself when skimming splits one paragraph per question (0.3 of 0.43 ms measured).
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def words(texts: list[str]) -> list[list[str]]:
    """The stemmed content words of each text, in order."""
    stem, stopwords = _stemmer().stemWords, _stopwords()
    return [stem([w for w in _TOKEN.findall(text.lower()) if w not in stopwords]) for text in texts]
