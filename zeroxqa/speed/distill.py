"""Distilling a reader into a smaller student (TinyBERT / DistilBERT style, on the output distributions).

The student is the teacher with fewer transformer layers: its embeddings, QA head and a spread-out subset
of the teacher's layers are copied, so it starts close to the teacher instead of from scratch. It is then
trained with the usual loop (`train_reader`) on a blend of two losses per window: the KL divergence
between the teacher's and the student's start and end distributions at a temperature T (scaled by T², so
its gradients keep their size), and the cross-entropy with the gold start and end. The teacher's
distributions also carry its "no answer" belief (the [CLS] position), which the student learns too.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from zeroxqa.config import DistillConfig
from zeroxqa.reader.model import Reader


def spread_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Which teacher layers the student's layers start from: spread evenly, the last one always kept
    (it feeds the QA head). 6 -> 3: [1, 3, 5]; 6 -> 2: [2, 5]."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"a student needs 1 to {teacher_layers} layers, not {student_layers}")
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def student_from_teacher(teacher: Reader, layers: list[int]) -> Reader:
    """A reader with the teacher's tokenizer, embeddings and QA head and the given teacher layers, in order."""
    model = teacher.model
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(layers)
    student = type(model)(config)
    state = model.state_dict()
    prefix = f"{model.base_model_prefix}.encoder.layer."
    mapped = {}
    for name, tensor in state.items():
        if name.startswith(prefix):
            index, rest = name[len(prefix):].split(".", 1)
            if int(index) in layers:
                mapped[f"{prefix}{layers.index(int(index))}.{rest}"] = tensor.clone()
        else:
            mapped[name] = tensor.clone()
    missing, unexpected = student.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise ValueError(f"student does not fit the teacher (missing {missing[:3]}, unexpected {unexpected[:3]})")
    card = {"base_model": teacher.card.get("base_model"), "null_threshold": teacher.null_threshold}
    return Reader(student, teacher.tokenizer, card)


def soft_cross_entropy(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of the distributions over the window's real tokens, at a temperature, × T²."""
    hidden = torch.finfo(student.dtype).min
    s = (student.float() / temperature).masked_fill(~mask, hidden)
    t = (teacher.float() / temperature).masked_fill(~mask, hidden)
    kl = F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean")
    return kl * temperature**2


class DistillationLoss:
    """loss(student, batch) for `train_reader`: the teacher's soft targets blended with the gold labels."""

    def __init__(self, teacher: torch.nn.Module, cfg: DistillConfig):
        self.teacher, self.cfg = teacher.eval(), cfg
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def __call__(self, student: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k not in ("start_positions", "end_positions")}
        if next(self.teacher.parameters()).device != inputs["input_ids"].device:
            self.teacher.to(inputs["input_ids"].device)
        with torch.no_grad():
            taught = self.teacher(**inputs)
        out = student(**batch)
        mask = batch["attention_mask"].bool()
        soft = (soft_cross_entropy(out.start_logits, taught.start_logits, mask, self.cfg.temperature)
                + soft_cross_entropy(out.end_logits, taught.end_logits, mask, self.cfg.temperature)) / 2
        return self.cfg.alpha * soft + (1 - self.cfg.alpha) * out.loss
