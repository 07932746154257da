"""The inference engine: fast tokenizer, windows, dynamic padding, batching, the same span decoding and
no-answer threshold as evaluation. A backend turns a padded batch into start/end logits; the rest is
shared, so a torch reader and its ONNX variants answer through the same code.

It is what `zeroxqa answer`, evaluation, the benchmark and later serving use.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Union

import numpy as np
from tqdm.auto import tqdm

from zeroxqa.reader.batching import collate, length_grouped_batches
from zeroxqa.reader.card import read_card
from zeroxqa.config import ReaderConfig, SkimConfig
from zeroxqa.reader.decode import SpanPrediction, best_spans
from zeroxqa.reader.features import Features, prepare_features
from zeroxqa.reader.lean import FastTokenizer
from zeroxqa.speed.skim import Skimmer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Batch = dict[str, np.ndarray]
STAGES = ("skim", "tokenize", "infer", "decode")  # what `QAEngine.spans` times


class Backend(Protocol):
    def __call__(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]: ...


class TorchBackend:
    def __init__(self, model, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.model = model

    def __call__(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        import torch

        self.model.eval()
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            out = self.model(**{k: torch.from_numpy(v).to(device) for k, v in batch.items()})
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()


class OnnxBackend:
    def __init__(self, path: str | Path, threads: int | None = None, arena: bool = True):
        """`arena=False` frees activation buffers after each run instead of keeping them for the next: about
        10 MB less per loaded reader (int8 MiniLM, 256-token windows: 36.7 -> 27.0 MB a session) for about
        6 % more latency (9.1 -> 9.7 ms), what a server holding many domains' readers wants."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = arena
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.session.run(["start_logits", "end_logits"], {k: v for k, v in batch.items() if k in self.inputs})
        return start, end


@dataclass
class QAEngine:
    backend: Backend
    tokenizer: Union["PreTrainedTokenizerBase", FastTokenizer]
    cfg: ReaderConfig
    threshold: float = 0.0
    skim: SkimConfig | None = None  # read only the best sentences of each context (a card's "skim")
    # a transformers fast tokenizer's truncation settings live in shared Rust state: two threads tokenizing at
    # once can fail ("Already borrowed"), so it tokenizes one request at a time; the lean `FastTokenizer` keeps
    # one tokenizer per thread and needs no lock
    tokenize_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _ready_skimmer: Skimmer | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, model_dir: str | Path, threads: int | None = None, cfg: ReaderConfig | None = None,
             arena: bool = True) -> "QAEngine":
        """A folder with `model.onnx` runs on onnxruntime, tokenized by `tokenizers` alone when it holds a
        `tokenizer.json` (the lean engine: neither torch nor transformers is imported); a saved reader
        (safetensors) runs on torch."""
        if not Path(model_dir).is_dir():  # a short name ('squad', 'minilm') or a hub id
            from zeroxqa.reader.model import resolve_model_path

            model_dir = resolve_model_path(model_dir)
        model_dir = Path(model_dir)
        card = read_card(model_dir)
        cfg = cfg or ReaderConfig(**card.get("reader_config", {}))
        if (model_dir / "model.onnx").exists():
            if FastTokenizer.available(model_dir):
                tokenizer: Union["PreTrainedTokenizerBase", FastTokenizer] = FastTokenizer(model_dir)
            else:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
            backend: Backend = OnnxBackend(model_dir / "model.onnx", threads, arena)
        else:
            from zeroxqa.reader.model import load_reader

            reader = load_reader(model_dir)
            tokenizer, backend = reader.tokenizer, TorchBackend(reader.model, threads)
        skim_cfg = SkimConfig(**card["skim"]) if card.get("skim") else None
        return cls(backend, tokenizer, cfg, float(card.get("null_threshold", 0.0)), skim_cfg)

    @classmethod
    def from_reader(cls, reader, cfg: ReaderConfig, threshold: float | None = None) -> "QAEngine":
        return cls(TorchBackend(reader.model), reader.tokenizer, cfg, reader.null_threshold if threshold is None else threshold)

    def window_logits(self, features: Features, batch_size: int = 64, progress: bool = False) -> tuple[list, list]:
        """Start and end logits of every window (unpadded), computed in length-sorted batches."""
        starts: list = [None] * len(features)
        ends: list = [None] * len(features)
        batches = length_grouped_batches([len(x) for x in features.input_ids], batch_size)
        for idx in tqdm(batches, desc="predict", disable=not progress, leave=False):
            s, e = self.backend(collate(features, idx, self.tokenizer.pad_token_id or 0))
            for row, i in enumerate(idx):
                n = len(features.input_ids[i])
                starts[i], ends[i] = s[row, :n], e[row, :n]
        return starts, ends

    def spans(self, questions: list[str], contexts: list[str], batch_size: int = 64, progress: bool = False,
              timings: dict[str, float] | None = None) -> list[SpanPrediction]:
        """The best span of each question in its context. `timings`, if given, receives the seconds spent
        per stage (skim, tokenize, infer, decode): where a question's milliseconds go."""
        clock = [time.perf_counter()]
        skimmer = self._skimmer()
        skims = [skimmer(q, c) for q, c in zip(questions, contexts)] if skimmer else None
        read = [s.text for s in skims] if skims else contexts
        clock.append(time.perf_counter())
        if isinstance(self.tokenizer, FastTokenizer):  # one tokenizer per thread: no lock
            features = self.tokenizer.features(questions, read, self.cfg)
        else:
            with self.tokenize_lock:
                features = prepare_features(self.tokenizer, questions, read, self.cfg)
        clock.append(time.perf_counter())
        starts, ends = self.window_logits(features, batch_size, progress)
        clock.append(time.perf_counter())
        preds = best_spans(features, starts, ends, read, self.cfg)
        preds = [s.restore(p, c) for s, p, c in zip(skims, preds, contexts)] if skims else preds
        clock.append(time.perf_counter())
        if timings is not None:
            for stage, a, b in zip(STAGES, clock, clock[1:]):
                timings[stage] = timings.get(stage, 0.0) + b - a
        return preds

    def _skimmer(self) -> Skimmer | None:
        """The skim config made ready once (a learned ranker's weights parsed), None when reading whole."""
        if self.skim is None:
            return None
        if self._ready_skimmer is None or self._ready_skimmer.cfg is not self.skim:
            self._ready_skimmer = Skimmer.of(self.skim)
        return self._ready_skimmer

    def answer(self, questions: list[str], contexts: list[str], batch_size: int = 64) -> list[str]:
        """The answers, "" where the reader judges the question unanswerable."""
        return [s.answer(self.threshold) for s in self.spans(questions, contexts, batch_size)]
