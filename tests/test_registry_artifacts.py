"""The promotion gate of the registry, and the content keys that stages cache on."""

from __future__ import annotations

import json

from zeroxqa.artifacts import content_hash, stage_key
from zeroxqa.config import ShardConfig
from zeroxqa.registry import load_registry, promote, record_meta_model


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
