"""Meta-learning on a tiny random BERT: the two update rules, task sampling, resume, Ray = in-process."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from zeroxqa.config import MetaConfig
from zeroxqa.meta.algorithms import apply_meta_update, outer_optimizer
from zeroxqa.meta.inner import get_state, inner_adapt, labelled_batch
from zeroxqa.meta.tasks import Task, sample_tasks, sampling_weights, split_support_query
from zeroxqa.meta.train import meta_train
from zeroxqa.meta.worker import TaskWorker
from zeroxqa.reader.model import load_reader, save_reader

from helpers import ROWS, SMALL


def rows_for(domain: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        r = dict(ROWS[i % len(ROWS)])
        out.append({**r, "id": f"{domain}-{i}", "domain": domain, "context_id": f"{domain}-c{i // 2}"})
    return out


DOMAINS = {"a": rows_for("a", 12), "b": rows_for("b", 8), "c": rows_for("c", 4)}


@pytest.fixture
def tiny_dir(tiny_reader, tmp_path):
    return save_reader(tiny_reader, tmp_path / "tiny")


def test_sampling_weights_temperature_ends():
    sizes = {"a": 300, "b": 100}
    assert sampling_weights(sizes, 1.0) == pytest.approx({"a": 0.75, "b": 0.25})
    assert sampling_weights(sizes, math.inf) == pytest.approx({"a": 0.5, "b": 0.5})
    mid = sampling_weights(sizes, 2.0)
    assert 0.5 < mid["a"] < 0.75


def test_support_and_query_never_share_a_context():
    support, query = split_support_query(DOMAINS["a"], 6, 4, random.Random(0))
    assert len(support) == 6 and len(query) == 4
    assert not {r["context_id"] for r in support} & {r["context_id"] for r in query}
    tasks = sample_tasks(DOMAINS, 5, 1.0, 6, 2, seed=3)
    assert [t.domain for t in tasks] == [t.domain for t in sample_tasks(DOMAINS, 5, 1.0, 6, 2, seed=3)]


def test_reptile_one_task_meta_lr_1_gives_the_adapted_weights(tiny_dir):
    cfg = MetaConfig(algorithm="reptile", meta_lr=1.0, inner_steps=3, inner_batch_size=2, threads=1)
    worker = TaskWorker(str(tiny_dir), SMALL, threads=1)
    meta_model = load_reader(tiny_dir).model
    task = Task("a", DOMAINS["a"][:6], [])
    update = worker.run(get_state(meta_model), task, cfg, seed=7)

    reference = load_reader(tiny_dir)
    inner_adapt(reference.model, reference.tokenizer, task.support, SMALL, 3, cfg.inner_lr, 2, seed=7)
    adapted = get_state(reference.model)

    before = get_state(meta_model)
    apply_meta_update(meta_model, outer_optimizer(meta_model, "reptile", 1.0), [update.pseudo_grad])
    after = get_state(meta_model)
    assert any(not np.array_equal(adapted[k], before[k]) for k in adapted), "adaptation changed nothing"
    for k in adapted:
        np.testing.assert_allclose(after[k], adapted[k], atol=1e-6)


def test_fomaml_outer_gradient_is_the_query_gradient_at_the_adapted_weights(tiny_dir):
    cfg = MetaConfig(algorithm="fomaml", inner_steps=2, inner_batch_size=2, query_size=3, threads=1)
    worker = TaskWorker(str(tiny_dir), SMALL, threads=1)
    meta = get_state(load_reader(tiny_dir).model)
    task = Task("a", DOMAINS["a"][:4], DOMAINS["a"][4:7])
    update = worker.run(meta, task, cfg, seed=11)

    reference = load_reader(tiny_dir)
    inner_adapt(reference.model, reference.tokenizer, task.support, SMALL, 2, cfg.inner_lr, 2, seed=11)
    reference.model.train()
    loss = reference.model(**labelled_batch(reference.tokenizer, task.query, SMALL)).loss
    loss.backward()
    for name, p in reference.model.named_parameters():
        np.testing.assert_allclose(update.pseudo_grad[name], p.grad.numpy(), atol=1e-6)
    assert update.query_loss == pytest.approx(float(loss), rel=1e-5)
    # and it is not the gradient at the meta weights
    at_meta = load_reader(tiny_dir)
    at_meta.model.train()
    at_meta.model(**labelled_batch(at_meta.tokenizer, task.query, SMALL)).loss.backward()
    w = "qa_outputs.weight"
    assert not np.allclose(update.pseudo_grad[w], dict(at_meta.model.named_parameters())[w].grad.numpy())


def small_meta(**kw) -> MetaConfig:
    base = dict(inner_steps=2, inner_batch_size=2, query_size=2, tasks_per_batch=2, meta_steps_per_epoch=2,
                meta_epochs=2, adapt_shots=4, adapt_steps=2, threads=1, seed=3)
    return MetaConfig(**{**base, **kw})


def weights(path) -> dict:
    return get_state(load_reader(path).model)


@pytest.mark.parametrize("algorithm", ["reptile", "fomaml"])
def test_resume_continues_where_it_stopped(tiny_dir, tmp_path, algorithm):
    val = {"c": (DOMAINS["c"], DOMAINS["c"])}
    straight = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "straight", small_meta(algorithm=algorithm), SMALL)
    meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "resumed", small_meta(algorithm=algorithm, meta_epochs=1), SMALL)
    resumed = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "resumed", small_meta(algorithm=algorithm), SMALL)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    a, b = weights(straight.last_dir), weights(resumed.last_dir)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)
    assert (tmp_path / "straight" / "best" / "model.safetensors").exists()


@pytest.mark.parametrize("algorithm", ["reptile", "fomaml"])
def test_a_run_killed_mid_epoch_resumes_at_its_last_meta_step_checkpoint(tiny_dir, tmp_path, monkeypatch, algorithm):
    from zeroxqa.meta import train as meta_train_module

    val = {"c": (DOMAINS["c"], DOMAINS["c"])}
    cfg = small_meta(algorithm=algorithm, meta_steps_per_epoch=4, checkpoint_every=1)
    straight = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "straight", cfg, SMALL)
    real, steps = meta_train_module.apply_meta_update, []

    def dying(*args, **kwargs):
        if len(steps) == 6:  # epoch 2, before its third meta-step
            raise KeyboardInterrupt
        steps.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(meta_train_module, "apply_meta_update", dying)
    with pytest.raises(KeyboardInterrupt):
        meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "killed", cfg, SMALL)
    steps.clear()
    resumed = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "killed", cfg, SMALL)
    assert len(steps) == 2  # only the two meta-steps the kill cost
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[1]["loss"] == pytest.approx(straight.history[1]["loss"])  # the epoch's losses carried over
    a, b = weights(straight.last_dir), weights(resumed.last_dir)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)


def test_checkpoint_selection_breaks_an_f1_tie_on_span_f1_then_takes_the_later(tiny_dir, tmp_path, monkeypatch):
    from zeroxqa.meta import train as meta_train_module

    # every K-shot F1 the same (the no-answer share, as when the adapted reader never answers)
    scripted = iter([{"val_f1": 63.2, "val_span_f1": 10.0}, {"val_f1": 63.2, "val_span_f1": 25.0},
                     {"val_f1": 63.2, "val_span_f1": 25.0}, {"val_f1": 63.2, "val_span_f1": 5.0}])
    monkeypatch.setattr(meta_train_module, "validate", lambda *a, **k: next(scripted))
    val = {"c": (DOMAINS["c"], DOMAINS["c"])}
    cfg = small_meta(meta_epochs=3, meta_steps_per_epoch=1)
    result = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "m", cfg, SMALL)
    state = json.loads((tmp_path / "m" / "meta_state.json").read_text())
    assert state["best_epoch"] == 3  # higher span F1 beats epoch 1, a tie with epoch 2 goes to the later
    a, epoch3 = weights(result.best_dir), weights(result.last_dir)
    assert all(np.array_equal(a[k], epoch3[k]) for k in a)

    resumed = meta_train(str(tiny_dir), DOMAINS, val, tmp_path / "m", small_meta(meta_epochs=4, meta_steps_per_epoch=1), SMALL)
    assert json.loads((tmp_path / "m" / "meta_state.json").read_text())["best_epoch"] == 3  # epoch 4 is worse
    a, epoch4 = weights(resumed.best_dir), weights(resumed.last_dir)
    assert all(np.array_equal(a[k], epoch3[k]) for k in a) and any(not np.array_equal(a[k], epoch4[k]) for k in a)


def test_ray_and_in_process_agree(tiny_dir, tmp_path, monkeypatch, caplog):
    """On a machine where Ray never ran (no ~/.ray/auth_token): the local cluster starts, without a token notice."""
    ray = pytest.importorskip("ray")
    local = meta_train(str(tiny_dir), DOMAINS, {}, tmp_path / "local", small_meta(meta_epochs=1), SMALL)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    try:
        on_ray = meta_train(str(tiny_dir), DOMAINS, {}, tmp_path / "ray", small_meta(meta_epochs=1, workers=2), SMALL)
    finally:
        ray.shutdown()
    assert (tmp_path / "home" / ".ray" / "auth_token").exists(), "Ray did not make its token on this fresh machine"
    assert not [r for r in caplog.records if "Token authentication" in r.getMessage()]
    a, b, start = weights(local.last_dir), weights(on_ray.last_dir), weights(tiny_dir)
    assert any(not np.array_equal(a[k], start[k]) for k in a)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)


def test_meta_training_on_a_ray_cluster_started_with_ray_start(tiny_dir, tmp_path):
    """What a team with several machines does (`ray start --head`, then `--ray-address`), on a one-node cluster."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    ray = pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_cli = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths under it must fit in 107 bytes
    # a machine where Ray never ran has no token, and `ray start --head` refuses to start without one: the
    # head's first step is `ray get-auth-token --generate` (into ~/.ray/auth_token; here a HOME of the test's own)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    env.pop("RAY_AUTH_MODE", None)
    env.pop("RAY_AUTH_TOKEN", None)
    token = subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, capture_output=True, text=True, timeout=120)
    assert token.returncode == 0 and (tmp_path / "home" / ".ray" / "auth_token").exists(), token.stderr
    started = subprocess.run([ray_cli, "start", "--head", "--port", str(port), "--num-cpus", "2",
                              "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
                             env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    address = f"{ray.util.get_node_ip_address()}:{port}"  # the head's address, as `ray start` prints it
    # as a user runs it: another process, RAY_AUTH_MODE=token (the head's token is in ~/.ray/auth_token)
    script = ("import sys; sys.path[:0] = [sys.argv[1]]; import ray\n"
              "from test_meta import DOMAINS, small_meta; from helpers import SMALL; from zeroxqa.meta.train import meta_train\n"
              "meta_train(sys.argv[2], DOMAINS, {}, sys.argv[3], small_meta(meta_epochs=1, workers=2, ray_address=sys.argv[4]), SMALL)\n"
              "assert ray.get_runtime_context().gcs_address == sys.argv[4], 'not on that cluster'\n")
    try:
        run = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(tiny_dir), str(tmp_path / "cluster"),
                              address], env={**env, "RAY_AUTH_MODE": "token"}, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
    local = meta_train(str(tiny_dir), DOMAINS, {}, tmp_path / "local", small_meta(meta_epochs=1), SMALL)
    a, b = weights(local.last_dir), weights(tmp_path / "cluster" / "last")
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6)


