"""The Prefect flows on a tiny config: end to end, nothing recomputed on a second run, a failed stage retried
without recomputing the stages before it, an event's payload as the onboarding parameters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pytest

from zeroxqa import pipeline
from zeroxqa.config import AdaptLMConfig, BenchConfig, MetaConfig, ReaderConfig, RetrainParams, SynthConfig, TrainConfig
from zeroxqa.ingest.sample import POLICY_SITES, POLICY_UNLABELED, SQUAD_THEMES

STAGES = ("shard_stage", "meta_stage", "synth_stage", "adapt_lm_stage", "finetune_stage", "quantize_stage", "benchmark_stage",
          "decide_stage", "index_stage")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    import os

    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(tmp_path_factory.mktemp("prefect-storage"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):  # a busy 2-core machine needs more than 30 s
        yield


@pytest.fixture(autouse=True)
def out_root(tmp_path, monkeypatch):
    """Event-triggered runs write under $ZEROXQA_OUT_ROOT only: here, the test's own folder."""
    monkeypatch.setenv("ZEROXQA_OUT_ROOT", str(tmp_path))


@pytest.fixture
def calls(monkeypatch):
    """Count the stages' real work: every stage marks its output folder done once it has computed it; one
    that finds its output done, or that Prefect serves from its cache, computes nothing."""
    counts = {name: 0 for name in STAGES}
    real = pipeline.mark_done

    def spy(folder):
        stage = Path(folder).parent.name
        counts["shard_stage" if stage.startswith("shards-") else f"{stage}_stage"] += 1
        real(folder)

    monkeypatch.setattr(pipeline, "mark_done", spy)
    return counts


def one_site(tmp_path) -> str:
    doc = json.loads(POLICY_SITES.read_text())
    doc["data"] = [{**doc["data"][0], "paragraphs": doc["data"][0]["paragraphs"][:4]}]
    path = tmp_path / "site.json"
    path.write_text(json.dumps(doc))
    return str(path)


def tiny_params(tiny_dir, tmp_path) -> RetrainParams:
    return RetrainParams(
        in_domain_sources=[str(SQUAD_THEMES)], out_domain_sources=[one_site(tmp_path), str(POLICY_UNLABELED)],
        out=str(tmp_path / "runs"), base=str(tiny_dir), meta_learn=True, val_domains=["Normans"],
        reader=ReaderConfig(max_length=128, doc_stride=32),
        meta=MetaConfig(meta_epochs=1, meta_steps_per_epoch=1, tasks_per_batch=1, inner_steps=1, adapt_shots=4,
                        adapt_steps=1, workers=0, threads=1),
        finetune=TrainConfig(epochs=1, max_steps=2, batch_size=4),
        bench=BenchConfig(latency_questions=2, warmup=0, max_questions=6, batch_size=4, threads=1, hf_pipeline=False,
                          only=["onnx-int8"]),  # the per-domain gate, as the main job runs it
        # a random reader finds nothing: keep every generated pair so the paragraph-only domain goes all the way
        synth=SynthConfig(ner_limit=1, min_f1=0, min_confidence=0, negative_ratio=0.25),
    )


def test_retrain_without_meta_learning_fine_tunes_from_the_base_reader(harness, calls, tiny_reader, tmp_path):
    """`meta_learn` off (the default): no in-domain shards, no meta-train stage; every out-domain starts from
    `base`, and the registry names it as the initialization later onboardings start from."""
    from flows.retrain import retrain
    from zeroxqa.reader.model import save_reader

    tiny_dir = save_reader(tiny_reader, tmp_path / "tiny")
    result = retrain(tiny_params(tiny_dir, tmp_path).model_copy(update={"meta_learn": False}))
    assert calls["meta_stage"] == 0 and calls["shard_stage"] == 1 and calls["finetune_stage"] == 2
    assert len(result["shards"]) == 1 and "shards-out" in result["shards"][0]
    assert result["meta_model"] == str(tiny_dir)
    for domain, model in result["models"].items():
        assert json.loads((Path(model) / "zeroxqa_card.json").read_text())["init"] == str(tiny_dir), domain
    registry = json.loads((tmp_path / "runs" / "registry.json").read_text())
    assert registry["meta_model"] == str(tiny_dir)


RAY_FLOW = """
import json, sys
import ray
from ray.util.state import list_tasks

from flows.retrain import retrain
from zeroxqa.config import RetrainParams

if __name__ == "__main__":
    params = RetrainParams.model_validate_json(open(sys.argv[1]).read())
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        result = retrain(params)
        ran = sorted({t.name for t in list_tasks(limit=10_000)})
    finally:
        ray.shutdown()
    print(json.dumps({"models": result["models"], "ran": ran}))
"""


