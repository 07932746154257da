"""Bad input: file-level problems stop with an error naming the file; row-level problems are
quarantined with a reason; counts always reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zeroxqa.errors import InputError
from zeroxqa.ingest.formats import SourceSpec
from zeroxqa.ingest.shard import shard

HEADER = ",Theme,Paragraph,Question,Answer_possible,Answer_text,Answer_start\n"
CTX = "Ada Lovelace wrote the first program in 1843."


def csv_file(tmp_path: Path, *rows: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def run(tmp_path: Path, *paths: Path):
    result = shard([SourceSpec(p) for p in paths], tmp_path / "out")
    quarantine = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    return result, quarantine


def assert_reconciles(result) -> None:
    for r in result.reconciliation.to_pylist():
        assert r["read"] == r["kept"] + r["quarantined"]
    kept = sum(result.manifest.column("rows").to_pylist())
    assert kept == sum(result.reconciliation.column("kept").to_pylist())


def good_row(i: int, theme: str = "Ada") -> str:
    return f'{i},{theme},"{CTX}",When was it written? {i},True,[\'1843\'],[40]'


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (HEADER.encode() + b"1,Ada,caf\xe9 au lait,q,True,[],[]\n", "not UTF-8"),
    ],
)
def test_file_level_errors_name_the_file(tmp_path, content, problem):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=problem) as err:
        shard([SourceSpec(path)], tmp_path / "out")
    assert str(path) in str(err.value)
    assert not (tmp_path / "out" / "manifest.parquet").exists()


def test_non_utf8_error_gives_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + good_row(1).encode() + b"\n2,Ada,caf\xe9,q,True,[],[]\n")
    with pytest.raises(InputError, match=r"0xe9 .*line 3"):
        shard([SourceSpec(path)], tmp_path / "out")


def test_missing_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("Theme,Paragraph,Question\nA,B,C\n")
    with pytest.raises(InputError, match=r"missing columns \['Answer_possible', 'Answer_text', 'Answer_start'\]"):
        shard([SourceSpec(path)], tmp_path / "out")


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        shard([SourceSpec(tmp_path / "nope.csv")], tmp_path / "out")
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="unknown format"):
        shard([SourceSpec(tmp_path / "data.xlsx")], tmp_path / "out")


def test_not_squad_json(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(InputError, match="'data' list"):
        shard([SourceSpec(tmp_path / "x.json")], tmp_path / "out")


def test_malformed_quoting_is_quarantined_not_dropped(tmp_path):
    path = csv_file(
        tmp_path,
        good_row(1),
        f'2,Ada,"{CTX}" trailing,When?,True,[\'1843\'],[40]',  # a quote closed in mid-field
        f'3,Ada,"{CTX},When?,True,[\'1843\'],[40]',  # an unclosed quote: a parser reads on into row 4
        good_row(4),
    )
    result, quarantine = run(tmp_path, path)
    assert_reconciles(result)
    # the good row after the unclosed quote is not swallowed: parsing starts again on the next line
    assert sum(result.reconciliation.column("kept").to_pylist()) == 2
    assert [json.loads(q["raw"])["line"] for q in quarantine] == [3, 4]  # physical lines (the header is line 1)
    assert all("malformed CSV" in q["reason"] for q in quarantine)
    assert json.loads(quarantine[1]["raw"])["text"].startswith('3,Ada,"Ada Lovelace')  # the raw line, not null
    assert all(q["source"]["file"] == str(path) for q in quarantine)


def test_shifted_offset_repaired_or_quarantined(tmp_path):
    path = csv_file(
        tmp_path,
        f'1,Ada,"{CTX}",When?,True,[\'1843\'],[35]',  # shifted, text occurs once: repaired
        '2,Ada,"the cat and the dog",Which?,True,[\'the\'],[3]',  # shifted, text occurs twice: quarantined
        f'3,Ada,"{CTX}",Who?,True,[\'Babbage\'],[0]',  # text not in the context
        f'4,Ada,"{CTX}",When?,True,[\'1843\'],[400]',  # beyond the context, yet the text is there once: repaired
        f'5,Ada,"{CTX}",Who?,True,[\'Babbage\'],[400]',  # beyond the context and absent
    )
    result, quarantine = run(tmp_path, path)
    assert_reconciles(result)
    rows = pq.read_table(tmp_path / "out" / "qa" / "Ada.parquet").to_pylist()
    assert sorted(r["id"] for r in rows) == ["1", "4"]
    assert all(r["answers"][0]["start"] == 40 for r in rows)
    repairs = pq.read_table(tmp_path / "out" / "repairs.parquet").to_pylist()
    assert sorted(r["id"] for r in repairs) == ["1", "4"] and "35 -> 40" in repairs[0]["repair"]
    by_id = {q["id"]: q["reason"] for q in quarantine}
    assert "occurs 2 times" in by_id["2"]
    assert "not in the context" in by_id["3"]
    assert "outside the context" in by_id["5"]
    assert result.reconciliation.column("repaired").to_pylist() == [2]


def test_empty_fields_duplicates_and_literals(tmp_path):
    path = csv_file(
        tmp_path,
        good_row(1),
        good_row(1),  # duplicate id, same content
        '2,Ada,"",When?,True,[],[]',
        f'3,Ada,"{CTX}","",True,[\'1843\'],[40]',
        f'4,Ada,"{CTX}",When?,True,[\'1843\',[40]',  # malformed list literal
        f'5,Ada,"{CTX}",When?,True,"[\'1843\', \'Ada\']",[40]',  # lists of different lengths
        f'6,Ada,"{CTX}",When?,maybe,[\'1843\'],[40]',
        f'7,Ada,"{CTX}",When?,True,[],[]',  # answerable without an answer
    )
    result, quarantine = run(tmp_path, path)
    assert_reconciles(result)
    by_row = {q["source"]["row"]: q["reason"] for q in quarantine}
    assert "duplicate id '1': an exact repeat of the row first seen at" in by_row[2]
    assert by_row[3] == "empty context"
    assert by_row[4] == "empty question"
    assert "malformed list literal in Answer_text" in by_row[5]
    assert "1 items" in by_row[6] or "2 items" in by_row[6]
    assert "Answer_possible" in by_row[7]
    assert "answerable but has no answer" in by_row[8]
    raw = json.loads(next(q["raw"] for q in quarantine if q["source"]["row"] == 5))
    assert raw["Answer_text"] == "['1843'"  # the row as read is kept for the person who fixes it


def test_duplicate_ids_across_files(tmp_path):
    a = csv_file(tmp_path, good_row(1), name="a.csv")
    b = csv_file(tmp_path, f'1,Ada,"{CTX}",Another question?,True,[\'1843\'],[40]', name="b.csv")
    result, quarantine = run(tmp_path, a, b)
    assert_reconciles(result)
    assert len(quarantine) == 1 and "different content first seen at" in quarantine[0]["reason"]
    assert str(a) in quarantine[0]["reason"] and quarantine[0]["source"]["file"] == str(b)


def test_hostile_theme_names_stay_inside_the_output(tmp_path):
    path = csv_file(tmp_path, good_row(1, "../../etc"), good_row(2, "etc"), good_row(3, "Genève/Zürich"), good_row(4, "ETC"))
    result, _ = run(tmp_path, path)
    out = (tmp_path / "out").resolve()
    files = [out / f for f in result.manifest.column("file").to_pylist()]
    assert len(set(files)) == 4
    for f in files:
        assert f.resolve().is_relative_to(out / "qa") and f.exists()
    names = {d: Path(f).name for d, f in zip(result.manifest.column("domain").to_pylist(), files)}
    assert names["Genève/Zürich"] == "Genève_Zürich.parquet"
    assert names["../../etc"].startswith("etc-") and names["etc"].startswith("etc-") and names["ETC"].startswith("ETC-")
    assert not (tmp_path / "etc").exists()
    again, _ = run(tmp_path, path)  # deterministic: the same names again
    assert again.manifest.column("file").to_pylist() == result.manifest.column("file").to_pylist()


def test_jsonl_record_with_raw_line_separators_stays_whole(tmp_path):
    """U+2028, U+2029 and U+0085 may stand raw inside a JSON string: the record is one line, not three."""
    import json

    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.shard import shard

    context = "First part\u2028second part\u0085third part with Paris in it."
    header = json.dumps({"header": {"dataset": "odd"}})
    record = json.dumps({"context": context, "qas": [{"qid": "q1", "question": "Which city?",
                         "detected_answers": [{"text": "Paris", "char_spans": [[context.index("Paris"), context.index("Paris") + 4]]}]}]},
                        ensure_ascii=False)
    path = tmp_path / "odd.jsonl"
    path.write_text(header + "\r\n" + record + "\n", encoding="utf-8")
    result = shard([SourceSpec(path)], tmp_path / "out")
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == 1 and sum(r["kept"] for r in recon) == 1 and result.quarantined == 0


def test_options_no_config_accepts_end_with_exit_2_and_the_rule(tmp_path):
    """As a user types it (the installed `zeroxqa` command): a window too short for question + stride."""
    import subprocess
    import sys

    zeroxqa = Path(sys.executable).with_name("zeroxqa")
    done = subprocess.run([str(zeroxqa), "train", str(tmp_path), "--out", str(tmp_path / "m"), "--max-length", "64"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "invalid options" in done.stderr and "must not exceed max_length (64)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["train", "meta-train", "adapt-eval", "adapt-lm"])
def test_device_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, monkeypatch, command):
    """`--device cuda` where no GPU is visible: exit 2 naming the option, before data or models are read."""
    import torch
    from typer.testing import CliRunner

    from zeroxqa.cli import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    extra = ["--init", "squad"] if command == "adapt-eval" else []
    result = CliRunner().invoke(app, [command, str(tmp_path / "no-shards"), "--out", str(tmp_path / "o"), *extra,
                                      "--device", "cuda"])
    assert result.exit_code == 2, result.output
    assert "--device" in result.output and "no CUDA device is visible" in result.output
    assert not (tmp_path / "o").exists()