def test_cli_meta_train_baseline_and_adapt_eval(tiny_dir, tmp_path):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.ingest.formats import SourceSpec
    from zeroxqa.ingest.sample import POLICY_SITES, SQUAD_THEMES
    from zeroxqa.ingest.shard import shard

    shard([SourceSpec(SQUAD_THEMES)], tmp_path / "in")
    shard([SourceSpec(POLICY_SITES)], tmp_path / "out")
    runner = CliRunner()
    common = ["--max-length", "128", "--doc-stride", "32"]
    res = runner.invoke(app, ["meta-train", str(tmp_path / "in"), "--out", str(tmp_path / "meta"), "--base", str(tiny_dir),
                              "--val-domain", "Normans", "--meta-epochs", "1", "--meta-steps", "1", "--inner-steps", "1",
                              "--baseline", *common])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "meta" / "best" / "model.safetensors").exists()
    assert (tmp_path / "meta" / "baseline" / "model.safetensors").exists()
    bad = runner.invoke(app, ["meta-train", str(tmp_path / "in"), "--out", str(tmp_path / "m2"), "--val-domain", "Nope"])
    assert bad.exit_code == 2 and "Nope" in bad.output
    res = runner.invoke(app, ["adapt-eval", str(tmp_path / "out"), "--init", f"meta={tmp_path / 'meta' / 'best'}",
                              "--init", f"base={tiny_dir}", "--shots", "4,0", "--max-dev", "8", "--out",
                              str(tmp_path / "adapt.parquet"), *common])
    assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "adapt.parquet").to_pylist()
    measured = [r for r in table if r["seed"] is not None]
    assert len(measured) == 2 * 2 * 2  # inits x domains x K, one seed
    assert {r["K"] for r in table} == {"4", "all"} and all(0 <= r["f1"] <= 100 for r in table)
    assert len([r for r in table if r["domain"] == "(mean)"]) == 4 and all(r["seeds"] == 1 for r in table if r["seed"] is None)
    assert (tmp_path / "adapt.png").stat().st_size > 0


