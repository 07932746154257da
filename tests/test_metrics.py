"""The official SQuAD semantics, checked on hand-computed cases."""

from __future__ import annotations

import pytest

from zeroxqa.reader.metrics import best_f1_threshold, exact, f1, gold_texts, normalize_answer, score, squad_metrics


def test_normalize_answer():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("an Apple a day") == "apple day"


def test_exact_and_f1_hand_cases():
    assert exact("The Cat", "cat") == 1
    assert f1("the cat sat", "cat sat on the mat") == pytest.approx(2 * 0.5 * 1.0 / 1.5)  # p=2/4, r=2/2
    assert f1("Denver Broncos", "Carolina Panthers") == 0.0
    assert f1("", "") == 1.0 and f1("", "something") == 0.0 and f1("something", "") == 0.0
    assert exact("", "") == 1 and exact("", "x") == 0


def test_max_over_golds_and_no_answer_golds():
    assert score(["Denver Broncos", "Broncos"], "the broncos") == (1, 1.0)
    assert gold_texts([]) == [""]
    assert gold_texts([{"text": "the", "start": 0}]) == [""]  # normalises to nothing: counts as no answer


def test_squad_metrics_breakdown():
    golds = [["Paris"], ["blue whale", "whale"], [""], [""]]
    preds = ["paris", "a whale", "", "London"]
    m = squad_metrics(golds, preds)
    assert m["n"] == 4 and m["HasAns_n"] == 2 and m["NoAns_n"] == 2
    assert m["HasAns_exact"] == 100.0 and m["HasAns_f1"] == 100.0
    assert m["NoAns_exact"] == 50.0
    assert m["exact"] == 75.0 and m["f1"] == 75.0


def test_best_f1_threshold():
    golds = [["a b"], ["c"], [""], [""]]
    spans = ["a b", "x", "y", "z"]
    # na_score: the higher, the surer the model is of "no answer"
    na = [-3.0, 0.5, 1.0, -1.0]
    best, thresh = best_f1_threshold(golds, spans, na)
    # answering only the first question (threshold -3) gives 1 + 2 no-answers right = 3/4
    assert best == pytest.approx(75.0) and thresh == -2.0  # halfway between -3 (answered) and -1 (not)
    preds = ["" if s > thresh else p for p, s in zip(spans, na)]
    assert squad_metrics(golds, preds)["f1"] == pytest.approx(best)
    all_null, t = best_f1_threshold([[""], [""]], ["x", "y"], [0.0, 1.0])
    assert all_null == 100.0 and t < 0.0
    all_answered, t = best_f1_threshold([["x"], ["y"]], ["x", "y"], [0.0, 1.0])
    assert all_answered == 100.0 and t > 1.0


def _row(domain: str, answer: str) -> dict:
    return {"domain": domain, "answers": [{"text": answer, "answer_start": 0}] if answer else [], "is_impossible": not answer}


def test_abstention_threshold_comes_from_domains_with_unanswerable_questions():
    from zeroxqa.reader.decode import SpanPrediction
    from zeroxqa.reader.evaluate import Evaluation

    def span(text: str, na: float) -> SpanPrediction:
        return SpanPrediction(text, 0, 0.0, na)  # score 0, so na_score = null_score

    # a SQuAD 2.0-style domain: right spans below na 0, unanswerable questions above it
    v2 = [(_row("v2", "red"), span("red", -2.0)), (_row("v2", ""), span("q", 1.0)),
          (_row("v2", "blue"), span("blue", -1.0)), (_row("v2", ""), span("r", 2.0))]
    # an all-answerable domain whose right answers have high na_scores: pooled, they would pull the
    # threshold above the unanswerable questions and answer all of them
    v1 = [(_row("v1", t), span(t, na)) for t, na in zip("cdefgh", (3.0, 3.5, 4.0, 4.5, 5.0, 5.5))]
    pooled = Evaluation([r for r, _ in v2 + v1], [s for _, s in v2 + v1], threshold=7.0)
    assert pooled.calibrate()[1] > 5.5  # the plain search answers everything
    t = pooled.abstention_threshold()
    assert -1.0 < t < 1.0  # between the last answerable and the first unanswerable of the v2 domain
    # only answerable rows (K labelled shots of a target without unanswerable questions): the threshold may
    # rise so that the reader answers all of them, never fall below the reader's own
    shots = Evaluation([r for r, _ in v1[:2]], [s for _, s in v1[:2]], threshold=7.0)
    assert shots.calibrate()[1] == pytest.approx(4.5) and shots.abstention_threshold() == 7.0
    assert Evaluation(shots.rows, shots.spans, threshold=1.6).abstention_threshold() == pytest.approx(4.5)


def test_a_variant_abstains_on_the_questions_its_reference_abstains_on_whatever_its_score_shift():
    """Quantizing or skimming a reader shifts its null scores; matched to the reference's abstention share,
    the variant's threshold follows the shift instead of a fresh best-F1 search's jagged optimum."""
    from zeroxqa.reader.decode import SpanPrediction
    from zeroxqa.reader.evaluate import Evaluation

    rows = [_row("v2", a) for a in ("a", "", "b", "", "c", "d", "", "e")]
    na = [-3.0, 2.5, -1.0, 0.5, -2.0, 1.5, 3.0, -0.5]
    reference = Evaluation(rows, [SpanPrediction("x", 0, 0.0, s) for s in na], threshold=0.0)
    share = reference.abstained()
    assert share == 4 / 8  # na 2.5, 0.5, 1.5 and 3.0 lie above 0
    shifted = Evaluation(rows, [SpanPrediction("x", 0, 0.0, 4.0 + 1.1 * s) for s in na], threshold=0.0)
    t = shifted.threshold_abstaining_on(share)
    assert shifted.abstained(t) == share
    assert [s.answer(t) for s in shifted.spans] == reference.answers()  # the same questions, not only as many
    assert shifted.abstained(shifted.threshold_abstaining_on(0.0)) == 0.0
    assert shifted.abstained(shifted.threshold_abstaining_on(1.0)) == 1.0
    # a question with no span at all abstains at any threshold: the share is met with the others
    spanless = Evaluation(rows, [SpanPrediction("", -1, 0.0, 0.0)] + shifted.spans[1:], threshold=0.0)
    assert spanless.abstained(spanless.threshold_abstaining_on(share)) == share
    assert spanless.abstained(spanless.threshold_abstaining_on(0.0)) == 1 / 8
    # only the rows a threshold is tuned on count: an all-answerable domain beside a mixed one is left out
    mixed = Evaluation(rows + [_row("v1", "z")], reference.spans + [SpanPrediction("z", 0, 0.0, 9.0)], threshold=0.0)
    assert mixed.abstained() == share
