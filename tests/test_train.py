"""Training loop and model persistence, on a tiny random BERT."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from zeroxqa.cli import app
from zeroxqa.config import TrainConfig
from zeroxqa.reader.evaluate import ALL, evaluate
from zeroxqa.reader.engine import QAEngine
from zeroxqa.reader.model import CARD_FILE, load_reader, save_reader

from helpers import ROWS, SMALL



def test_tiny_model_overfits_to_f1_100(tiny_reader, tmp_path):
    from zeroxqa.reader.train import train_reader

    cfg = TrainConfig(epochs=40, batch_size=4, learning_rate=3e-3, warmup_ratio=0.0, seed=0)
    result = train_reader(tiny_reader, ROWS, ROWS, tmp_path / "m", SMALL, cfg)
    assert result.best_metrics["f1"] == 100.0, result.history[-1]
    saved = load_reader(tmp_path / "m")
    ev = evaluate(QAEngine.load(tmp_path / "m"), ROWS)  # the reader config comes from the card
    overall = next(m for m in ev.per_domain() if m["domain"] == ALL)
    assert overall["f1"] == 100.0 and overall["HasAns_n"] == 3 and overall["NoAns_f1"] == 100.0
    card = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    assert card["null_threshold"] == saved.null_threshold and card["threshold_calibrated"]
    assert card["reader_config"]["max_length"] == 64 and card["dev_metrics"]["f1"] == 100.0


def test_same_seed_same_weights_and_training_changes_them(tiny_reader, tmp_path):
    from zeroxqa.reader.train import train_reader

    save_reader(tiny_reader, tmp_path / "init")
    cfg = TrainConfig(epochs=1, batch_size=2, seed=5)
    for name in ("a", "b"):
        train_reader(load_reader(tmp_path / "init"), ROWS, [], tmp_path / name, SMALL, cfg)
    init, a, b = (load_reader(tmp_path / n).model.state_dict() for n in ("init", "a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a), "same seed, same start: same weights"
    assert any(not torch.equal(a[k], init[k]) for k in a), "training from a saved reader changes it"


def test_save_is_safetensors_and_round_trips(tiny_reader, tmp_path):
    tiny_reader.card["null_threshold"] = 1.25
    save_reader(tiny_reader, tmp_path / "r")
    save_reader(tiny_reader, tmp_path / "r")  # overwrite in place
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)
    from zeroxqa.registry.atomic import FILE_MODE

    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "r").iterdir()} == {FILE_MODE}, "safetensors too, not 0600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    loaded = load_reader(tmp_path / "r")
    assert loaded.null_threshold == 1.25
    for k, v in tiny_reader.model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k])


def test_cli_eval_writes_per_domain_parquet(tiny_reader, sample_rows, tmp_path):
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    save_reader(tiny_reader, tmp_path / "r")
    shard([SourceSpec(SQUAD_THEMES)], tmp_path / "s")
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(tmp_path / "s"), "--model", str(tmp_path / "r"), "--domain", "Normans",
                              "--domain", "Force", "--out", str(tmp_path / "m.parquet")])
    assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert [r["domain"] for r in table] == ["Force", "Normans", ALL]
    assert table[-1]["n"] == table[0]["n"] + table[1]["n"] and 0 <= table[-1]["f1"] <= 100
    # a domain's oracle F1 (threshold searched on its rows) is its own, as if it were evaluated alone
    res = runner.invoke(app, ["eval", str(tmp_path / "s"), "--model", str(tmp_path / "r"), "--domain", "Force",
                              "--out", str(tmp_path / "force.parquet")])
    alone = pq.read_table(tmp_path / "force.parquet").to_pylist()
    assert table[0]["oracle_f1"] == pytest.approx(alone[-1]["oracle_f1"]) and alone[0]["oracle_f1"] == alone[-1]["oracle_f1"]
    assert all(r["f1"] - 1e-9 <= r["oracle_f1"] <= 100 for r in table)
    res = runner.invoke(app, ["answer", "--model", str(tmp_path / "r"), "--context", "Alice met Bob.", "--question", "Who?"])
    assert res.exit_code == 0 and "threshold" in res.output
    res = runner.invoke(app, ["train", str(tmp_path / "s"), "--domain", "Nowhere", "--out", str(tmp_path / "t"), "--base", str(tmp_path / "r")])
    assert res.exit_code == 2 and "no rows in split 'train'" in res.output


def test_bare_encoder_gets_the_same_qa_head_every_time(tiny_reader, tmp_path):
    """Ray actors, the baseline and adapt-eval each load the base: their new QA heads must agree, and
    loading must not disturb the caller's random state."""
    tiny_reader.model.bert.save_pretrained(tmp_path / "encoder")  # no QA head
    tiny_reader.tokenizer.save_pretrained(tmp_path / "encoder")
    torch.manual_seed(1)
    first = load_reader(tmp_path / "encoder").model.qa_outputs.weight
    after_first = torch.rand(1)
    torch.manual_seed(1)
    torch.rand(5)  # a caller in another random state
    second = load_reader(tmp_path / "encoder").model.qa_outputs.weight
    assert torch.equal(first, second)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(1), after_first)