def test_each_domains_chain_runs_as_ray_tasks(tiny_reader, tmp_path):
    """`runner.ray`: fine-tune, int8, gate, decision and registration of every domain run as Ray tasks (named
    as the Prefect tasks are), on the Ray the process started; the registry gets every domain. In a process
    of its own, as a user runs it (and so that this process's Ray state stays untouched)."""
    import subprocess
    import sys

    pytest.importorskip("ray")
    from zeroxqa.config import DomainRunner
    from zeroxqa.reader.model import save_reader

    doc = json.loads(POLICY_SITES.read_text())
    doc["data"] = [{**d, "paragraphs": d["paragraphs"][:3]} for d in doc["data"][:2]]
    (tmp_path / "sites.json").write_text(json.dumps(doc))
    tiny_dir = save_reader(tiny_reader, tmp_path / "tiny")
    params = tiny_params(tiny_dir, tmp_path).model_copy(update={
        "meta_learn": False, "out_domain_sources": [str(tmp_path / "sites.json")],
        "runner": DomainRunner(ray=True, cpus_per_domain=1, memory_gb_per_domain=0.5)})
    (tmp_path / "params.json").write_text(params.model_dump_json())
    (tmp_path / "ray_flow.py").write_text(RAY_FLOW)
    root = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    run = subprocess.run([sys.executable, str(tmp_path / "ray_flow.py"), str(tmp_path / "params.json")], cwd=root,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"fine-tune", "quantize", "benchmark", "decide", "register"} <= set(result["ran"]), result["ran"]
    registry = json.loads((tmp_path / "runs" / "registry.json").read_text())
    assert set(registry["domains"]) == set(result["models"]) == {d["title"] for d in doc["data"]}


