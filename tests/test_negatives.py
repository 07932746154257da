"""Unanswerable training examples made from answerable ones: what each kind keeps, deletes and refuses."""

from __future__ import annotations

from zeroxqa.reader.negatives import answer_removed_negatives, same_article_negatives

PARAGRAPH = ("The tower was finished in 1889. It was designed by Gustave Eiffel's company. "
             "Its height is 330 metres. Millions visit it every year.")


def _row(rid: str, question: str, answer: str, context: str = PARAGRAPH, domain: str = "Eiffel_Tower") -> dict:
    return {"id": rid, "domain": domain, "context_id": "c", "context": context, "question": question,
            "answers": [{"text": answer, "start": context.index(answer)}], "is_impossible": False}


def test_answer_removed_negative_deletes_only_the_sentence_holding_the_answer():
    rows = [_row("q1", "Who designed the tower?", "Gustave Eiffel's company")]
    [neg] = answer_removed_negatives(rows, ratio=1.0)
    assert neg["context"] == "The tower was finished in 1889. Its height is 330 metres. Millions visit it every year."
    assert neg["is_impossible"] and neg["answers"] == [] and neg["id"] == "q1#removed"
    assert neg["question"] == rows[0]["question"] and neg["context_id"] != rows[0]["context_id"]
    assert rows[0]["answers"] and not rows[0]["is_impossible"]  # the answerable row is left as it was


def test_answer_removed_negative_is_refused_when_the_answer_is_stated_twice_or_nothing_would_be_left():
    twice = "Paris has the tower. The tower is in Paris."
    alone = "The tower is 330 metres tall."
    rows = [_row("q1", "Where is the tower?", "Paris", context=twice),
            _row("q2", "How tall is the tower?", "330 metres", context=alone)]
    assert answer_removed_negatives(rows, ratio=1.0) == []


def test_answer_removed_negatives_follow_the_ratio_and_the_seed():
    questions = [("When was it finished?", "1889"), ("Who designed it?", "Gustave Eiffel"),
                 ("How tall is it?", "330 metres"), ("How many visit it?", "Millions")]
    rows = [_row(f"q{i}", q, a) for i, (q, a) in enumerate(questions)]
    rows.append({**_row("u", "Who painted it?", "1889"), "answers": [], "is_impossible": True})
    half = answer_removed_negatives(rows, ratio=0.5, seed=3)
    assert len(half) == 2 and all(n["id"].endswith("#removed") and n["id"] != "u#removed" for n in half)
    assert half == answer_removed_negatives(rows, ratio=0.5, seed=3)
    assert answer_removed_negatives(rows, ratio=0.0) == []
    for neg in half:
        gold = next(r for r in rows if f"{r['id']}#removed" == neg["id"])["answers"][0]["text"]
        assert gold not in neg["context"]


def test_same_article_negative_is_another_paragraph_without_the_answer():
    other = "The park around it opened later. Gardens surround the park."
    rows = [_row("q1", "When was the tower finished?", "1889"),
            {**_row("q2", "What surrounds the park?", "Gardens", context=other)}]
    negs = same_article_negatives(rows, ratio=1.0, seed=1)
    assert {n["id"] for n in negs} == {"q1#neg", "q2#neg"}
    by_id = {n["id"]: n for n in negs}
    assert by_id["q1#neg"]["context"] == other and by_id["q2#neg"]["context"] == PARAGRAPH
    assert all(n["is_impossible"] and n["answers"] == [] for n in negs)


def test_training_reads_the_answer_removed_negatives_and_its_card_counts_them(tiny_reader, tmp_path):
    import json

    from helpers import SMALL
    from zeroxqa.config import TrainConfig
    from zeroxqa.reader.train import train_reader

    rows = [_row("q1", "Who designed the tower?", "Gustave Eiffel's company"), _row("q2", "How tall is it?", "330 metres")]
    cfg = TrainConfig(epochs=1, batch_size=2, seed=3, answer_removed_ratio=1.0)
    train_reader(tiny_reader, rows, [], tmp_path / "m", SMALL, cfg)
    card = json.loads((tmp_path / "m" / "zeroxqa_card.json").read_text())
    assert card["train_answer_removed"] == 2 and card["train_negatives"] == 0
    assert card["train_config"]["answer_removed_ratio"] == 1.0
