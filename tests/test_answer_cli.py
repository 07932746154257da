"""`zeroxqa answer`: text from files or standard input, and a clear exit 2 for every broken model folder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zeroxqa.cli import app
from zeroxqa.reader.model import CARD_FILE, save_reader

runner = CliRunner()
CONTEXT = "Alice was born in Paris in 1990."


@pytest.fixture
def saved(tiny_reader, tmp_path):
    return save_reader(tiny_reader, tmp_path / "reader")


def test_answer_reads_context_from_a_file_and_question_from_stdin(saved, tmp_path):
    (tmp_path / "ctx.txt").write_text(CONTEXT * 2000)  # 64,000 characters: no command line takes that
    result = runner.invoke(app, ["answer", "--model", str(saved), "--context-file", str(tmp_path / "ctx.txt"),
                                 "--question-file", "-"], input="Where was Alice born?\n")
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output


def test_standard_input_is_read_once_and_an_empty_question_is_refused(saved):
    result = runner.invoke(app, ["answer", "--model", str(saved), "--context-file", "-", "--question-file", "-"],
                           input="Alice was born in Paris.\n")
    assert result.exit_code == 2 and "standard input can be read once" in result.output
    result = runner.invoke(app, ["answer", "--model", str(saved), "--context", CONTEXT, "--question-file", "-"], input="  \n")
    assert result.exit_code == 2 and "the question is empty" in result.output


def test_a_model_path_that_does_not_exist_is_refused_at_once_without_a_hub_lookup(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    for name in ("models/does-not-exist", "./nope", "nowhere-org/nowhere-model"):
        t = time.perf_counter()
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline: a hub id that is not cached is refused too
        result = runner.invoke(app, ["answer", "--model", name, "--context", CONTEXT, "--question", "q?"])
        assert result.exit_code == 2 and "model not found" in result.output, (name, result.output)
        assert time.perf_counter() - t < 5, name


def test_answer_needs_exactly_one_source_of_each_text(saved):
    result = runner.invoke(app, ["answer", "--model", str(saved), "--question", "q?"])
    assert result.exit_code == 2 and "--context" in result.output


@pytest.mark.parametrize("damage, message", [
    ("missing", "model not found"),
    ("empty", "empty folder"),
    ("no_weights", "no model weights"),
    ("truncated", "unreadable safetensors"),
    ("bad_card", "invalid model card"),
    ("a_file", "not a file"),
])
def test_a_broken_model_is_exit_2_naming_the_path(saved, tmp_path, damage, message):
    model = saved
    if damage == "missing":
        model = tmp_path / "nope"
    elif damage == "empty":
        model = tmp_path / "empty"
        model.mkdir()
    elif damage == "no_weights":
        (saved / "model.safetensors").unlink()
    elif damage == "truncated":
        data = (saved / "model.safetensors").read_bytes()
        (saved / "model.safetensors").write_bytes(data[: len(data) // 3])
    elif damage == "bad_card":
        (saved / CARD_FILE).write_text("{not json")
    elif damage == "a_file":
        model = saved / "config.json"
    result = runner.invoke(app, ["answer", "--model", str(model), "--context", CONTEXT, "--question", "Where?"])
    assert result.exit_code == 2, result.output
    assert message in result.output and str(model.name) in result.output


@pytest.mark.parametrize("command", [
    ["export", "--model", "{model}", "--out", "{tmp}/x"],
    ["bench", "{shards}", "--model", "{model}", "--out", "{tmp}/b"],
    ["train", "{shards}", "--base", "{model}", "--out", "{tmp}/t"],
    ["meta-train", "{shards}", "--base", "{model}", "--out", "{tmp}/m"],
    ["adapt-lm", "{shards}", "--base", "{model}", "--out", "{tmp}/a"],
    ["adapt-eval", "{shards}", "--init", "x={model}", "--out", "{tmp}/e.parquet"],
    ["synth", "{shards}", "--reader", "{model}", "--out", "{tmp}/s"],
], ids=lambda c: c[0])
def test_every_command_that_takes_a_model_says_what_is_wrong_with_it(sample_shards, tmp_path, command):
    """A damaged model given to any command: exit 2 naming the file, before any work starts."""
    model = tmp_path / "reader"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{truncated")
    args = [a.format(model=model, tmp=tmp_path, shards=sample_shards) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "unreadable safetensors" in result.output and "model.safetensors" in result.output


def test_training_on_a_raw_file_instead_of_shards_is_exit_2(tmp_path):
    raw = tmp_path / "questions.json"
    raw.write_text('{"data": []}')
    result = runner.invoke(app, ["train", str(raw), "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and "not a Parquet shard" in result.output and "questions.json" in result.output


@pytest.fixture(scope="module")
def sample_shards(tmp_path_factory):
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    out = tmp_path_factory.mktemp("shards")
    shard([SourceSpec(SQUAD_THEMES)], out)
    return out


def test_a_truncated_onnx_model_is_exit_2_naming_it(tmp_path):
    folder = tmp_path / "variant"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07\x12\x04onnx" + b"\x00" * 40)  # the start of a protobuf, cut off
    result = runner.invoke(app, ["answer", "--model", str(folder), "--context", CONTEXT, "--question", "q?"])
    assert result.exit_code == 2 and "unreadable ONNX model" in result.output and "model.onnx" in result.output
