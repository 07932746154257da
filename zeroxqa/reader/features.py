"""Question/context pairs -> model windows, the way the Hugging Face question-answering examples do it.

Question first, context second, only the context truncated; a long context becomes several windows that
overlap by `doc_stride` tokens. Each window keeps its example index and, for context tokens only, the
character offsets that decoding maps spans back through. The same function serves training (with
labels), evaluation and inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zeroxqa.config import ReaderConfig

if TYPE_CHECKING:  # the lean ONNX engine reads Features without importing transformers
    from transformers import PreTrainedTokenizerBase


@dataclass
class Features:
    """Windows of a list of examples, as plain lists (padding happens per batch, in `collate`)."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    token_type_ids: list[list[int]] | None
    example_index: list[int]
    offsets: list[list[tuple[int, int] | None]]  # None for question and special tokens
    start_positions: list[int] | None = None
    end_positions: list[int] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


def answer_token_span(offsets: list[tuple[int, int] | None], start_char: int, end_char: int) -> tuple[int, int] | None:
    """Token indices of the first and last context token covering [start_char, end_char), or None when the
    window does not contain the whole answer."""
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return None
    start = next(i for i in ctx if offsets[i][1] > start_char)
    end = next(i for i in reversed(ctx) if offsets[i][0] < end_char)
    return start, end


def cut_questions(tokenizer: PreTrainedTokenizerBase, questions: list[str], max_tokens: int) -> list[str]:
    """Strip and cut over-long questions to `max_tokens` tokens so every window keeps room for context."""
    questions = [q.strip() for q in questions]
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [q if len(o) <= max_tokens else q[: o[max_tokens - 1][1]] for q, o in zip(questions, enc["offset_mapping"])]


def prepare_features(
    tokenizer: PreTrainedTokenizerBase,
    questions: list[str],
    contexts: list[str],
    cfg: ReaderConfig,
    answers: list[list[dict]] | None = None,
) -> Features:
    """Tokenize into windows; with `answers` (each a list of {text, start}, empty = unanswerable), add labels.

    A window that does not contain the answer, like an unanswerable question, points at the CLS token (0).
    """
    pad_right = tokenizer.padding_side == "right"
    questions = cut_questions(tokenizer, questions, cfg.max_question_length)
    enc = tokenizer(
        questions if pad_right else contexts,
        contexts if pad_right else questions,
        truncation="only_second" if pad_right else "only_first",
        max_length=cfg.max_length,
        stride=cfg.doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    context_seq = 1 if pad_right else 0
    offsets: list[list[tuple[int, int] | None]] = []
    for i, window in enumerate(enc["offset_mapping"]):
        seq_ids = enc.sequence_ids(i)
        offsets.append([tuple(o) if seq_ids[k] == context_seq else None for k, o in enumerate(window)])
    example_index = list(enc["overflow_to_sample_mapping"])
    features = Features(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        token_type_ids=enc.get("token_type_ids"),
        example_index=example_index,
        offsets=offsets,
    )
    if answers is not None:
        features.start_positions, features.end_positions = [], []
        for window_offsets, ex in zip(offsets, example_index):
            span = None
            if answers[ex]:
                first = answers[ex][0]
                span = answer_token_span(window_offsets, first["start"], first["start"] + len(first["text"]))
            start, end = span or (0, 0)
            features.start_positions.append(start)
            features.end_positions.append(end)
    return features


@dataclass
class PackedWindows:
    """Training windows held compactly: every token id in one int32 array, rows by offset. A 50k-question
    training set is tens of MB here, not the GBs of per-token Python lists that `Features` would take;
    character offsets are not kept (training needs only the labels)."""

    ids: np.ndarray  # int32, all windows concatenated
    type_ids: np.ndarray | None  # int8, aligned with `ids`
    row_starts: np.ndarray  # int64, len = windows + 1
    start_positions: np.ndarray  # int64 per window
    end_positions: np.ndarray
    example_index: np.ndarray  # int64 per window

    def __len__(self) -> int:
        return len(self.row_starts) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_starts)

    def batch(self, indices: list[int] | np.ndarray, pad_id: int = 0) -> dict[str, np.ndarray]:
        """int64 arrays of the windows `indices` padded to the longest of them, with their labels."""
        indices = np.asarray(indices)
        lengths = self.lengths[indices]
        width = int(lengths.max())
        input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(indices), width), dtype=np.int64)
        types = np.zeros((len(indices), width), dtype=np.int64) if self.type_ids is not None else None
        for row, (i, n) in enumerate(zip(indices, lengths)):
            a = self.row_starts[i]
            input_ids[row, :n] = self.ids[a : a + n]
            mask[row, :n] = 1
            if types is not None:
                types[row, :n] = self.type_ids[a : a + n]
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if types is not None:
            batch["token_type_ids"] = types
        batch["start_positions"] = self.start_positions[indices]
        batch["end_positions"] = self.end_positions[indices]
        return batch


def pack_train_windows(
    tokenizer: PreTrainedTokenizerBase,
    questions: list[str],
    contexts: list[str],
    answers: list[list[dict]],
    cfg: ReaderConfig,
    chunk: int = 2000,
    progress: bool = False,
) -> PackedWindows:
    """Labelled windows of many examples, tokenized `chunk` examples at a time so that the per-token Python
    objects of one chunk are all that is ever alive."""
    from tqdm.auto import tqdm

    ids, types, lengths, starts, ends, example = [], [], [], [], [], []
    for a in tqdm(range(0, len(questions), chunk), desc="tokenize", disable=not progress, leave=False):
        f = prepare_features(tokenizer, questions[a : a + chunk], contexts[a : a + chunk], cfg, answers[a : a + chunk])
        for w in range(len(f)):
            ids.append(np.asarray(f.input_ids[w], dtype=np.int32))
            if f.token_type_ids is not None:
                types.append(np.asarray(f.token_type_ids[w], dtype=np.int8))
            lengths.append(len(f.input_ids[w]))
        starts += f.start_positions
        ends += f.end_positions
        example += [a + e for e in f.example_index]
    return PackedWindows(
        ids=np.concatenate(ids) if ids else np.zeros(0, np.int32),
        type_ids=np.concatenate(types) if types else None,
        row_starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        start_positions=np.asarray(starts, dtype=np.int64),
        end_positions=np.asarray(ends, dtype=np.int64),
        example_index=np.asarray(example, dtype=np.int64),
    )
