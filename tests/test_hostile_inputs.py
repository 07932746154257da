"""Hostile inputs to the data layer: each case ends in an exact outcome, either the row quarantined with
its reason and raw record, or the file refused with an error naming it; then properties that hold for
any generated SQuAD / MRQA JSONL / CSV document: read = kept + quarantined, every kept answer at its offset."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats import SourceSpec
from zeroxqa.ingest.shard import shard

CTX = "Ada Lovelace wrote the first program in 1843."
GOOD_QA = {"id": "g1", "question": "When?", "answers": [{"text": "1843", "answer_start": 40}], "is_impossible": False}
ROW = {"id": "p1", "domain": "D", "context": CTX, "question": "When?", "answers": [{"text": "1843", "start": 40}],
       "is_impossible": False, "split": "train"}


def squad(*qas, title: str = "Ada", data: list | None = None) -> str:
    return json.dumps({"version": "v2.0", "data": data if data is not None else
                       [{"title": title, "paragraphs": [{"context": CTX, "qas": list(qas)}]}]})


def mrqa(*lines: str) -> str:
    return "\n".join([json.dumps({"header": {"dataset": "X"}}), *lines]) + "\n"


def mrqa_record(qid: str, context: str = CTX) -> str:
    return json.dumps({"context": context, "qas": [{"qid": qid, "question": "When?", "detected_answers": [
        {"text": "1843", "char_spans": [[40, 43]]}]}]})


def parquet(rows: list[dict]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def shard_one(tmp_path: Path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    result = shard([SourceSpec(path)], tmp_path / "out")
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == sum(r["kept"] for r in recon) + len(quarantine)
    return recon, quarantine


# (file name, content, rows kept, the one quarantined row's reason, a text its raw record holds)
QUARANTINED = [
    ("article.json", squad(data=["not an object", {"title": "Ada", "paragraphs": [{"context": CTX, "qas": [GOOD_QA]}]}]),
     1, "data[0] is not an object", "not an object"),
    ("paragraph.json", squad(data=[{"title": "Ada", "paragraphs": [7, {"context": CTX, "qas": [GOOD_QA]}]}]),
     1, "data[0].paragraphs[0] is not an object", "paragraphs[0]"),
    ("qa-entry.json", squad(5, GOOD_QA), 1, "question entry is not an object", "qas[0]"),
    ("numeric-question.json", squad({**GOOD_QA, "id": "n", "question": 12345}, GOOD_QA), 1,
     "field 'question' is not text: int", "12345"),
    ("numeric-answer.json", squad({**GOOD_QA, "id": "n", "answers": [{"text": 1843, "answer_start": 40}]}, GOOD_QA), 1,
     "field 'answers[0].text' is not text: int", "1843"),
    ("string-offset.json", squad({**GOOD_QA, "id": "s", "answers": [{"text": "1843", "answer_start": "40"}]}, GOOD_QA), 1,
     "answers[0].start is not an integer offset: '40'", "s"),
    ("surrogate-title.json", squad(GOOD_QA, title="bad \ud800 title"), 0, "field 'domain' holds an unpaired surrogate", "g1"),
    ("surrogate-question.json", squad({**GOOD_QA, "id": "s", "question": "When\udc00?"}, GOOD_QA), 1,
     "field 'question' holds an unpaired surrogate", "\\udc00"),
    ("split.parquet", parquet([ROW, {**ROW, "id": "p2", "split": "test"}]), 1, "field 'split' must be 'train', 'dev' or empty, got 'test'", "p2"),
    ("null-context.parquet", parquet([ROW, {**ROW, "id": "p2", "context": None}]), 1, "field 'context' is missing", "p2"),
    ("null-answer.parquet", parquet([ROW, {**ROW, "id": "p2", "answers": [{"text": None, "start": 40}]}]), 1,
     "field 'answers[0].text' is missing", "p2"),
    ("string-offset.parquet", parquet([{**ROW, "answers": [{"text": "1843", "start": "177"}]}]), 0,
     "answers[0].start is not an integer offset: '177'", "177"),
    ("float-offset.parquet", parquet([{**ROW, "answers": [{"text": "1843", "start": 160.7}]}]), 0,
     "answers[0].start is not an integer offset: 160.7", "160.7"),
    ("int-question.parquet", parquet([{**ROW, "question": 5}]), 0, "field 'question' is not text: int", '"question": 5'),
    ("string-flag.parquet", parquet([{**ROW, "is_impossible": "no"}]), 0, "field 'is_impossible' is not true/false", "p1"),
    # "false" is a string, not false: it was read as true
    ("string-flag.json", squad({**GOOD_QA, "id": "s", "is_impossible": "false"}, GOOD_QA), 1,
     "field 'is_impossible' is not true/false: 'false'", '"is_impossible": "false"'),
    # an MRQA question quarantined keeps its line's context in the raw record (it was in neither file)
    ("empty-question.jsonl", mrqa(json.dumps({"context": CTX + " Babbage built the engine.", "qas": [
        {"qid": "q1", "question": "When?", "detected_answers": [{"text": "1843", "char_spans": [[40, 43]]}]},
        {"qid": "q2", "question": "  ", "detected_answers": [{"text": "1843", "char_spans": [[40, 43]]}]}]})), 1,
     "empty question", "Babbage built the engine."),
    ("nul.jsonl", mrqa(mrqa_record("q1"), mrqa_record("q2", CTX.replace("wrote", "wr\x00ote")).replace("\\u0000", "\x00")),
     1, "line 3 holds raw control characters inside a string", "q2"),
    ("qas-entry.jsonl", mrqa(mrqa_record("q1"), json.dumps({"context": CTX, "qas": ["oops"]})), 1,
     "line 3: a 'qas' entry is not an object", "oops"),
    ("no-context.jsonl", mrqa(mrqa_record("q1"), json.dumps({"context": 5, "qas": []})), 1,
     "line 3 is not an MRQA context object", '"context": 5'),
    ("numeric-paragraph.jsonl", "\n".join([json.dumps({"paragraph": CTX}), json.dumps({"paragraph": 12})]) + "\n", 1,
     "the paragraph is not text: int", "12"),
    ("unclosed.csv", "paragraph\n" + f'"{CTX}\n' + "Another paragraph with Paris.\n", 1, "malformed CSV at line 2", CTX[:20]),
    # nesting deeper than Python's recursion limit: RecursionError tracebacks before
    ("deep.jsonl", mrqa(mrqa_record("q1"), '{"context": ' + "[" * 100_000 + "]" * 100_000 + ', "qas": []}'), 1,
     "line 3 is nested too deeply to read", "[[[["),
    ("deep-paragraph.jsonl", json.dumps({"paragraph": CTX}) + "\n" + '{"paragraph": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
     1, "not a JSON object with one of the keys", "[[[["),
]


@pytest.mark.parametrize("name, content, kept, reason, raw_holds", QUARANTINED, ids=[c[0] for c in QUARANTINED])
def test_hostile_row_is_quarantined_with_reason_and_raw_record(tmp_path, name, content, kept, reason, raw_holds):
    recon, quarantine = shard_one(tmp_path, name, content)
    assert sum(r["kept"] for r in recon) == kept
    assert len(quarantine) == 1, quarantine
    assert quarantine[0]["reason"].startswith(reason), quarantine[0]["reason"]
    raw = json.loads(quarantine[0]["raw"])  # JSON text of what was read: a record, or a line as a string
    assert raw_holds in (raw if isinstance(raw, str) else quarantine[0]["raw"])
    assert quarantine[0]["source"]["file"].endswith(name)


def _gz_truncated() -> bytes:
    data = gzip.compress(mrqa(mrqa_record("q1")).encode())
    return data[: len(data) // 2]


REFUSED = [
    ("truncated.jsonl.gz", _gz_truncated(), "not a valid gzip file"),
    ("garbage.jsonl.gz", b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
    ("not-parquet.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    ("list.json", b"[1, 2, 3]", "expected an object with a 'data' list"),
    ("header-only.csv", b",Theme,Paragraph,Question,Answer_possible,Answer_text\n", "missing columns ['Answer_start']"),
    ("nothing.json.gz", gzip.compress(b"{}"), "unknown format"),
    ("deep.json", b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply to read"),
]


@pytest.mark.parametrize("name, content, problem", REFUSED, ids=[c[0] for c in REFUSED])
def test_unusable_file_is_refused_naming_it(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        shard([SourceSpec(path)], tmp_path / "out")
    assert problem in str(err.value) and str(path) in str(err.value)
    assert not (tmp_path / "out" / "manifest.parquet").exists()


def test_a_folder_named_like_a_file_is_refused_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from zeroxqa.cli import app

    (tmp_path / "x.csv").mkdir()
    result = CliRunner().invoke(app, ["shard", str(tmp_path / "x.csv"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "is a folder" in result.output and "x.csv" in result.output


# --- properties over generated documents --------------------------------------------------------------

WORDS = st.sampled_from(["Ada", "wrote", "the", "program", "in", "1843", "Zürich", "東京", "naïve", "a,b", 'say "hi"',
                         "line\nbreak", "tab\there", "\u2028", "100%", "€5"])
TEXT = st.lists(WORDS, min_size=1, max_size=12).map(" ".join)


@st.composite
def qa_entries(draw, context: str) -> dict:
    """A question whose answer is right, shifted, absent, empty, or missing."""
    start = draw(st.integers(0, max(0, len(context) - 1)))
    length = draw(st.integers(1, 12))
    text = context[start : start + length]
    kind = draw(st.sampled_from(["right", "shifted", "absent", "impossible", "empty"]))
    if kind == "impossible":
        return {"question": draw(TEXT), "answers": [], "is_impossible": True}
    if kind == "shifted":
        start += draw(st.integers(-5, 5))
    if kind == "absent":
        text = "Babbage"
    if kind == "empty":
        text = ""
    return {"question": draw(TEXT), "answers": [{"text": text, "answer_start": start}], "is_impossible": False}


@st.composite
def squad_documents(draw) -> tuple[dict, int]:
    """A SQuAD document, sometimes with junk entries; and how many rows it holds (questions + junk)."""
    data, rows, n = [], 0, 0
    for a in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 9)) == 0:
            data.append(draw(st.sampled_from([None, 3, "x", []])))
            rows += 1
            continue
        paragraphs = []
        for _ in range(draw(st.integers(1, 3))):
            context = draw(TEXT)
            qas = []
            for _ in range(draw(st.integers(0, 3))):
                n += 1
                qas.append({"id": f"q{n}", **draw(qa_entries(context))})
            rows += len(qas)
            paragraphs.append({"context": context, "qas": qas})
        data.append({"title": draw(st.sampled_from(["Ada", "Zürich", "a/b", "Ada"])), "paragraphs": paragraphs})
    return {"version": "v2.0", "data": data}, rows


def assert_kept_answers_at_their_offsets(out: Path) -> None:
    for f in (out / "qa").glob("*.parquet"):
        for r in pq.read_table(f).to_pylist():
            for a in r["answers"]:
                assert r["context"][a["start"] : a["start"] + len(a["text"])] == a["text"]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(doc=squad_documents())
def test_any_squad_document_reconciles_and_kept_answers_sit_at_their_offsets(tmp_path_factory, doc):
    document, rows = doc
    tmp = tmp_path_factory.mktemp("squad")
    path = tmp / "doc.json"
    path.write_text(json.dumps(document))
    result = shard([SourceSpec(path)], tmp / "out")
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == rows  # questions counted, junk entries too
    assert sum(r["read"] for r in recon) == sum(r["kept"] for r in recon) + result.quarantined
    assert_kept_answers_at_their_offsets(tmp / "out")


@SETTINGS
@given(doc=squad_documents(), breakage=st.sampled_from(["none", "quote", "fields", "blank"]))
def test_any_theme_csv_reconciles_and_kept_answers_sit_at_their_offsets(tmp_path_factory, doc, breakage):
    document, _ = doc
    rows = [(a["title"], p["context"], qa) for a in document["data"] if isinstance(a, dict)
            for p in a["paragraphs"] for qa in p["qas"]]
    if not rows:
        return
    sink = io.StringIO()
    writer = csv.writer(sink)
    writer.writerow(["", "Theme", "Paragraph", "Question", "Answer_possible", "Answer_text", "Answer_start"])
    for i, (title, context, qa) in enumerate(rows):
        writer.writerow([i, title, context, qa["question"], not qa["is_impossible"],
                         repr([a["text"] for a in qa["answers"]]), repr([a["answer_start"] for a in qa["answers"]])])
    text = sink.getvalue()
    lines = text.split("\r\n")
    if breakage == "quote":
        lines[1] = lines[1].replace(",", ',"', 2)  # a stray opening quote
    elif breakage == "fields":
        lines[-2] += ",extra"
    elif breakage == "blank":
        lines.insert(2, "")
    tmp = tmp_path_factory.mktemp("csv")
    path = tmp / "doc.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    result = shard([SourceSpec(path)], tmp / "out")
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == sum(r["kept"] for r in recon) + result.quarantined
    if breakage == "none":
        assert sum(r["read"] for r in recon) == len(rows)
    assert_kept_answers_at_their_offsets(tmp / "out")


@SETTINGS
@given(contexts=st.lists(TEXT, min_size=1, max_size=5), junk=st.lists(st.sampled_from(
    ["", "{", "[]", '{"context": 1, "qas": []}', '{"context": "x", "qas": 5}', "null", '{"context": "a\x00b", "qas": [{"qid": "z", "question": "q?"}]}']),
    max_size=3), data=st.data())
def test_any_mrqa_file_reconciles_and_kept_answers_sit_at_their_offsets(tmp_path_factory, contexts, junk, data):
    lines, questions = [json.dumps({"header": {"dataset": "X"}})], 0
    for i, context in enumerate(contexts):
        qas = []
        for j in range(data.draw(st.integers(0, 3))):
            entry = data.draw(qa_entries(context))
            spans = [[a["answer_start"], a["answer_start"] + len(a["text"]) - 1] for a in entry["answers"] if a["text"]]
            qas.append({"qid": f"{i}-{j}", "question": entry["question"], "detected_answers": [
                {"text": a["text"], "char_spans": [s]} for a, s in zip(entry["answers"], spans)]})
        questions += len(qas)
        lines.append(json.dumps({"context": context, "qas": qas}, ensure_ascii=False))
    lines += [j for j in junk]
    tmp = tmp_path_factory.mktemp("mrqa")
    path = tmp / "doc.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    junk_rows = sum(1 for j in junk if j.strip())
    if questions + junk_rows == 0:
        return
    result = shard([SourceSpec(path)], tmp / "out")
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == questions + junk_rows
    assert sum(r["read"] for r in recon) == sum(r["kept"] for r in recon) + result.quarantined
    assert_kept_answers_at_their_offsets(tmp / "out")


def test_resharding_that_fails_midway_leaves_the_previous_shards_whole(tmp_path, monkeypatch):
    import zeroxqa.ingest.shard as shard_module

    first = tmp_path / "a.json"
    first.write_text(squad(GOOD_QA, title="Ada"))
    shard([SourceSpec(first)], tmp_path / "out")
    before = {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    second = tmp_path / "b.json"
    second.write_text(squad({**GOOD_QA, "id": "other"}, title="Babbage"))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # a kill after the shards, before the manifest

    monkeypatch.setattr(shard_module, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        shard([SourceSpec(second)], tmp_path / "out")
    after = {p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before  # neither Babbage's shard nor a half-written manifest
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_sharding_into_a_folder_that_holds_other_files_is_refused(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("mine")
    source = tmp_path / "a.json"
    source.write_text(squad(GOOD_QA))
    with pytest.raises(InputError, match="not a shard folder"):
        shard([SourceSpec(source)], tmp_path / "project")
    assert (tmp_path / "project" / "notes.txt").read_text() == "mine"
