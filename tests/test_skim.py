"""Context skimming: sentences, the scorer's choice on paragraphs built for it, and answers mapped back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroxqa.config import SkimConfig
from zeroxqa.reader.decode import SpanPrediction
from zeroxqa.speed.skim import Skimmer, sentence_spans, skim

# paragraphs built so that the answer's sentence, and only it, shares the question's rarer words; the
# other sentences share its common ones (the article's subject), as in SQuAD paragraphs
BUILT = [
    ("The Normans were the people who gave their name to Normandy. They descended from Norse raiders. "
     "In the 10th century the Normans swore fealty to the king of West Francia. The Norman dynasty had a major "
     "political, cultural and military impact on medieval Europe.",
     "To which king did the Normans swear fealty?", "the king of West Francia"),
    ("Our store accepts returns within 30 days. Refunds are issued to the original payment method within "
     "5 business days. Gift cards cannot be refunded. Shipping costs are paid by the customer.",
     "How long does it take for refunds to be issued?", "5 business days"),
    ("Warsaw is the capital of Poland. The city has a population of 1.7 million. Warsaw's Old Town was "
     "rebuilt after the Second World War and is a UNESCO World Heritage Site. The Vistula river runs through it.",
     "Which river runs through Warsaw?", "Vistula"),
    ("The Amazon rainforest covers much of the Amazon basin of South America. "
     "\"The forest holds about 390 billion trees,\" one study estimated. "
     "Deforestation in the region increased sharply in the 1970s. The basin spans nine nations.",
     "How many trees does the forest hold?", "390 billion"),
]


def test_sentences_cover_the_text_without_their_white_space():
    text = 'He said "stop." Then he left!  Why? Because (it was late.) The end'
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ['He said "stop."', "Then he left!", "Why?",
                                              "Because (it was late.)", "The end"]
    assert sentence_spans("") == [] and sentence_spans("no boundary here") == [(0, 16)]


@pytest.mark.parametrize("context,question,answer", BUILT)
def test_the_kept_sentence_holds_the_answer(context, question, answer):
    one = skim(question, context, 1)
    assert answer in one.text and len(one.text) < len(context) / 2
    start = one.text.index(answer)
    restored = one.restore(SpanPrediction(answer, start, 1.0, 0.0), context)
    assert restored.text == answer and restored.start == context.index(answer)


def test_kept_sentences_keep_their_order_and_short_paragraphs_are_read_whole():
    context, question, _ = BUILT[0]
    two = skim(question, context, 2)
    firsts = [src for _, src, _ in two.pieces]
    assert firsts == sorted(firsts) and len(two.pieces) == 2
    assert skim(question, context, 4).text == context  # four sentences: nothing to skip
    assert skim("what is it?", context, 1).text == context  # no content word: no ground to drop anything


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh xyz", min_size=1, max_size=30).filter(str.strip), min_size=2, max_size=8),
       st.integers(1, 3), st.data())
def test_any_span_read_maps_back_to_the_same_text(sentences, keep, data):
    context = ". ".join(sentences) + "."
    question = data.draw(st.sampled_from(sentences))
    read = skim(question, context, keep)
    a = data.draw(st.integers(0, len(read.text) - 1))
    b = data.draw(st.integers(a + 1, len(read.text)))
    restored = read.restore(SpanPrediction(read.text[a:b], a, 1.0, 0.0), context)
    assert context[restored.start:restored.start + len(restored.text)] == restored.text
    # within one kept piece the text is the same; across pieces, the original runs from start to end
    if not any(at <= a and b <= at + n for at, _, n in read.pieces):
        assert len(restored.text) >= b - a - 1
    else:
        assert restored.text == read.text[a:b]


def test_a_skimming_engine_reads_less_and_answers_in_the_original_context(tiny_reader):
    from zeroxqa.reader.engine import QAEngine

    from helpers import SMALL

    whole = QAEngine.from_reader(tiny_reader, SMALL)
    skimming = QAEngine.from_reader(tiny_reader, SMALL)
    skimming.skim = SkimConfig(keep_sentences=1)
    questions, contexts = [q for _, q, _ in BUILT], [c for c, _, _ in BUILT]
    for engine in (whole, skimming):
        for pred, context in zip(engine.spans(questions, contexts), contexts):
            assert pred.start >= 0 and context[pred.start:pred.start + len(pred.text)] == pred.text
    read = [skim(q, c, 1).text for q, c in zip(questions, contexts)]
    assert sum(map(len, read)) < sum(map(len, contexts)) / 2


# --- the learned ranker and adaptive skimming ---------------------------------------------------------

def _after_the_match(n: int, seed: int = 0) -> list[dict]:
    """Paragraphs where the answer always sits in the sentence *after* the one repeating the question's words
    (as in "The church conference meets yearly. This committee sets the salaries."): the lexical scorer keeps
    the wrong sentence; a ranker that learns from its neighbours' scores can keep the right one."""
    import random

    rng = random.Random(seed)
    topics = ["harbour", "castle", "festival", "railway", "library", "bridge", "museum", "orchard", "glacier", "canal"]
    fillers = ["The weather was mild that spring.", "Many visitors arrived by bus.", "Local papers covered the story.",
               "The council met on Tuesdays.", "Prices rose slowly over the decade."]
    rows = []
    for i in range(n):
        topic, name = rng.choice(topics), f"Ald{rng.randint(100, 999)}ric"
        lead = rng.sample(fillers, rng.randint(0, 2))
        match = f"The {topic} of the old town was rebuilt after the great fire."
        answer_sentence = f"The work was led by {name}."
        tail = rng.sample([f for f in fillers if f not in lead], rng.randint(1, 2))
        context = " ".join([*lead, match, answer_sentence, *tail])
        rows.append({"id": str(i), "question": f"Who rebuilt the {topic} of the old town after the great fire?",
                     "context": context, "is_impossible": False,
                     "answers": [{"text": name, "start": context.index(name)}]})
    return rows


