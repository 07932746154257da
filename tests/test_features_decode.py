"""Windows, labels and span decoding: labels decode back to the gold text, stride finds late answers,
padding is dynamic."""

from __future__ import annotations

import numpy as np
import pytest

from zeroxqa.reader.batching import collate, length_grouped_batches
from zeroxqa.config import ReaderConfig
from zeroxqa.reader.decode import best_spans
from zeroxqa.reader.features import prepare_features


def test_every_label_decodes_to_its_gold_text(tokenizer, sample_rows):
    rows = [r for r in sample_rows if not r["is_impossible"]]
    cfg = ReaderConfig(max_length=128, doc_stride=32)
    feats = prepare_features(tokenizer, [r["question"] for r in rows], [r["context"] for r in rows], cfg,
                             answers=[r["answers"] for r in rows])
    found = set()
    for w, ex in enumerate(feats.example_index):
        s, e = feats.start_positions[w], feats.end_positions[w]
        if s == 0:
            assert e == 0
            continue
        gold = rows[ex]["answers"][0]
        text = rows[ex]["context"][feats.offsets[w][s][0] : feats.offsets[w][e][1]]
        assert text.strip().lower() == gold["text"].strip().lower() or gold["text"] in text, (text, gold)
        found.add(ex)
    assert found == set(range(len(rows))), "some answerable example has no window that contains its answer"
    exact = sum(
        rows[feats.example_index[w]]["context"][feats.offsets[w][feats.start_positions[w]][0] : feats.offsets[w][feats.end_positions[w]][1]]
        == rows[feats.example_index[w]]["answers"][0]["text"]
        for w in range(len(feats)) if feats.start_positions[w]
    )
    assert exact / sum(1 for s in feats.start_positions if s) > 0.97


def test_unanswerable_points_at_cls(tokenizer):
    feats = prepare_features(tokenizer, ["Who?"], ["Nobody is named here."], ReaderConfig(), answers=[[]])
    assert feats.start_positions == [0] and feats.end_positions == [0]


def long_example() -> tuple[str, str, dict]:
    filler = " ".join(f"Sentence number {i} talks about nothing in particular." for i in range(60))
    context = filler + " The treasure is buried under the old oak tree."
    answer = {"text": "the old oak tree", "start": context.index("the old oak tree")}
    return "Where is the treasure buried?", context, answer


def test_stride_finds_answer_in_a_later_window(tokenizer):
    question, context, answer = long_example()
    cfg = ReaderConfig(max_length=64, doc_stride=16, max_question_length=16)
    feats = prepare_features(tokenizer, [question], [context], cfg, answers=[[answer]])
    assert len(feats) > 5 and all(ex == 0 for ex in feats.example_index)
    labelled = [w for w in range(len(feats)) if feats.start_positions[w] > 0]
    assert labelled and min(labelled) > 0, "the answer should only be in later windows"
    # logits that point at the labelled span in the last such window decode back to the answer
    w = labelled[-1]
    starts = [np.full(len(ids), -5.0) for ids in feats.input_ids]
    ends = [np.full(len(ids), -5.0) for ids in feats.input_ids]
    starts[w][feats.start_positions[w]] = 5.0
    ends[w][feats.end_positions[w]] = 5.0
    (pred,) = best_spans(feats, starts, ends, [context], cfg)
    assert pred.text == answer["text"] and pred.start == answer["start"]
    assert pred.na_score < 0 and pred.answer(0.0) == answer["text"]


def test_no_answer_when_null_wins(tokenizer):
    cfg = ReaderConfig()
    feats = prepare_features(tokenizer, ["Who?"], ["Alice met Bob."], cfg)
    starts = [np.zeros(len(feats.input_ids[0]))]
    ends = [np.zeros(len(feats.input_ids[0]))]
    starts[0][0] = ends[0][0] = 3.0  # CLS
    (pred,) = best_spans(feats, starts, ends, ["Alice met Bob."], cfg)
    assert pred.na_score > 0 and pred.answer(0.0) == "" and pred.answer(100.0) == pred.text != ""