def test_retrain_end_to_end_then_cached_then_onboarding(harness, calls, tiny_reader, tmp_path):
    from flows.onboard import onboard_domain
    from flows.retrain import retrain
    from zeroxqa.reader.model import save_reader

    tiny_dir = save_reader(tiny_reader, tmp_path / "tiny")
    # with self-supervised domain adaptation: each out-domain's fine-tune starts from the meta model adapted to its text
    params = tiny_params(tiny_dir, tmp_path).model_copy(update={"adapt_lm": AdaptLMConfig(
        steps=2, batch_size=2, max_length=64, device="cpu", precision="fp32")})
    first = retrain(params)
    once = {"shard_stage": 2, "meta_stage": 1, "synth_stage": 1, "adapt_lm_stage": 2, "finetune_stage": 2, "quantize_stage": 2,
            "benchmark_stage": 2, "decide_stage": 2, "index_stage": 2}
    assert calls == once
    for domain, model in first["models"].items():
        card = json.loads((Path(model) / "zeroxqa_card.json").read_text())
        assert Path(card["init"]).parent.parent.name == "adapt_lm", (domain, card["init"])
    registry = json.loads((tmp_path / "runs" / "registry.json").read_text())
    assert set(registry["domains"]) == {"ted.com", "yahoo.com"} and registry["meta_model"] == first["meta_model"]
    # each out-domain's retrieval index, named in the registry: what serving answers its questions from
    assert {d: v["index"] for d, v in registry["indexes"].items()} == first["indexes"]
    assert set(first["indexes"]) == {"ted.com", "yahoo.com"}
    assert all((Path(i) / "index.json").exists() for i in first["indexes"].values())
    assert all(p["promoted"] for p in first["promotions"])
    report = (tmp_path / "runs" / "report.md").read_text()
    assert "| ted.com | " in report and "| dev |" in report and "| synthetic dev |" in report
    # the base is always a candidate: each domain's report says what shipped, against the base, and why
    for p in first["promotions"]:
        assert p["reason"].startswith("promoted: ") and "reader" in p["reason"], p
    assert "base F1" in report and "always abstain F1" in report and "Why each domain ships" in report
    for domain in ("ted.com", "yahoo.com"):
        entry = registry["domains"][domain]
        assert entry["shipped"] in ("adapted", "base", "threshold") and len(entry["f1_per_question"]) > 0
    synthetic = first["synthetic"]["yahoo.com"]
    # filtered by the base reader, which no other domain changes (runs stay incremental)
    assert json.loads((Path(synthetic) / "synth.json").read_text())["reader"] == str(tiny_dir)

    # the graph reads like the DAG: every task run says what it works on
    from prefect.client.orchestration import get_client

    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # send the logs still batched
    with get_client(sync_client=True) as client:
        names = {t.name for t in client.read_task_runs()}
        logs = [log.message for log in client.read_logs()]
    # long stages report their progress in the run log, from isolated child processes too
    assert any(m.startswith("train: 2/2 steps (100%)") for m in logs), logs
    assert any(m.startswith("meta-epoch 1: 1/1 meta-steps (100%)") for m in logs), logs
    assert any(m.startswith("epoch 1: step 2, dev F1") for m in logs), logs
    assert {"shard-in", "shard-out", "meta-train", "adapt-lm-ted.com", "fine-tune-ted.com", "synthesize-yahoo.com",
            "quantize-ted.com", "quantize-yahoo.com", "benchmark-ted.com", "decide-ted.com", "register-ted.com", "register-yahoo.com",
            "index-ted.com", "index-yahoo.com", "record-index-yahoo.com", "report"} <= names, names

    second = retrain(params)
    assert calls == once
    assert second["models"] == first["models"]
    assert not second["promotions"][0]["promoted"] or second["promotions"][0]["candidate_f1"] >= second["promotions"][0]["current_f1"]

    # a domain arrives: the event's payload, rendered like Prefect renders the trigger's parameters
    from deployments.triggers import ONBOARD_PARAMETERS

    payload = {"domain": "walmart.com", "labeled": str(POLICY_SITES), "paragraphs": None, "out": str(tmp_path / "runs")}
    rendered = {k: jinja2.Template(v).render(event={"payload": payload}) for k, v in ONBOARD_PARAMETERS.items()}
    assert rendered["domain"] == "walmart.com" and rendered["labeled"] == str(POLICY_SITES)
    result = onboard_domain(**rendered, finetune=params.finetune, reader=params.reader, bench=params.bench)
    registry = json.loads((tmp_path / "runs" / "registry.json").read_text())
    assert set(registry["domains"]) == {"ted.com", "yahoo.com", "walmart.com"}
    assert registry["indexes"]["walmart.com"]["index"] == result["index"]
    assert result["model"].startswith(str(tmp_path / "runs" / "finetune"))
    with get_client(sync_client=True) as client:  # the onboarding reports its result in Prefect too
        artifacts = {a.key: a for a in client.read_artifacts()}
    assert "walmart.com" in artifacts["zeroxqa-onboard-walmart-com"].data
    assert artifacts["zeroxqa-onboard-walmart-com-benchmark"].type == "table"

    # a domain that arrives as paragraphs only is trained on synthetic QA, filtered by the best registered reader
    result = onboard_domain(domain="acme", labeled=None, paragraphs=str(POLICY_UNLABELED), out=str(tmp_path / "runs"),
                            finetune=params.finetune, reader=params.reader, bench=params.bench, synth=params.synth)
    assert result["benchmark"]["eval_data"] == "synthetic dev" and result["promotion"]["promoted"]


def test_a_partial_override_keeps_the_jobs_other_settings():
    from flows.retrain import retrain

    default = RetrainParams()
    params = retrain.validate_parameters({"params": {"meta": {"meta_epochs": 3}, "reader": {"max_length": 256}}})["params"]
    assert params.meta.meta_epochs == 3
    assert params.meta.model_dump(exclude={"meta_epochs"}) == default.meta.model_dump(exclude={"meta_epochs"})
    assert params.meta.workers == 2 and params.meta.meta_steps_per_epoch == 6  # not MetaConfig's 0 and 10
    assert params.reader.max_length == 256 and params.reader.doc_stride == default.reader.doc_stride


def test_failed_stage_retried_does_not_recompute_earlier_stages(harness, calls, tiny_reader, tmp_path, monkeypatch):
    from flows.retrain import retrain
    from zeroxqa.reader.model import save_reader

    params = tiny_params(save_reader(tiny_reader, tmp_path / "tiny"), tmp_path)
    # one labelled site is enough here (the paragraph-only domain's stages are covered above); keeps the suite short
    params = params.model_copy(update={"out_domain_sources": params.out_domain_sources[:1]})
    real_quantize = pipeline.quantize_stage

    def broken(*args, **kwargs):
        raise RuntimeError("killed during quantize")

    monkeypatch.setattr(pipeline, "quantize_stage", broken)
    with pytest.raises(RuntimeError, match="killed during quantize"):
        retrain(params)
    done_before = dict(calls)
    assert done_before["meta_stage"] == 1 and done_before["finetune_stage"] == 1 and done_before["quantize_stage"] == 0

    monkeypatch.setattr(pipeline, "quantize_stage", real_quantize)
    retrain(params)
    assert calls["meta_stage"] == 1 and calls["finetune_stage"] == 1 and calls["shard_stage"] == 2
    assert calls["quantize_stage"] == 1 and calls["benchmark_stage"] == 1