def test_a_trained_ranker_learns_what_the_lexical_scorer_misses():
    from zeroxqa.speed.skim_eval import answered_paragraphs, fit_ranker, skim_recall

    train, test = answered_paragraphs(_after_the_match(300)), answered_paragraphs(_after_the_match(100, seed=1))
    ranker = fit_ranker(train, epochs=40).to_dict()
    lexical = skim_recall(test, SkimConfig(keep_sentences=1))
    learned = skim_recall(test, SkimConfig(keep_sentences=1, ranker=ranker))
    assert lexical["answer_kept"] == 0.0 and learned["answer_kept"] == 100.0
    assert learned["read"] < 50 and skim_recall(test, SkimConfig(keep_sentences=9))["read"] == 100.0


def test_a_ranker_survives_its_json_and_refuses_other_features(tmp_path):
    import json

    import numpy as np

    from zeroxqa.errors import InputError
    from zeroxqa.speed.sentence_ranker import SentenceRanker, packaged_ranker, resolve_ranker

    ranker = SentenceRanker.from_dict(packaged_ranker())
    path = tmp_path / "r.json"
    path.write_text(json.dumps(ranker.to_dict()))
    sentences = [c for c, _, _ in BUILT][0].split(". ")
    assert np.allclose(SentenceRanker.from_dict(resolve_ranker(path)).scores("Who swore fealty?", sentences),
                       ranker.scores("Who swore fealty?", sentences))
    (tmp_path / "old.json").write_text(json.dumps({**ranker.to_dict(), "features": ["score"]}))
    with pytest.raises(InputError, match="old.json"):
        resolve_ranker(tmp_path / "old.json")
    with pytest.raises(InputError, match="missing.json"):
        resolve_ranker(tmp_path / "missing.json")


def test_adaptive_skimming_keeps_fewer_sentences_when_the_ranker_is_sure():
    from zeroxqa.speed.skim import chosen_sentences

    assert chosen_sentences([9.0, 0.0, 0.0, 0.0], 3, coverage=0.9) == [0]  # sure: one sentence
    assert chosen_sentences([0.0, 1.0, 1.0, 0.9], 3, coverage=0.9) == [1, 2, 3]  # unsure: up to the most allowed
    assert chosen_sentences([0.0, 2.0, 2.0, -5.0], 4, coverage=0.9) == [1, 2]  # in their original order
    assert chosen_sentences([0.0, 2.0, 2.0, -5.0], 4) == [0, 1, 2, 3]  # no coverage: always the most allowed
    with pytest.raises(ValueError, match="ranker"):
        SkimConfig(keep_sentences=3, coverage=0.9)  # coverage is a probability: only a learned ranker gives one


