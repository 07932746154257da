"""Words as lexical matching sees them (BM25 retrieval, sentence skimming): lower-cased, English stop words
dropped, Snowball-stemmed, so "refunds" and "refund" match."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(texts: list[str]) -> list[list[str]]:
    """The stemmed content words of each text."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)
