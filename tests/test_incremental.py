"""A nightly run where one domain is new or changed recomputes that domain only: every per-domain stage is
keyed on the domain's own shard files, not on the shard folder that holds them all."""

from __future__ import annotations

import json
from pathlib import Path

from zeroxqa.config import BenchConfig, ReaderConfig, RetrievalConfig, ShardConfig, SynthConfig, TrainConfig
from zeroxqa.ingest.formats import SourceSpec
from zeroxqa.ingest.shard import shard
from zeroxqa.pipeline import benchmark_key, decide_key, finetune_key, index_key, synth_key


def squad_file(folder: Path, domain: str, words: str) -> str:
    context = f"The {domain} store opens at nine and {words} closes at five."
    data = {"version": "v2.0", "data": [{"title": domain, "paragraphs": [{"context": context, "qas": [
        {"id": f"{domain}-{i}", "question": f"When does it open {i}?", "is_impossible": False,
         "answers": [{"text": "nine", "answer_start": context.index("nine")}]} for i in range(6)]}]}]}
    path = folder / f"{domain}.json"
    path.write_text(json.dumps(data))
    return f"{domain}={path}"


def keys(shards: str, domain: str, init: str, model: str) -> dict:
    return {"finetune": finetune_key(init, shards, domain, TrainConfig(), ReaderConfig()),
            "benchmark": benchmark_key(model, model, shards, domain, BenchConfig()),
            "decide": decide_key({"model": model}, init, shards, domain),
            "index": index_key(shards, domain, RetrievalConfig(encoder=init)),
            "synth": synth_key(shards, domain, init, SynthConfig())}


def test_a_new_or_changed_domain_leaves_the_others_keys_as_they_were(tmp_path):
    init = tmp_path / "init"
    init.mkdir()
    (init / "model.safetensors").write_bytes(b"weights")
    sources = {d: squad_file(tmp_path, d, "always") for d in ("a.example", "b.example")}
    before = str(shard([SourceSpec.parse(s) for s in sources.values()], tmp_path / "night1", ShardConfig()).out)
    sources["c.example"] = squad_file(tmp_path, "c.example", "always")  # a new domain arrives
    after = str(shard([SourceSpec.parse(s) for s in sources.values()], tmp_path / "night2", ShardConfig()).out)
    for d in ("a.example", "b.example"):
        assert keys(before, d, str(init), str(init)) == keys(after, d, str(init), str(init)), d
    sources["b.example"] = squad_file(tmp_path, "b.example", "sometimes")  # and one domain's data changes
    changed = str(shard([SourceSpec.parse(s) for s in sources.values()], tmp_path / "night3", ShardConfig()).out)
    assert keys(after, "a.example", str(init), str(init)) == keys(changed, "a.example", str(init), str(init))
    assert keys(after, "c.example", str(init), str(init)) == keys(changed, "c.example", str(init), str(init))
    old_b, new_b = keys(after, "b.example", str(init), str(init)), keys(changed, "b.example", str(init), str(init))
    assert all(old_b[k] != new_b[k] for k in old_b), "every stage of the changed domain runs again"
