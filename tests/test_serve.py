"""The serving API against a real uvicorn server: happy paths, every bad input, the bounded queue, the
registry watched and a promotion swapped in under a stream of requests, a broken promotion that leaves the
old model serving, and the Prometheus metrics."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serving import build_shop_index, running

from zeroxqa.config import ServeConfig
from zeroxqa.registry.store import promote, record_index


@pytest.fixture(scope="module")
def shop_index(tmp_path_factory) -> str:
    return build_shop_index(tmp_path_factory.mktemp("serve") / "shop-index")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[str, str]:
    """Two different tiny random readers saved as folders (fast to load; they answer differently)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from zeroxqa.reader.model import Reader, resolve_model_path, save_reader
    from zeroxqa.speed.export.lean import lean_reader

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("minilm"))
    folders = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=512)
        folder = tmp_path_factory.mktemp(f"tiny{seed}") / "model"
        save_reader(Reader(BertForQuestionAnswering(config), tokenizer, {"null_threshold": 0.0}), folder)
        lean_reader(folder)  # its ONNX form, made now rather than in a server's first request
        folders.append(str(folder))
    return folders[0], folders[1]


def make_registry(tmp_path: Path, model: str, index: str | None, f1: float = 50.0) -> Path:
    registry = tmp_path / "registry.json"
    promote(registry, "shop.example", {"f1": f1, "exact": 40.0, "p50_ms": 5.0, "model": model, "accepted": "torch-fp32",
                                       "report": "r.md"})
    if index:
        record_index(registry, "shop.example", index)
    return registry


def app_for(registry: Path, **overrides):
    from zeroxqa.serve.app import create_app

    return create_app(ServeConfig(registry=str(registry), threads=1, reload_interval_s=0.2, **overrides))


def test_ask_read_domains_health_docs(tmp_path, shop_index):
    registry = make_registry(tmp_path, "squad", shop_index, f1=61.5)  # the shipped reader as the promoted model
    with running(app_for(registry)) as url:
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "How many days do I have to return an item?"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "30" in body["answer"] and body["confidence"] >= 0.5 and len(body["paragraphs"]) == 3
        chosen = next(p for p in body["paragraphs"] if p["context_id"] == body["context_id"])
        assert chosen["text"][body["start"]:body["end"]] == body["answer"]
        assert body["timings"]["retrieve_ms"] > 0 and body["timings"]["read_ms"] > 0
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "When does express delivery arrive?",
                                              "top_k": 1})
        assert r.status_code == 200 and len(r.json()["paragraphs"]) == 1 and "next business day" in r.json()["answer"]

        r = httpx.post(f"{url}/v1/read", json={"question": "Where is the flagship store?",
                                               "context": "Our flagship store is in Portland, Oregon."})
        assert r.status_code == 200 and "Portland" in r.json()["answer"]

        [domain] = httpx.get(f"{url}/v1/domains").json()
        assert domain["domain"] == "shop.example" and domain["f1"] == 61.5 and domain["paragraphs"] == 6
        assert domain["variant"] == "torch-fp32" and domain["promoted_at"] and domain["error"] is None
        assert domain["loaded"] and domain["indexed"]
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "domains": 1, "loaded": 1, "errors": {}}
        assert httpx.get(f"{url}/docs").status_code == 200
        assert "/v1/ask" in httpx.get(f"{url}/openapi.json").json()["paths"]
        assert "<title>ZeroxQA</title>" in httpx.get(f"{url}/").text

        metrics = httpx.get(f"{url}/metrics").text
        assert 'zeroxqa_requests_total{domain="shop.example",endpoint="/v1/ask",status="200"} 2.0' in metrics
        assert 'zeroxqa_request_seconds_count{domain="shop.example",endpoint="/v1/ask"} 2.0' in metrics
        assert "process_resident_memory_bytes" in metrics


BAD = [
    ("/v1/ask", {"domain": "nowhere.example", "question": "q?"}, 404, "unknown domain"),
    ("/v1/ask", {"domain": "shop.example", "question": ""}, 422, "question is empty"),
    ("/v1/ask", {"domain": "shop.example", "question": "   "}, 422, "question is empty"),
    ("/v1/ask", {"domain": "shop.example"}, 422, "Field required"),
    ("/v1/ask", {"domain": "shop.example", "question": "q" * 301}, 413, "limit is 300"),
    ("/v1/ask", {"domain": "shop.example", "question": "q?", "top_k": 0}, 422, "greater than or equal to 1"),
    ("/v1/ask", {"domain": "shop.example", "question": "q?", "top_k": 11}, 422, "above the limit 10"),
    ("/v1/ask", {"domain": "", "question": "q?"}, 422, "at least 1 character"),
    ("/v1/ask", {"domain": 7, "question": "q?"}, 422, "valid string"),
    ("/v1/read", {"question": "q?", "context": ""}, 422, "context is empty"),
    ("/v1/read", {"question": "q?", "context": "c" * 2001}, 413, "limit is 2000"),
    ("/v1/read", {"question": "q?"}, 422, "Field required"),
]


