"""`zeroxqa calibrate`: the no-answer threshold set again on labelled rows and written into the card."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zeroxqa.cli import app
from zeroxqa.reader.model import CARD_FILE, save_reader

runner = CliRunner()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    out = tmp_path_factory.mktemp("shards")
    shard([SourceSpec(SQUAD_THEMES)], out)
    return out


def test_calibrate_writes_the_threshold_that_the_evaluation_finds(tiny_reader, shards, tmp_path):
    from zeroxqa.config import ReaderConfig
    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.evaluate import evaluate
    from zeroxqa.reader.engine import QAEngine

    tiny_reader.card["null_threshold"] = 123.0  # far off: answers everything
    folder = save_reader(tiny_reader, tmp_path / "reader")
    result = runner.invoke(app, ["calibrate", str(shards), "--model", str(folder), "--split", "all"])
    assert result.exit_code == 0, result.output
    card = json.loads((folder / CARD_FILE).read_text())
    rows = load_rows([shards])
    expected = evaluate(QAEngine.from_reader(tiny_reader, ReaderConfig()), rows).abstention_threshold()
    assert card["null_threshold"] == pytest.approx(expected) and card["null_threshold"] != 123.0
    assert card["threshold_calibration"]["previous"] == 123.0 and card["threshold_calibration"]["rows"] == len(rows)


def test_calibrate_leaves_the_shipped_reader_alone(shards):
    result = runner.invoke(app, ["calibrate", str(shards), "--model", "squad"])
    assert result.exit_code == 2 and "not rewritten" in result.output


def test_calibrate_like_a_reference_abstains_as_often_as_it_does(tiny_reader, shards, tmp_path):
    """A variant calibrated `--like` its reader takes the threshold at which it abstains on as many of the
    tuning rows as the reader does at its best-F1 threshold, wherever its own scores lie."""
    import copy

    import torch

    from zeroxqa.ingest.dataset import load_rows
    from zeroxqa.reader.evaluate import reference_abstention

    reference = save_reader(tiny_reader, tmp_path / "reader")
    shifted = copy.deepcopy(tiny_reader)
    with torch.no_grad():  # a variant whose no-answer scores are shifted: here, its QA head's biases moved
        shifted.model.qa_outputs.bias.add_(torch.tensor([0.7, -0.4]))
    variant = save_reader(shifted, tmp_path / "variant")
    result = runner.invoke(app, ["calibrate", str(shards), "--model", str(variant), "--split", "all", "--like", str(reference)])
    assert result.exit_code == 0, result.output
    calibration = json.loads((variant / CARD_FILE).read_text())["threshold_calibration"]
    assert calibration["method"] == "abstains as often as its reference"
    assert calibration["abstained"] == pytest.approx(reference_abstention(reference, load_rows([shards])))
    missing = runner.invoke(app, ["calibrate", str(shards), "--model", str(variant), "--like", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