def test_adapt_eval_resumes_an_interrupted_table_without_measuring_again(monkeypatch):
    from zeroxqa.config import AdaptConfig
    from zeroxqa.meta import adapt

    measured = []

    def fake_score(source, shots, dev_rows, cfg, reader_cfg, base_dev):
        measured.append((source, len(shots)))
        return {"f1": 50.0 + len(shots), "exact": 40.0, "HasAns_f1": 30.0}

    monkeypatch.setattr(adapt, "adapt_and_decide", fake_score)
    monkeypatch.setattr(adapt, "base_evaluation", lambda source, dev_rows, reader_cfg: "base on dev")
    train = [{"id": str(i)} for i in range(8)]
    targets = {"a": (train, []), "b": (train, [])}
    cfg = AdaptConfig(shots=[4, 0])
    saved = []
    first = adapt.adapt_eval({"meta": "m/best"}, targets, cfg, SMALL, on_row=lambda rows: saved.append(list(rows)))
    assert len(measured) == 4 and len(saved) == 4 and len(saved[1]) == 2

    measured.clear()
    resumed = adapt.adapt_eval({"meta": "m/best"}, targets, cfg, SMALL, done=saved[1])
    assert len(measured) == 2  # only the two cells the interrupted run had not finished
    assert sorted(map(adapt.cell, resumed)) == sorted(map(adapt.cell, first))
    mean = next(r for r in resumed if r["domain"] == adapt.MEAN and r["K"] == "4")
    assert mean["f1"] == 54.0

    measured.clear()
    adapt.adapt_eval({"meta": "m/last"}, targets, cfg, SMALL, done=first)  # another checkpoint: nothing reused
    assert len(measured) == 4