@pytest.mark.parametrize("context,question,answer", BUILT)
def test_the_packaged_ranker_keeps_the_answer_of_the_built_paragraphs(context, question, answer):
    """The shipped ranker never drops the sentence holding the gold answer on the fixtures built for it,
    whether it keeps a fixed number of sentences or adapts."""
    from zeroxqa.speed.sentence_ranker import packaged_ranker

    for cfg in (SkimConfig(keep_sentences=1, ranker=packaged_ranker()),
                SkimConfig(keep_sentences=4, coverage=0.9, ranker=packaged_ranker())):
        read = skim(question, context, cfg.keep_sentences, cfg.coverage, Skimmer.of(cfg).ranker)
        assert answer in read.text and len(read.text) < len(context)
        start = read.text.index(answer)
        assert read.restore(SpanPrediction(answer, start, 1.0, 0.0), context).start == context.index(answer)


def test_skim_train_and_skim_eval_commands(tmp_path):
    import json

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.shard import shard

    from zeroxqa.config import ShardConfig

    rows = _after_the_match(240)
    data = [{"title": f"t{k}", "paragraphs": [
        {"context": r["context"], "qas": [{"id": r["id"], "question": r["question"], "is_impossible": False,
                                           "answers": [{"text": r["answers"][0]["text"],
                                                        "answer_start": r["answers"][0]["start"]}]}]}
        for r in rows[k::4]]} for k in range(4)]
    source = tmp_path / "after.json"
    source.write_text(json.dumps({"version": "v2.0", "data": data}))
    shard([SourceSpec(source)], tmp_path / "shards", ShardConfig(dev_fraction=0.25))
    runner = CliRunner()
    result = runner.invoke(app, ["skim-train", str(tmp_path / "shards"), "--out", str(tmp_path / "ranker.json"),
                                 "--epochs", "40"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "ranker.json").read_text())["card"]
    assert card["answerable_questions"] > 0 and card["dev"][0]["scorer"] == "lexical"
    result = runner.invoke(app, ["skim-eval", str(tmp_path / "shards"), "--ranker", str(tmp_path / "ranker.json"),
                                 "--keep", "1", "--coverage", "0.9", "--out", str(tmp_path / "t.parquet")])
    assert result.exit_code == 0, result.output
    table = {r["scorer"]: r for r in pq.read_table(tmp_path / "t.parquet").to_pylist()}
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert table["lexical"]["answer_kept"] < 50 < table["learned"]["answer_kept"]
    bad = runner.invoke(app, ["skim-eval", str(tmp_path / "shards"), "--ranker", str(tmp_path / "nope.json")])
    assert bad.exit_code == 2 and "nope.json" in bad.output


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))), max_size=4))
def test_words_are_the_words_bm25s_makes(texts):
    """`words` skips bm25s.tokenize's per-call vocabulary and progress bars, not its output: retrieval indexes
    built before and after read the same words."""
    import bm25s

    from zeroxqa.retrieval.terms import _stemmer, words

    common = ["The refunds were issued.", "It's the U.S. Army's 2nd base; they're running!", ""]
    for batch in (texts, common):
        assert words(batch) == bm25s.tokenize(batch, stopwords="en", stemmer=_stemmer(), return_ids=False,
                                              show_progress=False)


def test_skimming_does_not_depend_on_the_hash_seed():
    """Sentence scores sum IDFs over a set of words; summed in set order, two sentences that tie exactly
    could differ in the last bit, and which one is kept changed from process to process."""
    import os
    import subprocess
    import sys

    script = (
        "import random\n"
        "from zeroxqa.speed.skim import skim\n"
        "rng = random.Random(0)\n"
        "vocab = 'alpha beta gamma delta epsilon zeta theta iota kappa lambda sigma omega river castle'.split()\n"
        "for _ in range(300):\n"
        "    sents = [' '.join(rng.sample(vocab, 5)) + '.' for _ in range(6)]\n"
        "    print(skim(' '.join(rng.sample(vocab, 6)) + '?', ' '.join(sents), 2).pieces)\n"
    )
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outputs) == 1