def test_bad_input_gets_a_clear_4xx(tmp_path, shop_index, tiny_models):
    registry = make_registry(tmp_path, tiny_models[0], shop_index)
    with running(app_for(registry, max_question_chars=300, max_context_chars=2000, max_body_bytes=20_000)) as url:
        for path, body, status, message in BAD:
            r = httpx.post(f"{url}{path}", json=body)
            assert r.status_code == status and message in r.text, (path, body, r.status_code, r.text)
        r = httpx.post(f"{url}/v1/ask", json={"domain": "nowhere.example", "question": "q?"})
        assert r.json()["detail"]["known"] == ["shop.example"]
        r = httpx.post(f"{url}/v1/ask", content=b'{"domain": "shop.example", "question": ', headers={"content-type": "application/json"})
        assert r.status_code == 422 and "JSON decode error" in r.text
        r = httpx.post(f"{url}/v1/read", content=b"x" * 50_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "request body" in r.text
        assert httpx.get(f"{url}/v1/ask").status_code == 405
        # still serving after all of that
        assert httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"}).status_code == 200


def test_a_domain_without_an_index_is_listed_but_cannot_be_asked(tmp_path, tiny_models):
    registry = make_registry(tmp_path, tiny_models[0], index=None)
    with running(app_for(registry)) as url:
        assert httpx.get(f"{url}/v1/domains").json()[0]["paragraphs"] is None
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "q?"})
        assert r.status_code == 409 and "no retrieval index" in r.text


def test_a_full_queue_answers_503_at_once(tmp_path, shop_index, tiny_models):
    """One worker, one waiting place: with the reader blocked, a third request is refused, not queued."""
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.serve.app import create_app
    from zeroxqa.serve.store import ModelStore

    release = threading.Event()

    def slow_engine(path: str) -> QAEngine:
        engine = QAEngine.load(path, threads=1)
        inner = engine.backend

        def blocked(batch):
            release.wait(30)
            return inner(batch)

        engine.backend = blocked
        return engine

    registry = make_registry(tmp_path, tiny_models[0], shop_index)
    cfg = ServeConfig(registry=str(registry), reader=tiny_models[0], workers=1, max_queue=1, reload_interval_s=0.2)
    app = create_app(cfg, ModelStore(cfg, load_engine=slow_engine))
    with running(app) as url, ThreadPoolExecutor(2) as pool:
        ask = {"domain": "shop.example", "question": "How many days do I have to return an item?"}
        first = [pool.submit(httpx.post, f"{url}/v1/ask", json=ask, timeout=60) for _ in range(2)]
        deadline = time.time() + 10
        while app.state.admission.admitted < 2 and time.time() < deadline:
            time.sleep(0.02)
        t = time.perf_counter()
        r = httpx.post(f"{url}/v1/ask", json=ask)
        assert r.status_code == 503 and "busy" in r.text and r.headers["retry-after"] == "1"
        assert time.perf_counter() - t < 2  # refused at once
        release.set()
        assert [f.result().status_code for f in first] == [200, 200]
        assert "zeroxqa_requests_rejected_total 1.0" in httpx.get(f"{url}/metrics").text


def test_a_promotion_is_swapped_in_under_load_without_a_failed_request(tmp_path, shop_index, tiny_models):
    old, new = tiny_models
    registry = make_registry(tmp_path, old, shop_index, f1=50.0)
    app = app_for(registry)
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def stream(url: str) -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                r = client.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"})
                results.append((r.status_code, r.json().get("model", "")))

    with running(app) as url:
        threads = [threading.Thread(target=stream, args=(url,)) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before = len(results)
        decision = promote(registry, "shop.example", {"f1": 60.0, "exact": 50.0, "p50_ms": 5.0, "model": new,
                                                      "accepted": "torch-fp32", "report": "r.md"})
        assert decision.promoted
        deadline = time.time() + 20
        while not any(m == new for _, m in results[before:]) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # keep the stream going after the swap
        stop.set()
        for t in threads:
            t.join()
        metrics = httpx.get(f"{url}/metrics").text
    statuses = {s for s, _ in results}
    assert statuses == {200}, f"failed requests during the swap: {[r for r in results if r[0] != 200][:5]}"
    models = [m for _, m in results]
    assert models[:before] and set(models[:before]) == {old}
    swapped_at = models.index(new)
    assert set(models[swapped_at + 4:]) == {new}  # once swapped (allowing the 4 requests in flight), only the new one
    assert len(results) > before + 8
    swaps = [line for line in metrics.splitlines() if line.startswith("zeroxqa_model_swaps_total")]
    assert swaps == ['zeroxqa_model_swaps_total{domain="shop.example"} 1.0'], swaps  # loaded when first asked, swapped once


def test_a_promoted_model_that_fails_to_load_leaves_the_old_one_serving(tmp_path, shop_index, tiny_models):
    registry = make_registry(tmp_path, tiny_models[0], shop_index, f1=50.0)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    (broken / "model.safetensors").write_bytes(b"\0" * 64)
    with running(app_for(registry)) as url:
        assert httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "q?"}).status_code == 200  # loaded
        promote(registry, "shop.example", {"f1": 70.0, "exact": 50.0, "p50_ms": 5.0, "model": str(broken),
                                           "accepted": "torch-fp32", "report": "r.md"})
        deadline = time.time() + 15
        while not httpx.get(f"{url}/healthz").json()["errors"] and time.time() < deadline:
            time.sleep(0.1)
        health = httpx.get(f"{url}/healthz").json()
        assert str(broken) in health["errors"]["shop.example"]
        [domain] = httpx.get(f"{url}/v1/domains").json()
        assert domain["model"] == tiny_models[0] and str(broken) in domain["error"]
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"})
        assert r.status_code == 200 and r.json()["model"] == tiny_models[0]
        assert 'zeroxqa_model_load_failures_total{domain="shop.example"} 1.0' in httpx.get(f"{url}/metrics").text

    # a fresh server, whose first request loads the broken promotion: the older intact one answers instead
    with running(app_for(registry)) as url:
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"}, timeout=60)
        assert r.status_code == 200 and r.json()["model"] == tiny_models[0]
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "degraded" and str(broken) in health["errors"]["shop.example"]
