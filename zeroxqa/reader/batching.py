"""Batches with dynamic padding: pad to the longest window in the batch, never to a fixed length.
Grouping windows of similar length keeps that padding small."""

from __future__ import annotations

import random

import numpy as np

from zeroxqa.reader.features import Features


def length_grouped_batches(lengths: list[int], batch_size: int, *, seed: int | None = None, group: int = 32) -> list[list[int]]:
    """Index batches of windows of similar length. With a seed, the order is shuffled (training): chunks
    of `group` batches are sorted by length inside and the batches shuffled. Without one, sorted (inference)."""
    order = list(range(len(lengths)))
    if seed is None:
        order.sort(key=lambda i: lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(order)
    chunk = batch_size * group
    batches = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(features: Features, indices: list[int], pad_id: int = 0, with_labels: bool = False) -> dict[str, np.ndarray]:
    """int64 arrays of the windows `indices`, padded to the longest of them (torch and ONNX take these)."""
    width = max(len(features.input_ids[i]) for i in indices)

    def pad(rows: list[list[int]], value: int) -> np.ndarray:
        return np.array([r + [value] * (width - len(r)) for r in rows], dtype=np.int64)

    batch = {
        "input_ids": pad([features.input_ids[i] for i in indices], pad_id),
        "attention_mask": pad([features.attention_mask[i] for i in indices], 0),
    }
    if features.token_type_ids is not None:
        batch["token_type_ids"] = pad([features.token_type_ids[i] for i in indices], 0)
    if with_labels:
        batch["start_positions"] = np.array([features.start_positions[i] for i in indices], dtype=np.int64)
        batch["end_positions"] = np.array([features.end_positions[i] for i in indices], dtype=np.int64)
    return batch