def test_span_respects_max_answer_length_and_context(tokenizer):
    cfg = ReaderConfig(max_answer_length=2)
    context = "one two three four five"
    feats = prepare_features(tokenizer, ["Which?"], [context], cfg)
    n = len(feats.input_ids[0])
    starts, ends = np.zeros(n), np.zeros(n)
    q_tok = 1  # a question token: never a valid start
    starts[q_tok] = 100.0
    ctx = [i for i, o in enumerate(feats.offsets[0]) if o is not None]
    starts[ctx[0]], ends[ctx[-1]] = 10.0, 10.0  # too long a span
    ends[ctx[1]] = 9.0
    (pred,) = best_spans(feats, [starts], [ends], [context], cfg)
    assert pred.text == "one two"


def test_dynamic_padding(tokenizer):
    feats = prepare_features(tokenizer, ["Q?", "A longer question here?"], ["short.", "a somewhat longer context here."], ReaderConfig())
    batch = collate(feats, [0, 1])
    assert batch["input_ids"].shape[1] == max(len(x) for x in feats.input_ids) < 256
    assert batch["attention_mask"].sum().item() == sum(len(x) for x in feats.input_ids)


def test_length_grouped_batches_cover_everything_once():
    lengths = [5, 50, 7, 48, 6, 49, 30]
    for seed in (None, 1):
        batches = length_grouped_batches(lengths, 2, seed=seed)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert length_grouped_batches(lengths, 2, seed=1) == length_grouped_batches(lengths, 2, seed=1)


def test_long_questions_are_cut_not_crashing(tokenizer):
    cfg = ReaderConfig(max_length=64, doc_stride=16, max_question_length=16)
    long_q = " ".join(["why"] * 100) + "?"
    feats = prepare_features(tokenizer, [long_q], ["Short context about nothing much at all."], cfg)
    assert all(len(ids) <= 64 for ids in feats.input_ids)
    assert sum(o is not None for o in feats.offsets[0]) > 0


def test_config_rejects_a_stride_that_leaves_no_room():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must not exceed max_length"):
        ReaderConfig(max_length=64, doc_stride=32, max_question_length=32)


def _nbest_reference(features, start_logits, end_logits, contexts, cfg):
    """The loop over n-best start x end pairs that decoding used before it was vectorized."""
    import numpy as np

    from zeroxqa.reader.decode import SpanPrediction

    best = [SpanPrediction("", -1, -np.inf, np.inf) for _ in contexts]
    for w, ex in enumerate(features.example_index):
        starts, ends, offsets = start_logits[w], end_logits[w], features.offsets[w]
        pred = best[ex]
        pred.null_score = min(pred.null_score, float(starts[0] + ends[0]))
        for s in np.argsort(starts)[::-1][: cfg.n_best]:
            for e in np.argsort(ends)[::-1][: cfg.n_best]:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > cfg.max_answer_length:
                    continue
                if float(starts[s] + ends[e]) > pred.score:
                    pred.text, pred.start, pred.score = contexts[ex][offsets[s][0]:offsets[e][1]], offsets[s][0], float(starts[s] + ends[e])
    for pred in best:
        if pred.start < 0:
            pred.score = -1e9
    return best


def test_vectorized_decoding_equals_the_exhaustive_pair_loop(tokenizer):
    """With n_best covering every token the old loop is exhaustive: the vectorized band arg-max must give
    the same span, start and scores on random logits, across windows of several examples."""
    import numpy as np

    from zeroxqa.config import ReaderConfig
    from zeroxqa.reader.decode import best_spans
    from zeroxqa.reader.features import prepare_features

    cfg = ReaderConfig(max_length=48, doc_stride=12, max_question_length=16, max_answer_length=5, n_best=48)
    contexts = ["The quick brown fox jumps over the lazy dog near the river bank in the old town. " * 3,
                "Alice was born in Paris in 1990 and moved to Lyon later.", "Short one."]
    questions = ["What jumps?", "Where was Alice born?", "Anything?"]
    features = prepare_features(tokenizer, questions, contexts, cfg)
    rng = np.random.default_rng(0)
    for _ in range(20):
        starts = [rng.normal(size=len(ids)).astype(np.float32) for ids in features.input_ids]
        ends = [rng.normal(size=len(ids)).astype(np.float32) for ids in features.input_ids]
        new = best_spans(features, starts, ends, contexts, cfg)
        old = _nbest_reference(features, starts, ends, contexts, cfg)
        for a, b in zip(new, old):
            assert (a.text, a.start) == (b.text, b.start)
            assert a.score == pytest.approx(b.score) and a.null_score == pytest.approx(b.null_score)