class _Interrupt(Exception):
    pass


def test_resume_mid_epoch_gives_the_uninterrupted_weights(tiny_reader, tmp_path):
    """A run stopped after step 5 (of 3 epochs x 3 steps) and resumed ends with exactly the weights of a run
    that never stopped: model, AdamW moments, schedule, batch order and dropout RNG all come back."""
    from zeroxqa.reader.checkpoint import has_checkpoint
    from zeroxqa.reader.train import train_reader

    save_reader(tiny_reader, tmp_path / "init")
    rows = ROWS * 3
    cfg = TrainConfig(epochs=3, batch_size=2, seed=3, checkpoint_every=1, learning_rate=1e-3, negative_ratio=0.5)
    straight = train_reader(load_reader(tmp_path / "init"), rows, [], tmp_path / "straight", SMALL, cfg,
                            checkpoint_dir=tmp_path / "ck_straight")

    def stop_at_5(step: int) -> None:
        if step == 5:
            raise _Interrupt

    try:
        train_reader(load_reader(tmp_path / "init"), rows, [], tmp_path / "resumed", SMALL, cfg,
                     checkpoint_dir=tmp_path / "ck", on_step=stop_at_5)
    except _Interrupt:
        pass
    assert has_checkpoint(tmp_path / "ck")
    result = train_reader(load_reader(tmp_path / "init"), rows, [], tmp_path / "resumed", SMALL, cfg,
                          checkpoint_dir=tmp_path / "ck", resume=True)
    assert result.steps == straight.steps > 5
    a, b = (load_reader(tmp_path / n).model.state_dict() for n in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    assert not list((tmp_path / "ck").glob("*.pt")) and (tmp_path / "resumed" / "training.png").exists()


def test_resume_refuses_other_data(tiny_reader, tmp_path):
    import pytest

    from zeroxqa.reader.train import train_reader

    cfg = TrainConfig(epochs=1, batch_size=2, seed=3, checkpoint_every=1)
    train_reader(tiny_reader, ROWS, [], tmp_path / "m", SMALL, cfg, checkpoint_dir=tmp_path / "ck")
    with pytest.raises(ValueError, match="other data"):
        train_reader(tiny_reader, ROWS[:-1], [], tmp_path / "m", SMALL, cfg, checkpoint_dir=tmp_path / "ck", resume=True)


def test_dropout_set_for_a_run_only_and_attention_dropout_off_makes_attention_deterministic(tiny_reader, tmp_path):
    from zeroxqa.reader.model import set_dropout
    from zeroxqa.reader.train import train_reader

    model = tiny_reader.model.train()
    batch = {"input_ids": torch.randint(1000, 2000, (2, 24)), "attention_mask": torch.ones(2, 24, dtype=torch.long)}
    set_dropout(model, hidden=0.0)  # attention dropout alone still draws a random mask
    assert not torch.equal(model(**batch).start_logits, model(**batch).start_logits)
    set_dropout(model, attention=0.0)  # both off: train mode is deterministic
    assert torch.equal(model(**batch).start_logits, model(**batch).start_logits)
    rates = {n: m.p for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
    assert rates and set(rates.values()) == {0.0}

    cfg = TrainConfig(epochs=1, batch_size=2, seed=5, attention_dropout=0.0)
    train_reader(tiny_reader, ROWS, [], tmp_path / "m", SMALL, cfg)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["attention_probs_dropout_prob"] == 0.1 and config["hidden_dropout_prob"] == 0.1, \
        "a later fine-tune from the saved reader gets the usual rates back"
