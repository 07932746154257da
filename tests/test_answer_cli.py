"""`zeroxqa answer`: text from files or standard input, and a clear exit 2 for every broken model folder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zeroxqa.cli import app
from zeroxqa.model import CARD_FILE, save_reader

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
