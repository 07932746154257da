"""A domain's retrieval index: its distinct paragraphs, a BM25 index over their stemmed words (bm25s) and
one dense vector per paragraph (the packaged sentence encoder). Stored as a folder:

    index.json          domain, paragraph count, encoder, the retrieval config, library versions
    paragraphs.parquet  context_id, context (the corpus, in index order)
    vectors.parquet     context_id, vector (float32, unit length)
    bm25/               the BM25 index in bm25s' own format

Built once per domain (a cached pipeline stage, or `zeroxqa index`), loaded by `zeroxqa ask` and the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zeroxqa.registry.atomic import atomic_dir, write_json, write_parquet
from zeroxqa.config import RetrievalConfig
from zeroxqa.errors import InputError
from zeroxqa.retrieval.encoder import encode, question_vector
from zeroxqa.retrieval.fusion import ranked, rrf, top_indices, weighted
from zeroxqa.retrieval.terms import words

INDEX_FILE = "index.json"
METHODS = ("bm25", "dense", "fused", "rrf", "weighted")  # fused: the config's fusion (rrf or weighted)


@dataclass
class Hit:
    """One retrieved paragraph: its place in the corpus, the ranking's score and both underlying scores."""

    index: int
    context_id: str
    context: str
    score: float
    bm25: float
    dense: float


@dataclass
class DomainIndex:
    domain: str
    context_ids: list[str]
    contexts: list[str]
    bm25: object  # bm25s.BM25
    vectors: np.ndarray  # (paragraphs, dim), unit rows
    cfg: RetrievalConfig

    def __len__(self) -> int:
        return len(self.contexts)

    @classmethod
    def build(cls, domain: str, paragraphs: list[dict], cfg: RetrievalConfig, progress: bool = False) -> "DomainIndex":
        """Index `paragraphs` (dicts with `context_id` and `context`; duplicates by id are kept once)."""
        import bm25s

        unique = {p["context_id"]: p["context"] for p in paragraphs}
        if not unique:
            raise InputError(domain, "no paragraphs to index")
        ids, texts = list(unique), list(unique.values())
        bm25 = bm25s.BM25()
        bm25.index(words(texts), show_progress=False)
        return cls(domain, ids, texts, bm25, encode(cfg.encoder, texts, cfg.batch_size, progress), cfg)

    def save(self, folder: str | Path) -> Path:
        """Write the index to `folder`, atomically (a reader sees the old index or the new one)."""
        import bm25s

        with atomic_dir(folder) as tmp:
            write_parquet(pa.table({"context_id": self.context_ids, "context": self.contexts}), tmp / "paragraphs.parquet")
            dim = self.vectors.shape[1]
            vectors = pa.FixedSizeListArray.from_arrays(pa.array(self.vectors.reshape(-1), pa.float32()), dim)
            write_parquet(pa.table({"context_id": self.context_ids, "vector": vectors}), tmp / "vectors.parquet")
            self.bm25.save(str(tmp / "bm25"))
            write_json({"domain": self.domain, "paragraphs": len(self), "dim": dim, "encoder": self.cfg.encoder,
                        "retrieval": self.cfg.model_dump(), "bm25s": bm25s.__version__,
                        "built_at": datetime.now(timezone.utc).isoformat()}, tmp / INDEX_FILE)
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, cfg: RetrievalConfig | None = None) -> "DomainIndex":
        """An index saved by `save`; `cfg` overrides how it ranks (not its encoder, which made its vectors)."""
        import bm25s

        folder = Path(folder)
        if not (folder / INDEX_FILE).is_file():
            raise InputError(folder, f"not a retrieval index: no {INDEX_FILE} (build one with `zeroxqa index`)")
        meta = json.loads((folder / INDEX_FILE).read_text())
        saved = RetrievalConfig(**meta.get("retrieval", {}))
        cfg = (cfg or saved).model_copy(update={"encoder": saved.encoder})
        paragraphs = pq.read_table(folder / "paragraphs.parquet")
        vectors = pq.read_table(folder / "vectors.parquet").column("vector").combine_chunks()
        matrix = vectors.values.to_numpy(zero_copy_only=False).reshape(len(vectors), -1).astype(np.float32)
        if len(matrix) != paragraphs.num_rows:
            raise InputError(folder, f"{len(matrix)} vectors for {paragraphs.num_rows} paragraphs: the index is damaged")
        return cls(meta["domain"], paragraphs.column("context_id").to_pylist(), paragraphs.column("context").to_pylist(),
                   bm25s.BM25.load(str(folder / "bm25")), matrix, cfg)

    def lexical_scores(self, question: str) -> np.ndarray:
        query = words([question])[0]
        if not query:  # only stop words: BM25 has nothing to say
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(query), dtype=np.float32)

    def dense_scores(self, question: str, vector: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of every paragraph to the question (pass `vector` when it is already encoded)."""
        if vector is None:
            vector = question_vector(self.cfg.encoder, question)
        return self.vectors @ vector

    def search(self, question: str, k: int | None = None, method: str | None = None,
               vector: np.ndarray | None = None) -> list[Hit]:
        """The `k` best paragraphs for `question` by `method`: bm25, dense, fused (by the config's fusion), or
        a fusion named (rrf, weighted); default: the config's method."""
        k, method = k or self.cfg.top_k, method or self.cfg.method
        if method not in METHODS:
            raise ValueError(f"unknown retrieval method {method!r}; one of {METHODS}")
        fusion = self.cfg.fusion if method == "fused" else method
        lexical = self.lexical_scores(question) if method != "dense" else np.zeros(len(self), dtype=np.float32)
        dense = self.dense_scores(question, vector) if method != "bm25" else np.zeros(len(self), dtype=np.float32)
        if method == "bm25":
            order = [(int(i), float(lexical[i])) for i in top_indices(lexical, k)]
        elif method == "dense":
            order = [(int(i), float(dense[i])) for i in top_indices(dense, k)]
        else:
            n = self.cfg.candidates
            by_lexical, by_dense = top_indices(lexical, n), top_indices(dense, n)
            by_lexical = by_lexical[lexical[by_lexical] > 0]  # no word in common is no evidence, not a rank
            if fusion == "rrf":
                fused = rrf([by_lexical, by_dense], self.cfg.rrf_k)
            else:
                fused = weighted(np.union1d(by_lexical, by_dense), lexical, dense, self.cfg.dense_weight)
            order = ranked(fused)[:k]
        return [Hit(i, self.context_ids[i], self.contexts[i], s, float(lexical[i]), float(dense[i])) for i, s in order]
