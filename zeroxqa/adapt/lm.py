"""Self-supervised domain adaptation: before a reader is fine-tuned on a target domain, its encoder goes on
as a masked language model over that domain's own paragraphs (whole-word masking), so that the domain's
vocabulary and style are familiar when the few labels arrive. Needs text only, no questions.

The encoder is shared, not copied: a masked-LM head is put on the reader's own encoder, trained, and taken
off, so the reader keeps its QA head and comes out adapted in place. The word embeddings stay frozen by
default (the LM decoder is tied to them): the vocabulary space the QA head was trained in does not move.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

from zeroxqa.config import AdaptLMConfig
from zeroxqa.reader.model import Reader
from zeroxqa.progress import bar as progress_bar


@dataclass
class LMAdaptResult:
    steps: int
    windows: int
    seconds: float
    losses: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        """What the reader's card keeps: size of the run and the loss at its start and end."""
        head, tail = self.losses[: max(1, len(self.losses) // 10)], self.losses[-max(1, len(self.losses) // 10):]
        return {"steps": self.steps, "windows": self.windows, "seconds": round(self.seconds, 1),
                "loss_start": sum(head) / len(head) if head else None, "loss_end": sum(tail) / len(tail) if tail else None}


def paragraph_windows(tokenizer, paragraphs: list[str], max_length: int) -> list[dict]:
    """Each distinct paragraph cut into windows of at most `max_length` tokens, with the character offsets
    (whole-word masking groups sub-words by them) and the special-token mask (never masked)."""
    out: list[dict] = []
    distinct = list(dict.fromkeys(p for p in paragraphs if p and p.strip()))
    for start in range(0, len(distinct), 256):
        enc = tokenizer(distinct[start : start + 256], truncation=True, max_length=max_length,
                        return_overflowing_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True)
        for i in range(len(enc["input_ids"])):
            out.append({k: enc[k][i] for k in ("input_ids", "attention_mask", "offset_mapping", "special_tokens_mask")})
    return out


def masked_lm_on(reader: Reader) -> torch.nn.Module:
    """A masked-LM model whose encoder *is* the reader's encoder (same module), with a fresh LM head tied to
    the word embeddings."""
    mlm = AutoModelForMaskedLM.from_config(reader.model.config)
    prefix = reader.model.base_model_prefix
    setattr(mlm, prefix, getattr(reader.model, prefix))
    mlm.tie_weights()
    return mlm


def whole_word_collator(tokenizer, cfg: AdaptLMConfig) -> DataCollatorForLanguageModeling:
    """Transformers' collator in whole-word mode (words from the offsets); it replaces every chosen token by
    [MASK] (its whole-word mode has no 80/10/10 split, and says so with a broken warning unless asked so).
    It draws from torch's global generator, seeded by the run (its own `seed` refuses to work in a child
    process, where the pipeline runs this stage)."""
    return DataCollatorForLanguageModeling(tokenizer, mlm=True, whole_word_mask=True, mlm_probability=cfg.mlm_probability,
                                           mask_replace_prob=1.0, random_replace_prob=0.0)


def padded(windows: list[dict], pad_id: int) -> list[dict]:
    """Windows padded to the longest one (the collator's own padding cannot pad the offsets); padding
    counts as special, so it is never masked."""
    n = max(len(w["input_ids"]) for w in windows)
    fill = {"input_ids": pad_id, "attention_mask": 0, "offset_mapping": (0, 0), "special_tokens_mask": 1}
    return [{k: list(w[k]) + [fill[k]] * (n - len(w[k])) for k in fill} for w in windows]


def adapt_lm(reader: Reader, paragraphs: list[str], cfg: AdaptLMConfig | None = None, progress: bool = False) -> LMAdaptResult:
    """Continue `reader`'s encoder as a whole-word masked LM on `paragraphs` for `cfg.steps` steps, in place."""
    from zeroxqa.reader.train import resolve_device, seed_everything, use_bf16

    cfg = cfg or AdaptLMConfig()
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    windows = paragraph_windows(reader.tokenizer, paragraphs, cfg.max_length)
    if not windows:
        raise ValueError("no paragraph text to adapt on")
    device = resolve_device(cfg.device)
    mlm = masked_lm_on(reader).to(device)
    if cfg.freeze_embeddings:
        mlm.get_input_embeddings().weight.requires_grad_(False)
    collate = whole_word_collator(reader.tokenizer, cfg)
    params = [p for p in mlm.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * cfg.steps), cfg.steps)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(cfg.precision, device))
    order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    result, started = LMAdaptResult(cfg.steps, len(windows), 0.0), time.perf_counter()
    mlm.train()
    for step in progress_bar(range(cfg.steps), desc="adapt-lm", unit="step", show=progress, dynamic_ncols=True):
        idx = [order[(step * cfg.batch_size + i) % len(order)] for i in range(cfg.batch_size)]
        batch = collate(padded([windows[i] for i in idx], reader.tokenizer.pad_token_id or 0))
        if not bool((batch["labels"] != -100).any()):  # nothing masked (tiny inputs): nothing to learn from it
            continue
        with autocast:
            loss = mlm(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(loss.item())
    mlm.to("cpu")
    reader.model.to("cpu")
    result.seconds = time.perf_counter() - started
    reader.card = {**reader.card, "adapt_lm": {**result.summary(), "config": cfg.model_dump()}}
    return result
