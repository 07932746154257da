"""Each accepted format, read from a real-format fixture, lands in the canonical shape."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from zeroxqa.ingest.formats import SourceSpec, detect_format, read_rows
from zeroxqa.ingest.sample import POLICY_SITES, POLICY_UNLABELED, SQUAD_THEMES
from zeroxqa.ingest.schema import qa_table
from zeroxqa.ingest.shard import shard


def test_theme_csv(fixtures):
    rows = list(read_rows(SourceSpec(fixtures / "themes.csv")))
    assert detect_format(fixtures / "themes.csv") == "theme-csv"
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["domain"] == "Normans" and rows[0]["answers"] == [{"text": "France", "start": 104}]
    assert rows[2]["is_impossible"] and rows[2]["answers"] == []
    assert rows[0]["source"] == {"file": str(fixtures / "themes.csv"), "row": 1}


def test_squad_v2_titles_become_domains_unless_given():
    rows = list(read_rows(SourceSpec(SQUAD_THEMES)))
    assert {r["domain"] for r in rows} == {"Normans", "Steam_engine", "Immune_system", "Warsaw", "Harvard_University", "Force"}
    assert any(r["is_impossible"] for r in rows) and any(not r["is_impossible"] for r in rows)
    given = list(read_rows(SourceSpec.parse(f"wiki:train={SQUAD_THEMES}")))
    assert {r["domain"] for r in given} == {"wiki"} and {r["split"] for r in given} == {"train"}


def test_squad_v1(tmp_path):
    doc = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "abc def", "qas": [
        {"id": "q1", "question": "what?", "answers": [{"text": "def", "answer_start": 4}]}]}]}]}
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    (row,) = read_rows(SourceSpec(tmp_path / "v1.json"))
    assert row["is_impossible"] is False and row["answers"] == [{"text": "def", "start": 4}]


def test_mrqa_jsonl_uses_char_spans(fixtures):
    rows = list(read_rows(SourceSpec(fixtures / "mrqa.jsonl")))
    assert detect_format(fixtures / "mrqa.jsonl") == "mrqa-jsonl"
    assert [r["id"] for r in rows] == ["m1", "m2"]
    assert rows[0]["domain"] == "SQuADmini"
    assert rows[0]["answers"] == [{"text": "Vistula River", "start": 67}]


def test_canonical_parquet_round_trip(tmp_path):
    result = shard([SourceSpec(POLICY_SITES)], tmp_path / "s")
    path = tmp_path / "s" / result.manifest.column("file")[0].as_py()
    rows = list(read_rows(SourceSpec(path)))
    original = pq.read_table(path).to_pylist()
    assert [r["id"] for r in rows] == [r["id"] for r in original]
    assert [r["split"] for r in rows] == [r["split"] for r in original]
    qa_table([{k: r[k] for k in ("id", "domain", "context", "question", "answers", "is_impossible")} for r in rows])


def test_unlabeled_paragraphs_txt_jsonl_csv(fixtures, tmp_path):
    txt = list(read_rows(SourceSpec.parse(f"privacy={fixtures / 'paragraphs.txt'}")))
    assert len(txt) == 3 and txt[1]["context"].startswith("We use cookies") and "\n" in txt[1]["context"]
    assert {r["domain"] for r in txt} == {"privacy"}
    jsonl = list(read_rows(SourceSpec(POLICY_UNLABELED)))
    assert detect_format(POLICY_UNLABELED) == "paragraphs-jsonl"
    assert len(jsonl) == 12 and {r["domain"] for r in jsonl} == {"yahoo.com"}
    (tmp_path / "p.csv").write_text("domain,paragraph\nlaw,First paragraph.\nlaw,Second one.\n")
    csv_rows = list(read_rows(SourceSpec(tmp_path / "p.csv")))
    assert detect_format(tmp_path / "p.csv") == "paragraphs-csv"
    assert [r["context"] for r in csv_rows] == ["First paragraph.", "Second one."]