def test_adapt_eval_several_seeds_for_few_shots_mean_and_std(monkeypatch):
    from zeroxqa.config import AdaptConfig
    from zeroxqa.meta import adapt

    seen = []

    def fake_score(source, shots, dev_rows, cfg, reader_cfg, base_dev):
        seen.append((k_of[len(shots)], cfg.seed))
        f1 = {"a": 40.0, "b": 60.0}[shots[0]["domain"]] + (cfg.seed - 13) * 10.0  # seed 13, 14, 15: +0, +10, +20
        return {"f1": f1, "exact": f1 / 2, "HasAns_f1": f1, "span_f1": f1, "shipped": "fine-tune"}

    monkeypatch.setattr(adapt, "adapt_and_decide", fake_score)
    monkeypatch.setattr(adapt, "base_evaluation", lambda source, dev_rows, reader_cfg: "base on dev")
    k_of = {16: 16, 256: 256, 300: 0}  # 300 rows: K = 0 takes them all
    targets = {d: ([{"id": str(i), "domain": d} for i in range(300)], []) for d in ("a", "b")}
    rows = adapt.adapt_eval({"meta": "m"}, targets, AdaptConfig(shots=[16, 256, 0], seeds=3, multi_seed_max_k=64), SMALL)
    assert sorted(set(seen)) == [(0, 13), (16, 13), (16, 14), (16, 15), (256, 13)]  # several seeds for K <= 64 only
    summary = {(r["domain"], r["K"]): r for r in rows if r["seed"] is None}
    a16 = summary[("a", "16")]
    assert a16["seeds"] == 3 and a16["f1"] == pytest.approx(50.0) and a16["f1_std"] == pytest.approx(10.0)
    mean16 = summary[(adapt.MEAN, "16")]  # per seed the mean over a and b: 50, 60, 70
    assert mean16["f1"] == pytest.approx(60.0) and mean16["f1_std"] == pytest.approx(10.0) and mean16["seeds"] == 3
    assert summary[(adapt.MEAN, "all")]["seeds"] == 1 and summary[(adapt.MEAN, "all")]["f1_std"] == 0.0
    assert a16["shipped"] == "fine-tune 3"


def test_a_meta_model_and_its_joint_baseline_keep_the_base_readers_threshold(tiny_reader, tmp_path):
    """Neither has data to calibrate on; adapt-eval only raises an initialization's own threshold, so a bare
    0.0 (above a calibrated reader's, usually negative) would make them answer more than the base they are
    compared with, a difference no learning made."""
    from zeroxqa.meta.baseline import joint_baseline

    tiny_reader.card = {**tiny_reader.card, "null_threshold": -2.5, "threshold_calibrated": True}
    base = save_reader(tiny_reader, tmp_path / "base")
    cfg = small_meta(meta_epochs=1)
    result = meta_train(str(base), DOMAINS, {}, tmp_path / "meta", cfg, SMALL)
    assert load_reader(result.last_dir).null_threshold == -2.5
    joint = joint_baseline(str(base), DOMAINS, tmp_path / "joint", cfg, SMALL)
    assert load_reader(joint.model_dir).null_threshold == -2.5
