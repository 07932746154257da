"""The tokenizer of the lean ONNX engine: the Rust `tokenizers` library on the model's `tokenizer.json`,
giving the same windows as the Hugging Face fast tokenizer call in `zeroxqa.reader.features.prepare_features`
(question first, only the context truncated, overflowing windows with `doc_stride` overlap, offsets of
context tokens only), without importing torch or transformers. An ONNX reader served this way needs
`tokenizers`, `onnxruntime` and numpy only.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from zeroxqa.config import ReaderConfig
from zeroxqa.reader.features import Features


class FastTokenizer:
    """Safe to call from many threads at once, without a lock: each thread gets its own `tokenizers`
    instance (truncation settings are state of the instance, and two threads changing them at once fail
    with "Already borrowed")."""

    padding_side = "right"

    def __init__(self, path: str | Path):
        path = Path(path)
        self._json = (path / "tokenizer.json" if path.is_dir() else path).read_text(encoding="utf-8")
        self._local = threading.local()
        config = path / "tokenizer_config.json" if path.is_dir() else path.with_name("tokenizer_config.json")
        pad = json.loads(config.read_text()).get("pad_token", "[PAD]") if config.exists() else "[PAD]"
        pad = pad["content"] if isinstance(pad, dict) else pad
        self.pad_token_id = self._tokenizer.token_to_id(pad) or 0

    @property
    def _tokenizer(self):
        """This thread's tokenizer."""
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = self._local.tokenizer = Tokenizer.from_str(self._json)
            tokenizer.no_padding()
        return tokenizer

    @staticmethod
    def available(model_dir: str | Path) -> bool:
        return (Path(model_dir) / "tokenizer.json").is_file()

    def cut_questions(self, questions: list[str], max_tokens: int) -> list[str]:
        """`zeroxqa.reader.features.cut_questions`: strip, and cut to `max_tokens` tokens."""
        questions = [q.strip() for q in questions]
        self._tokenizer.no_truncation()
        encodings = self._tokenizer.encode_batch(questions, add_special_tokens=False)
        return [q if len(e.offsets) <= max_tokens else q[: e.offsets[max_tokens - 1][1]] for q, e in zip(questions, encodings)]

    def features(self, questions: list[str], contexts: list[str], cfg: ReaderConfig) -> Features:
        """The windows of `prepare_features` (no labels: inference)."""
        questions = self.cut_questions(questions, cfg.max_question_length)
        self._tokenizer.enable_truncation(cfg.max_length, stride=cfg.doc_stride, strategy="only_second")
        encodings = self._tokenizer.encode_batch(list(zip(questions, contexts)), add_special_tokens=True)
        input_ids, attention, types, example_index, offsets = [], [], [], [], []
        for ex, first in enumerate(encodings):
            for window in [first, *first.overflowing]:
                input_ids.append(window.ids)
                attention.append(window.attention_mask)
                types.append(window.type_ids)
                example_index.append(ex)
                offsets.append([tuple(o) if s == 1 else None for o, s in zip(window.offsets, window.sequence_ids)])
        return Features(input_ids, attention, types, example_index, offsets)
