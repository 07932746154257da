"""Retrieval within a domain: fusion arithmetic, BM25 / dense / fused ranking on a small corpus whose answer
paragraph is known, the index's round trip, answering a domain's question, the evaluation, the cached
stage and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zeroxqa.config import RetrievalConfig
from zeroxqa.errors import InputError
from zeroxqa.retrieval.fusion import ranked, rrf, top_indices, weighted

SHOP = Path(__file__).parent / "fixtures" / "shop_paragraphs.jsonl"
# (question, words of the paragraph that answers it, the answer)
QUESTIONS = [
    ("How many days do I have to return an item?", "Returns and refunds", "30 days"),
    ("When does express delivery arrive?", "Shipping.", "the next business day"),
    ("Do gift cards expire?", "Gift cards.", None),
    ("What time does the Portland store open on Sunday?", "Store hours.", "11 am"),
    ("Is my personal information sold to advertisers?", "Privacy.", None),
]


def test_rrf_adds_reciprocal_ranks_and_breaks_ties_by_index():
    fused = rrf([np.array([2, 0, 1]), np.array([0, 2])], k=60)
    assert fused[0] == pytest.approx(1 / 62 + 1 / 61) and fused[2] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1] == pytest.approx(1 / 63)
    assert [i for i, _ in ranked(fused)] == [0, 2, 1]  # 0 and 2 tie: the lower index first


def test_weighted_normalizes_each_score_and_a_constant_score_counts_nothing():
    lexical, dense = np.array([0.0, 5.0, 10.0]), np.array([0.3, 0.3, 0.3])
    mixed = weighted(np.array([0, 1, 2]), lexical, dense, dense_weight=0.5)
    assert mixed == pytest.approx({0: 0.0, 1: 0.25, 2: 0.5})
    assert top_indices(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist() == [1, 2, 3]
    assert top_indices(np.array([1.0]), 5).tolist() == [0]


@pytest.fixture(scope="module")
def shop_paragraphs():
    from zeroxqa.ingest.paragraphs import load_paragraphs

    return load_paragraphs([str(SHOP)])


@pytest.fixture(scope="module")
def shop_index(shop_paragraphs, tmp_path_factory):
    """The shop corpus indexed with the real packaged sentence encoder, saved and loaded back."""
    from zeroxqa.retrieval.index import DomainIndex

    folder = tmp_path_factory.mktemp("index") / "shop"
    DomainIndex.build("shop.example", shop_paragraphs, RetrievalConfig()).save(folder)
    return DomainIndex.load(folder)


@pytest.mark.parametrize("method", ["bm25", "dense", "rrf", "weighted"])
@pytest.mark.parametrize("question,paragraph,answer", QUESTIONS)
def test_the_answer_paragraph_ranks_first(shop_index, method, question, paragraph, answer):
    hits = shop_index.search(question, 3, method)
    assert hits[0].context.startswith(paragraph), [h.context[:20] for h in hits]
    assert len(hits) == 3 and len({h.context_id for h in hits}) == 3


def test_bm25_matches_word_forms_and_ignores_stop_words(shop_index):
    scores = shop_index.lexical_scores("refund")  # the paragraph says "refunds"
    assert shop_index.contexts[int(np.argmax(scores))].startswith("Returns and refunds")
    assert not shop_index.lexical_scores("what is the of and").any()  # stop words only: no evidence


def test_index_round_trip_and_refusals(shop_index, shop_paragraphs, tmp_path):
    from zeroxqa.retrieval.index import DomainIndex

    assert len(shop_index) == 6 and shop_index.domain == "shop.example"
    assert np.allclose(np.linalg.norm(shop_index.vectors, axis=1), 1.0, atol=1e-4)
    with pytest.raises(InputError, match="not a retrieval index"):
        DomainIndex.load(tmp_path)
    with pytest.raises(InputError, match="no paragraphs"):
        DomainIndex.build("empty", [], RetrievalConfig())
    with pytest.raises(ValueError, match="unknown retrieval method"):
        shop_index.search("returns", 2, "tfidf")


def test_ask_answers_from_the_right_paragraph_with_the_reference_reader(shop_index):
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.retrieval.ask import ask

    engine = QAEngine.load("squad", threads=1)
    result = ask(shop_index, engine, "How many days do I have to return an item?", top_k=3)
    assert result.answered and "30 days" in result.answer
    chosen = next(p for p in result.paragraphs if p.context_id == result.context_id)
    assert chosen.context[result.start:result.end] == result.answer and result.confidence >= 0.5
    assert len(result.paragraphs) == 3 and result.retrieve_ms > 0 and result.read_ms > 0


def test_no_paragraph_clearing_the_threshold_is_no_answer(shop_index, tiny_reader):
    from zeroxqa.config import ReaderConfig
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.retrieval.ask import ask

    engine = QAEngine.from_reader(tiny_reader, ReaderConfig(), threshold=-1e6)  # abstains on every span
    result = ask(shop_index, engine, "How many days do I have to return an item?", top_k=2)
    assert not result.answered and result.answer == "" and result.context_id is None and result.start == -1
    assert all(p.answer == "" and p.confidence < 0.5 for p in result.paragraphs)


def test_choose_takes_the_most_confident_or_the_highest_span():
    from zeroxqa.retrieval.ask import ReadParagraph, choose

    a = ReadParagraph("a", "alpha text", 1.0, "alpha", 0, 5, span_score=9.0, na_score=-1.0, confidence=0.8)
    b = ReadParagraph("b", "beta text", 0.5, "beta", 0, 4, span_score=12.0, na_score=-0.5, confidence=0.7)
    c = ReadParagraph("c", "gamma", 0.2, "", -1, -1, span_score=-1e9, na_score=1e9, confidence=0.0)
    assert choose("q", [a, b, c]).answer == "alpha"
    assert choose("q", [a, b, c], by="span").answer == "beta"
    assert not choose("q", [c]).answered
    # both saturate the sigmoid at 1.0: the wider margin (lower na_score) still decides, not the order
    d = ReadParagraph("d", "delta", 0.9, "delta", 0, 5, span_score=50.0, na_score=-60.0, confidence=1.0)
    e = ReadParagraph("e", "eps", 0.1, "eps", 0, 3, span_score=70.0, na_score=-80.0, confidence=1.0)
    assert choose("q", [d, e]).answer == "eps"


def test_evaluation_reports_recall_and_end_to_end_scores(shop_index):
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.retrieval.evaluate import evaluate_domain, summarize

    by_start = {c.split(".")[0] + ".": cid for cid, c in zip(shop_index.context_ids, shop_index.contexts)}
    rows = [{"id": f"q{i}", "question": q, "context_id": next(v for k, v in by_start.items() if p.startswith(k[:8])),
             "answers": [{"text": a, "start": 0}] if a else [], "is_impossible": a is None}
            for i, (q, p, a) in enumerate(QUESTIONS)]
    engine = QAEngine.load("squad", threads=1)
    results = evaluate_domain(shop_index, engine, rows, methods=("bm25", "rrf"), top_k=2)
    assert len(results) == len(rows) * 2 * 2  # questions x rankings x choice rules
    table = summarize(results, [])
    for entry in table:
        assert entry["recall@1"] == 100.0 and entry["questions"] == len(rows)
        assert entry["HasAns_f1"] > 50  # "30 days", "the next business day", "11 am" from the reference reader
    assert {(e["method"], e["choose"]) for e in table} == {("bm25", "confidence"), ("bm25", "span"), ("rrf", "confidence"),
                                                          ("rrf", "span")}


def test_index_stage_is_cached_and_the_registry_names_it(tmp_path):
    from zeroxqa.config import ShardConfig
    from zeroxqa.pipeline import index_stage, shard_stage
    from zeroxqa.registry.store import load_registry, record_index
    from zeroxqa.retrieval.index import DomainIndex

    shards = shard_stage([str(SHOP)], str(tmp_path), ShardConfig(), "out")
    folder = index_stage(shards, "shop.example", str(tmp_path), RetrievalConfig())
    built = Path(folder, "index.json").stat().st_mtime_ns
    assert index_stage(shards, "shop.example", str(tmp_path), RetrievalConfig()) == folder
    assert Path(folder, "index.json").stat().st_mtime_ns == built  # found done, not rebuilt
    assert len(DomainIndex.load(folder)) == 6
    record_index(tmp_path / "registry.json", "shop.example", folder)
    assert load_registry(tmp_path / "registry.json")["indexes"]["shop.example"]["index"] == folder


def test_cli_index_then_ask(tmp_path):
    from zeroxqa.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["index", str(SHOP), "--out", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ask", "When does express delivery arrive?", "--domain", "shop.example",
                                 "--index", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert "next business day" in result.output.splitlines()[0]
    # without an index, and a registry that names none: exit 2 naming the domain
    result = runner.invoke(app, ["ask", "anything?", "--domain", "nowhere", "--registry", str(tmp_path / "registry.json")])
    assert result.exit_code == 2 and "nowhere" in result.output


def test_a_question_asked_of_several_paragraphs_is_answered_by_any_of_them():
    """PolicyQA asks one question of several paragraphs of a site, each labelled with its own answer."""
    from zeroxqa.retrieval.evaluate import gold_sets

    rows = [
        {"question": "Do you share my data?", "context_id": "p1", "answers": [{"text": "with partners", "start": 0}], "is_impossible": False},
        {"question": "do you  share my data?", "context_id": "p2", "answers": [{"text": "never for ads", "start": 0}], "is_impossible": False},
        {"question": "Do you share my data?", "context_id": "p3", "answers": [], "is_impossible": True},
        {"question": "How long is data kept?", "context_id": "p2", "answers": [{"text": "90 days", "start": 0}], "is_impossible": False},
    ]
    sets = gold_sets(rows)
    assert sets[0] == sets[1] == ({"p1", "p2"}, ["with partners", "never for ads"])
    assert sets[2] == ({"p3"}, [""])  # unanswerable in its own paragraph: judged on its own ("" is no answer)
    assert sets[3] == ({"p2"}, ["90 days"])
