"""The question encoder without torch: the packaged sentence encoder as ONNX (made by
`zeroxqa.speed.export.lean`), `tokenizers`, mean pooling and the unit norm in numpy."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

ENCODER_CARD = "zeroxqa_encoder.json"  # max_seq_length, pooling, normalize, and the parity check's result


class LeanEncoder:
    """An ONNX sentence encoder: one `tokenizers` tokenizer per thread (its truncation state is not shared),
    one onnxruntime session for all (its `run` is thread-safe), mean pooling and unit norm in numpy."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        import onnxruntime as ort

        folder = Path(folder)
        card = json.loads((folder / ENCODER_CARD).read_text())
        self.max_length, self.normalize = int(card.get("max_seq_length", 256)), bool(card.get("normalize", True))
        self._tokenizer_json = (folder / "tokenizer.json").read_text(encoding="utf-8")
        self._local = threading.local()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _tokenizer(self):
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = self._local.tokenizer = Tokenizer.from_str(self._tokenizer_json)
            tokenizer.enable_truncation(self.max_length)
            tokenizer.enable_padding()
        return tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            encodings = self._tokenizer().encode_batch(texts[i:i + batch_size])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = self.session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self.inputs})
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            if self.normalize:
                pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out.append(pooled.astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
