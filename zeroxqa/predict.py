"""Running a torch reader over examples: windows -> logits -> span predictions."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from zeroxqa.batching import collate, length_grouped_batches
from zeroxqa.config import ReaderConfig
from zeroxqa.decode import SpanPrediction, best_spans
from zeroxqa.features import Features, prepare_features
from zeroxqa.model import Reader


@torch.inference_mode()
def window_logits(reader: Reader, features: Features, batch_size: int = 64, progress: bool = False) -> tuple[list, list]:
    """Start and end logits of every window (unpadded), computed in length-sorted batches."""
    model = reader.model.eval()
    starts: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
    ends: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
    batches = length_grouped_batches([len(x) for x in features.input_ids], batch_size)
    for idx in tqdm(batches, desc="predict", disable=not progress, leave=False):
        batch = collate(features, idx, reader.tokenizer.pad_token_id or 0)
        out = model(**batch)
        s, e = out.start_logits.float().numpy(), out.end_logits.float().numpy()
        for row, i in enumerate(idx):
            n = len(features.input_ids[i])
            starts[i], ends[i] = s[row, :n], e[row, :n]
    return starts, ends


def predict_spans(
    reader: Reader, questions: list[str], contexts: list[str], cfg: ReaderConfig, batch_size: int = 64, progress: bool = False
) -> list[SpanPrediction]:
    features = prepare_features(reader.tokenizer, questions, contexts, cfg)
    starts, ends = window_logits(reader, features, batch_size, progress)
    return best_spans(features, starts, ends, contexts, cfg)
