"""Self-supervised domain adaptation (`adapt-lm`): whole-word masking and an LM loss that goes down."""

from __future__ import annotations

import torch

from zeroxqa.adapt.lm import adapt_lm, padded, paragraph_windows, whole_word_collator
from zeroxqa.config import AdaptLMConfig

PARAGRAPHS = [
    "The thermocouple calibration of the cryostat uncharacteristically drifted overnight.",
    "Spectrophotometric measurements of chlorophyll fluorescence were unremarkable.",
    "Interferometric telescopes resolve circumstellar disks around protostars.",
]


def test_masking_spares_special_tokens_and_masks_whole_words(tokenizer):
    windows = padded(paragraph_windows(tokenizer, PARAGRAPHS * 4, max_length=32), tokenizer.pad_token_id)
    assert len(windows) == 3  # each distinct paragraph once
    collate = whole_word_collator(tokenizer, AdaptLMConfig(mlm_probability=0.5, seed=3))
    special = set(tokenizer.all_special_ids)
    masked_words = 0
    for _ in range(20):
        batch = collate([dict(w) for w in windows])
        for w, labels in zip(windows, batch["labels"].tolist()):
            ids, offsets = w["input_ids"], w["offset_mapping"]
            picked = [i for i, l in enumerate(labels) if l != -100]
            assert all(ids[i] not in special for i in picked)  # [CLS], [SEP], [PAD] never masked
            assert all(labels[i] == ids[i] for i in picked)  # the label is the original token
            # a word = a run of tokens whose character spans touch: all of it masked or none of it
            word, words = [0], []
            for i in range(1, len(ids)):
                if ids[i] in special or ids[i - 1] in special or offsets[i][0] != offsets[i - 1][1]:
                    words.append(word)
                    word = []
                word.append(i)
            words.append(word)
            for word in words:
                state = {labels[i] != -100 for i in word}
                assert len(state) == 1, [tokenizer.convert_ids_to_tokens([ids[i] for i in word]), state]
                if len(word) > 1 and state == {True}:
                    masked_words += 1
    assert masked_words > 0  # multi-piece words were masked (together) at least once


def test_adapt_lm_lowers_the_loss_and_keeps_the_qa_head(tiny_reader):
    qa_head = {k: v.clone() for k, v in tiny_reader.model.qa_outputs.state_dict().items()}
    layer = tiny_reader.model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    cfg = AdaptLMConfig(steps=60, batch_size=3, learning_rate=3e-3, warmup_ratio=0.0, max_length=32, device="cpu",
                        precision="fp32", freeze_embeddings=False, seed=0)
    result = adapt_lm(tiny_reader, PARAGRAPHS, cfg)
    first, last = sum(result.losses[:10]) / 10, sum(result.losses[-10:]) / 10
    assert last < 0.7 * first, (first, last)
    model = tiny_reader.model
    assert not torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, layer)  # the encoder moved, in place
    assert all(torch.equal(model.qa_outputs.state_dict()[k], v) for k, v in qa_head.items())  # QA head untouched
    assert tiny_reader.card["adapt_lm"]["steps"] == 60 and tiny_reader.card["adapt_lm"]["loss_end"] < first


def test_adapt_lm_keeps_frozen_word_embeddings(tiny_reader):
    embeddings = tiny_reader.model.get_input_embeddings().weight.detach().clone()
    adapt_lm(tiny_reader, PARAGRAPHS, AdaptLMConfig(steps=3, batch_size=2, max_length=32, device="cpu", precision="fp32"))
    assert torch.equal(tiny_reader.model.get_input_embeddings().weight, embeddings)
