"""Question/context pairs -> model windows, the way the Hugging Face question-answering examples do it.

Question first, context second, only the context truncated; a long context becomes several windows that
overlap by `doc_stride` tokens. Each window keeps its example index and, for context tokens only, the
character offsets that decoding maps spans back through. The same function serves training (with
labels), evaluation and inference.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from zeroxqa.config import ReaderConfig


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
