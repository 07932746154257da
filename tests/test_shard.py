"""Sharding: manifest counts, splits by context, determinism, atomic and clean outputs."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from zeroxqa.cli import app
from zeroxqa.config import ShardConfig
from zeroxqa.ingest.formats import SourceSpec
from zeroxqa.ingest.sample import sample_files
from zeroxqa.ingest.shard import shard
from zeroxqa.ingest.splits import assign_splits


def test_sample_shards_reconcile_and_manifest_counts(tmp_path):
    result = shard([SourceSpec(p) for p in sample_files()], tmp_path)
    manifest = {r["domain"]: r for r in result.manifest.to_pylist()}
    assert set(manifest) == {"Normans", "Steam_engine", "Immune_system", "Warsaw", "Harvard_University", "Force",
                             "ted.com", "walmart.com", "yahoo.com"}
    assert manifest["yahoo.com"]["kind"] == "paragraphs"
    for m in manifest.values():
        rows = pq.read_table(tmp_path / m["file"]).to_pylist()
        assert m["rows"] == len(rows) == m["train"] + m["dev"]
        assert m["contexts"] == len({r["context_id"] for r in rows})
        if m["kind"] == "qa":
            assert m["answerable"] == sum(not r["is_impossible"] for r in rows)
            assert m["unanswerable"] == sum(r["is_impossible"] for r in rows)
    recon = result.reconciliation.to_pylist()
    assert sum(r["read"] for r in recon) == sum(m["rows"] for m in manifest.values()) + result.quarantined
    assert json.loads((tmp_path / "manifest.json").read_text())["shards"][0]["sha256"]


def test_splits_are_by_context_and_deterministic(tmp_path):
    a = shard([SourceSpec(p) for p in sample_files()], tmp_path / "a")
    b = shard([SourceSpec(p) for p in reversed(sample_files())], tmp_path / "b")
    assert a.manifest.column("sha256").to_pylist() == b.manifest.column("sha256").to_pylist()
    for f in a.manifest.column("file").to_pylist():
        rows = pq.read_table(tmp_path / "a" / f).to_pylist()
        sides: dict[str, set] = {}
        for r in rows:
            sides.setdefault(r["context_id"], set()).add(r["split"])
        assert all(len(s) == 1 for s in sides.values()), "a context straddles train and dev"
        assert {"train", "dev"} <= {r["split"] for r in rows}
    c = shard([SourceSpec(p) for p in sample_files()], tmp_path / "c", ShardConfig(seed=14))
    assert c.manifest.column("sha256").to_pylist() != a.manifest.column("sha256").to_pylist()


def test_assign_splits_edge_cases():
    assert assign_splits(["x"], domain="d", dev_fraction=0.5, seed=1) == {"x": "train"}
    sides = assign_splits([f"c{i}" for i in range(10)], domain="d", dev_fraction=0.2, seed=1)
    assert list(sides.values()).count("dev") == 2
    assert assign_splits([f"c{i}" for i in range(10)], domain="d", dev_fraction=0.2, seed=1) == sides


def test_stale_shards_are_removed_and_no_temp_files_left(tmp_path):
    shard([SourceSpec(p) for p in sample_files()], tmp_path)
    shard([SourceSpec(sample_files()[1])], tmp_path)
    assert sorted(p.name for p in (tmp_path / "qa").iterdir()) == ["ted.com.parquet", "walmart.com.parquet"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_cli_shard_prints_reconciliation_and_fails_clearly(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["shard", *map(str, sample_files()), "--out", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output
    assert "read 611 = kept 611 + quarantined 0" in ok.output
    (tmp_path / "empty.csv").write_text("")
    bad = runner.invoke(app, ["shard", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "empty.csv: file is empty" in bad.output


def test_atomic_writes_get_the_umask_mode_not_tempfiles_private_one(tmp_path):
    import os
    import stat

    from zeroxqa.registry.atomic import DIR_MODE, FILE_MODE, atomic_dir, write_text

    umask = os.umask(0o022)
    os.umask(umask)
    assert (FILE_MODE, DIR_MODE) == (0o666 & ~umask, 0o777 & ~umask)
    f = write_text("x", tmp_path / "a.txt")
    with atomic_dir(tmp_path / "model") as d:
        (d / "w.bin").write_bytes(b"0")
    # tempfile's own modes were 0600 / 0700: with the usual umask 022 nobody else could read an artifact
    assert stat.S_IMODE(f.stat().st_mode) == FILE_MODE
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == DIR_MODE


def test_long_non_ascii_domain_names_fit_a_file_name_in_bytes():
    from zeroxqa.ingest.naming import safe_names

    long_a, long_b = "Ж" * 300, "Ж" * 299 + "Я"  # 600 bytes each, the same first 60 characters
    names = safe_names([long_a, long_b, "日本語のテーマ" * 40])
    assert len(set(names.values())) == 3
    assert all(len((n + ".parquet").encode("utf-8")) <= 255 for n in names.values())


def test_a_held_out_domain_goes_to_dev_whole_and_an_unknown_one_is_refused(tmp_path):
    result = shard([SourceSpec(p) for p in sample_files()], tmp_path / "o", ShardConfig(dev_domains=["Force"]))
    manifest = {r["domain"]: r for r in result.manifest.to_pylist()}
    assert manifest["Force"]["train"] == 0 and manifest["Force"]["dev"] == manifest["Force"]["rows"] > 0
    assert manifest["Warsaw"]["train"] > 0 and manifest["Warsaw"]["dev"] > 0, "the other domains split as before"
    bad = CliRunner().invoke(app, ["shard", *map(str, sample_files()), "--dev-domain", "Forse", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "--dev-domain Forse: no such domain" in bad.output and "Force" in bad.output
    assert not (tmp_path / "b").exists()