def test_a_cached_stage_whose_output_is_gone_runs_again(harness, tmp_path):
    """Prefect's cache records live apart from the artifacts (~/.prefect); a fresh clone or a deleted run
    folder must not get a cached path that no longer exists."""
    import shutil

    from prefect import flow

    from tasks import stages
    from zeroxqa.config import ShardConfig

    @flow
    def shard_only(root: str) -> tuple[str, str]:
        state = stages.shard([str(SQUAD_THEMES)], root, ShardConfig(), "in", return_state=True)
        return state.name, state.result()

    root = tmp_path / "runs"
    runs = [shard_only(str(root)) for _ in range(3)]
    assert [name for name, _ in runs] == ["Completed", "Completed", "Cached"]  # Prefect caches once the output is done
    assert len({path for _, path in runs}) == 1
    shutil.rmtree(root)
    name, path = shard_only(str(root))
    assert name == "Completed" and path == runs[0][1] and (Path(path) / "manifest.parquet").exists()


def test_onboarding_without_labels_fails_clearly(harness, tmp_path):
    from flows.onboard import onboard_domain

    with pytest.raises(ValueError, match="paragraphs only"):
        onboard_domain(domain="yahoo.com", labeled="None", paragraphs=str(POLICY_UNLABELED), out=str(tmp_path / "runs"))


@pytest.mark.parametrize("payload, message", [
    ({"domain": "acme", "labeled": "PATH", "out": "/etc/zeroxqa"}, "lies outside"),
    ({"domain": "acme", "labeled": "/nonexistent/file.json", "out": None}, "not an existing file"),
    ({"domain": "acme", "labeled": "/etc", "out": None}, "not an existing file"),
    ({"domain": "../../x", "labeled": "PATH", "out": None}, "not a domain name"),
])
def test_an_event_payload_cannot_choose_where_the_flow_writes_or_what_it_reads(tmp_path, payload, message):
    import jinja2

    from deployments.triggers import ONBOARD_PARAMETERS
    from zeroxqa.errors import InputError
    from zeroxqa.watch import onboard_inputs

    payload = {"paragraphs": None, **payload, "labeled": payload["labeled"].replace("PATH", str(POLICY_SITES))}
    rendered = {k: jinja2.Template(v).render(event={"payload": payload}) for k, v in ONBOARD_PARAMETERS.items()}
    with pytest.raises(InputError, match=message):
        onboard_inputs(**rendered)
    ok = onboard_inputs("acme", str(POLICY_SITES), "None", str(tmp_path / "runs"))
    assert ok == (str(POLICY_SITES), None, str(tmp_path / "runs"))


def test_watch_announces_each_new_file_once(tmp_path):
    from zeroxqa.watch import watch

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "privacy.txt").write_text("We collect data.\n\nWe share nothing.\n")
    (inbox / "site.json").write_text(POLICY_SITES.read_text())
    sent: list[dict] = []
    watch(inbox, "runs/x", emit=sent.append, once=True, log=lambda m: None)
    assert [(p["domain"], bool(p["labeled"]), bool(p["paragraphs"])) for p in sent] == [("privacy", False, True), ("site", True, False)]
    assert watch(inbox, "runs/x", emit=sent.append, once=True, log=lambda m: None) == []
    assert all(Path(p["out"]).is_absolute() for p in sent)  # the flow's artifacts do not depend on the worker's folder


def test_emit_domain_refuses_a_file_that_does_not_exist(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from zeroxqa import watch
    from zeroxqa.cli import app

    emitted: list[dict] = []
    monkeypatch.setattr(watch, "emit_domain_arrived", emitted.append)
    result = CliRunner().invoke(app, ["emit-domain", "--domain", "acme", "--labeled", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "missing.json" in result.output and "no such file" in result.output
    assert CliRunner().invoke(app, ["emit-domain", "--domain", "acme"]).exit_code == 2
    assert emitted == []
    (tmp_path / "site.json").write_text(POLICY_SITES.read_text())
    result = CliRunner().invoke(app, ["emit-domain", "--domain", "acme", "--labeled", str(tmp_path / "site.json")])
    assert result.exit_code == 0 and emitted[0]["labeled"] == str(tmp_path / "site.json") and Path(emitted[0]["out"]).is_absolute()
