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
