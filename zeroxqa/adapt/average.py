"""Weight averaging of two readers of one architecture (a two-model "soup", WiSE-FT's interpolation).

A reader fine-tuned further on one kind of text gains there and loses a little elsewhere; the average of its
weights with those of the reader it started from often keeps most of the gain and gives back most of the
loss, at no cost at inference. The reference reader's third stage is shipped this way (README).
"""

from __future__ import annotations

import torch

from zeroxqa.reader.model import Reader


def average_readers(first: Reader, second: Reader, weight: float) -> Reader:
    """`second`, its weights set in place to `(1 - weight) * first + weight * second` (its tokenizer and card
    kept). Tensors equal in both are copied bit for bit (frozen embeddings stay the base's, so the result
    still ships compactly); integer buffers are `second`'s."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight {weight} is not between 0 and 1")
    a, b = first.model.state_dict(), second.model.state_dict()
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in b):
        raise ValueError("the two readers differ in architecture (their tensors' names or shapes)")
    merged = {}
    for name, t in b.items():
        same = torch.equal(a[name].to(t.dtype), t)
        merged[name] = t if same or not t.is_floating_point() else (1.0 - weight) * a[name].to(t.dtype) + weight * t
    second.model.load_state_dict(merged)
    return second
