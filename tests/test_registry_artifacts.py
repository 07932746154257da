"""The promotion gate of the registry, and the content keys that stages cache on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zeroxqa.registry.artifacts import content_hash, stage_key, verify_done
from zeroxqa.config import ShardConfig
from zeroxqa.registry.store import load_registry, promote, record_meta_model


def test_promotion_gate_keeps_the_better_model(tmp_path):
    reg = tmp_path / "registry.json"
    first = promote(reg, "law", {"f1": 60.0, "model": "m1"})
    assert first.promoted and "first model" in first.reason
    worse = promote(reg, "law", {"f1": 55.0, "model": "m2"})
    assert not worse.promoted and "55.00 < current 60.00" in worse.reason
    assert load_registry(reg)["domains"]["law"]["model"] == "m1"
    tie = promote(reg, "law", {"f1": 60.0, "model": "m3"})
    assert tie.promoted
    entry = load_registry(reg)["domains"]["law"]
    assert entry["model"] == "m3" and [h["model"] for h in entry["history"]] == ["m1"]
    record_meta_model(reg, "meta/best")
    assert json.loads(reg.read_text())["meta_model"] == "meta/best" and "law" in json.loads(reg.read_text())["domains"]


def test_content_hash_follows_content_not_names_of_hidden_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"123")
    h1 = content_hash(folder)
    (folder / ".a.bin.tmp").write_bytes(b"junk")  # a temporary file beside it changes nothing
    assert content_hash(folder) == h1
    (folder / "a.bin").write_bytes(b"124")
    assert content_hash(folder) != h1


def test_stage_key_changes_with_inputs_and_config(tmp_path):
    f = tmp_path / "x.parquet"
    f.write_bytes(b"rows")
    k = stage_key("shard", [f], ShardConfig())
    assert k == stage_key("shard", [f], ShardConfig())
    assert k != stage_key("shard", [f], ShardConfig(seed=1))
    f.write_bytes(b"other rows")
    assert k != stage_key("shard", [f], ShardConfig())


def _promote_many(args: tuple[str, int, int]) -> None:
    path, worker, n = args
    for i in range(n):
        promote(path, f"w{worker}-d{i}", {"f1": 50.0, "model": f"m{worker}-{i}"})
    if worker == 0:
        record_meta_model(path, "meta")


def test_concurrent_promotions_from_several_processes_lose_none(tmp_path):
    import multiprocessing

    reg = str(tmp_path / "registry.json")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_promote_many, [(reg, w, 25) for w in range(4)])
    registry = load_registry(reg)
    assert len(registry["domains"]) == 100 and registry["meta_model"] == "meta"
    assert all(registry["domains"][f"w{w}-d{i}"]["model"] == f"m{w}-{i}" for w in range(4) for i in range(25))


def _model(folder, content: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(content)
    return str(folder)


def test_a_damaged_registered_model_is_neither_compared_against_nor_handed_out(tmp_path):
    import pytest

    from zeroxqa.pipeline import best_registered_reader

    reg = tmp_path / "registry.json"
    m1, m2 = _model(tmp_path / "m1", b"weights one"), _model(tmp_path / "m2", b"weights two")
    promote(reg, "law", {"f1": 50.0, "model": m1})
    promote(reg, "law", {"f1": 60.0, "model": m2})
    assert load_registry(reg)["domains"]["law"]["sha256"] and best_registered_reader(str(reg)) == m2

    (tmp_path / "m2" / "model.safetensors").write_bytes(b"\0" * 11)  # bytes zeroed in place
    assert best_registered_reader(str(reg)) == m1, "the intact model of the history is served instead"
    with pytest.warns(UserWarning, match="no longer matches"):
        decision = promote(reg, "law", {"f1": 55.0, "model": _model(tmp_path / "m3", b"weights three")})
    assert decision.promoted and decision.current_f1 == 50.0 and "passed over" in decision.reason
    entry = load_registry(reg)["domains"]["law"]
    assert entry["model"].endswith("m3") and "no longer matches" in entry["history"][-1]["damaged"]


def test_a_damaged_model_with_a_better_intact_predecessor_gives_way_to_it(tmp_path):
    import pytest

    reg = tmp_path / "registry.json"
    promote(reg, "law", {"f1": 70.0, "model": _model(tmp_path / "m1", b"one")})
    promote(reg, "law", {"f1": 80.0, "model": _model(tmp_path / "m2", b"two")})
    (tmp_path / "m2" / "model.safetensors").unlink()
    with pytest.warns(UserWarning, match="no longer matches"):
        decision = promote(reg, "law", {"f1": 65.0, "model": _model(tmp_path / "m3", b"three")})
    assert not decision.promoted and decision.current_f1 == 70.0
    assert load_registry(reg)["domains"]["law"]["model"].endswith("m1")


def test_a_done_stage_whose_files_changed_is_not_done_any_more(tmp_path):
    import pytest

    from zeroxqa.registry.artifacts import is_done, mark_done, verify_done

    stage = tmp_path / "stage"
    (stage / "sub").mkdir(parents=True)
    (stage / "manifest.parquet").write_bytes(b"manifest")
    (stage / "sub" / "big.bin").write_bytes(b"x" * 2_000_000)
    mark_done(stage)
    assert is_done(stage) and verify_done(stage, deep=True) == []

    big = stage / "sub" / "big.bin"
    with open(big, "r+b") as f:  # one byte flipped in place: same size, same inode, a new mtime
        f.seek(1_000_000)
        f.write(b"y")
    assert verify_done(stage) == ["sub/big.bin changed content (sha256)"]
    big.write_bytes(b"x" * 2_000_000)  # put back: matches again
    assert verify_done(stage) == []
    stat = big.stat()
    with open(big, "r+b") as f:  # flipped with its mtime put back by hand: only a deep check sees it
        f.write(b"z")
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verify_done(stage) == [] and verify_done(stage, deep=True) == ["sub/big.bin changed content (sha256)"]
    (stage / "manifest.parquet").unlink()
    with pytest.warns(UserWarning, match="manifest.parquet is missing"):
        assert not is_done(stage)
    assert not is_done(stage), "the marker is gone: the stage runs again"


def test_an_unreadable_done_marker_means_not_done(tmp_path):
    from zeroxqa.registry.artifacts import DONE, is_done, mark_done

    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "model.onnx").write_bytes(b"weights")
    mark_done(stage)
    for marker in ("{ not json", "[1, 2, 3]", '{"files": 5}', ""):
        (stage / DONE).write_text(marker)
        with pytest.warns(UserWarning, match="done-marker is unreadable"):
            assert not is_done(stage), marker


def test_verify_command_reports_a_changed_stage_and_a_damaged_model(tmp_path):
    from typer.testing import CliRunner

    from zeroxqa.registry.artifacts import mark_done
    from zeroxqa.cli import app

    run = tmp_path / "run"
    model = _model(run / "finetune" / "abc" / "model", b"weights")
    mark_done(run / "finetune" / "abc")
    promote(run / "registry.json", "law", {"f1": 50.0, "model": model})
    ok = CliRunner().invoke(app, ["verify", str(run)])
    assert ok.exit_code == 0, ok.output
    (run / "finetune" / "abc" / "model" / "model.safetensors").write_bytes(b"weightz")
    bad = CliRunner().invoke(app, ["verify", str(run)])
    assert bad.exit_code == 1 and "changed content" in bad.output and "registry: law" in bad.output


def test_a_fine_tune_from_a_short_name_has_a_key_that_follows_the_model(tmp_path, monkeypatch):
    """Onboarding with no meta model fine-tunes from 'squad': its key hashes the packaged folder."""
    from zeroxqa.reader import paths
    from zeroxqa.config import ReaderConfig, TrainConfig
    from zeroxqa.pipeline import finetune_key

    shards = tmp_path / "shards.parquet"
    shards.write_bytes(b"rows")
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    (packaged / "model.safetensors").write_bytes(b"v1")
    monkeypatch.setattr(paths, "REFERENCE_DIR", packaged)
    key = finetune_key("squad", str(shards), "law", TrainConfig(), ReaderConfig())
    (packaged / "model.safetensors").write_bytes(b"v2")
    assert finetune_key("squad", str(shards), "law", TrainConfig(), ReaderConfig()) != key


def _shard_stage_counting(args: tuple[str, str, str]) -> str:
    """Run the shard stage in this process, appending a line to `log` each time it really computes."""
    import time

    from zeroxqa import pipeline
    from zeroxqa.config import ShardConfig

    source, root, log = args
    real = pipeline.mark_done

    def counting(folder):
        time.sleep(0.5)  # a slow stage: the other runner arrives while this one computes
        with open(log, "a") as f:
            f.write(f"{folder}\n")
        real(folder)

    pipeline.mark_done = counting
    return pipeline.shard_stage([source], root, ShardConfig(), "in")


def test_two_runs_in_one_folder_compute_each_stage_once(tmp_path):
    import multiprocessing

    from zeroxqa.ingest.sample import SQUAD_THEMES

    log = tmp_path / "computed.log"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        outs = pool.map(_shard_stage_counting, [(str(SQUAD_THEMES), str(tmp_path / "runs"), str(log))] * 3)
    assert len(set(outs)) == 1  # all three runners got the same folder
    assert len(log.read_text().splitlines()) == 1  # computed once; the others waited and reused it
    assert verify_done(outs[0]) == []


@pytest.mark.parametrize("damaged", ["", "{ truncated", "[1, 2, 3]", '{"domains": 5}', '{"domains": {"law": {"f1": 1}}}'])
def test_a_damaged_registry_is_named_and_its_last_good_copy_stands_in(tmp_path, damaged):
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.registry.store import RegistryDamaged, last_good_path, load_registry, promote

    reg = tmp_path / "run" / "registry.json"
    promote(reg, "law", {"f1": 70.0, "model": _model(tmp_path / "run" / "m1", b"one")})
    good = load_registry(reg)
    reg.write_text(damaged)
    with pytest.warns(UserWarning, match="last good copy"):
        assert load_registry(reg) == good
    last_good_path(reg).unlink()
    with pytest.raises(RegistryDamaged, match=str(reg)):
        load_registry(reg)
    runner = CliRunner()
    for args in (["verify", str(reg.parent)], ["ask", "q?", "--domain", "law", "--registry", str(reg)],
                 ["serve", "--registry", str(reg)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "registry.json" in result.output and "Traceback" not in result.output, (args, result.output)


def test_verify_flags_entries_without_a_hash_or_outside_the_run(tmp_path):
    from zeroxqa.registry.artifacts import verify_run
    from zeroxqa.registry.store import save_registry

    run = tmp_path / "run"
    inside = _model(run / "m1", b"one")
    save_registry({"domains": {"a": {"model": inside, "f1": 1.0},
                               "b": {"model": "/etc", "f1": 1.0}}}, run / "registry.json")
    rows = {r["what"]: r for r in verify_run(run)}
    assert not rows["registry: a"]["ok"] and "no recorded hash" in rows["registry: a"]["problems"]
    assert not rows["registry: b"]["ok"] and "outside the run folder" in rows["registry: b"]["problems"]


def test_a_candidate_whose_stage_files_changed_is_never_registered(tmp_path):
    from zeroxqa.pipeline import register_stage
    from zeroxqa.registry.artifacts import mark_done
    from zeroxqa.registry.store import load_registry

    stage = tmp_path / "decide" / "abc"
    model = Path(_model(stage / "model", b"weights"))
    mark_done(stage)
    with open(model / "model.safetensors", "r+b") as f:
        f.write(b"W")
    decision = register_stage(str(tmp_path / "registry.json"), "law", {"f1": 70.0, "model": str(model)})
    assert not decision["promoted"] and "no longer matches" in decision["reason"]
    assert load_registry(tmp_path / "registry.json")["domains"] == {}


def test_concurrent_folder_saves_all_land_and_a_reader_never_sees_the_folder_missing(tmp_path):
    import threading

    from zeroxqa.registry.atomic import atomic_dir

    target = tmp_path / "target"
    with atomic_dir(target) as t:
        (t / "f").write_text("first")
    errors, missing, stop = [], [], threading.Event()

    def writer(k: int) -> None:
        for i in range(50):
            try:
                with atomic_dir(target) as t:
                    (t / "f").write_text(f"{k}-{i}")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    def reader() -> None:
        while not stop.is_set():
            if not target.is_dir():
                missing.append(1)

    watch = threading.Thread(target=reader)
    watch.start()
    writers = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    watch.join()
    assert errors == [] and missing == []
    assert (target / "f").read_text().endswith("-49") and [p.name for p in tmp_path.iterdir()] == ["target"]
