"""The lean server: answers with torch made unimportable, loads domains on first use into a bounded LRU,
and keeps what one request may cost bounded (body size counted as it arrives, a body deadline, metric
labels and echoed names)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from serving import build_shop_index, running

from zeroxqa.config import ServeConfig
from zeroxqa.registry.store import record_index


@pytest.fixture(scope="module")
def shop_index(tmp_path_factory) -> str:
    return build_shop_index(tmp_path_factory.mktemp("lean") / "shop-index")


@pytest.fixture(scope="module")
def lean_forms() -> None:
    """The reference reader's and the encoder's ONNX forms, made here (this process may import torch)."""
    from zeroxqa.speed.export.lean import lean_encoder, lean_reader

    lean_reader("squad"), lean_encoder("minilm")


def registry_of(tmp_path: Path, index: str, domains: list[str]) -> Path:
    registry = tmp_path / "registry.json"
    for d in domains:
        record_index(registry, d, index)
    return registry


BLOCKED_SERVER = textwrap.dedent("""
    import importlib.abc, json, sys

    BLOCKED = {"torch", "transformers", "sentence_transformers", "optimum"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, Block())
    from fastapi.testclient import TestClient

    from zeroxqa.config import ServeConfig
    from zeroxqa.serve.app import create_app

    app = create_app(ServeConfig(registry=sys.argv[1], threads=1))
    with TestClient(app) as client:
        read = client.post("/v1/read", json={"question": "Where is the flagship store?",
                                             "context": "Our flagship store is in Portland, Oregon."})
        asked = client.post("/v1/ask", json={"domain": "shop.example", "question": "How many days do I have to return an item?"})
    print(json.dumps({"read": [read.status_code, read.json().get("answer")], "ask": [asked.status_code, asked.json().get("answer")],
                      "heavy": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
""")


def test_the_server_answers_with_torch_unimportable(tmp_path, shop_index, lean_forms):
    registry = registry_of(tmp_path, shop_index, ["shop.example"])
    script = tmp_path / "blocked_server.py"
    script.write_text(BLOCKED_SERVER)
    done = subprocess.run([sys.executable, str(script), str(registry)], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["read"][0] == 200 and "Portland" in result["read"][1]
    assert result["ask"][0] == 200 and "30" in result["ask"][1]
    assert result["heavy"] == []


def test_domains_load_on_first_use_and_the_least_recently_used_is_unloaded(tmp_path, shop_index, lean_forms):
    from zeroxqa.serve.store import ModelStore

    registry = registry_of(tmp_path, shop_index, ["a.example", "b.example", "c.example"])
    store = ModelStore(ServeConfig(registry=str(registry), threads=1, max_loaded=2))
    store.refresh(force=True)
    assert store.loaded() == [] and sorted(store.domains()) == ["a.example", "b.example", "c.example"]
    for d in ("a.example", "b.example", "c.example"):
        assert store.get(d).index is not None
    assert store.loaded() == ["b.example", "c.example"] and store.evictions == 1
    store.get("b.example")  # used: now the most recent
    store.get("a.example")  # reloaded; c is the least recently used
    assert store.loaded() == ["b.example", "a.example"] and store.loads == 4 and store.evictions == 2
    assert len(store._engines) == 1  # every domain answers with the default reader: one engine, shared
    assert store.get("nowhere.example") is None and "nowhere.example" not in store.loaded()


def _raw_request(port: int, head: bytes, body: bytes, wait: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        time.sleep(wait)
        return s.recv(65536)


def test_what_a_request_may_cost_is_bounded(tmp_path, shop_index, lean_forms):
    from zeroxqa.serve.app import create_app

    registry = registry_of(tmp_path, shop_index, ["shop.example"])
    cfg = ServeConfig(registry=str(registry), threads=1, max_body_bytes=100_000, body_timeout_s=1.0)
    with running(create_app(cfg)) as url:
        port = int(url.rsplit(":", 1)[1])
        # a Content-Length over the limit: refused unread
        r = httpx.post(f"{url}/v1/read", content=b"x" * 200_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "limit is 100000" in r.text
        # a chunked body (no Content-Length): cut off once it passes the limit
        r = httpx.post(f"{url}/v1/read", content=(b"x" * 10_000 for _ in range(100)), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "over 100000 bytes" in r.text
        # a body that promises more than it sends: 408 after the deadline, not a connection held forever
        head = (b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        t = time.perf_counter()
        answer = _raw_request(port, head, b'{"question": ', wait=2.0)
        assert answer.startswith(b"HTTP/1.1 408") and time.perf_counter() - t < 5
        # invalid text and numbers JSON cannot hold: 422, as JSON
        r = httpx.post(f"{url}/v1/read", content=b'{"question": "\\ud800?", "context": "A paragraph."}',
                       headers={"content-type": "application/json"})
        assert r.status_code == 422 and "lone surrogate" in r.json()["detail"][0]["msg"]
        r = httpx.post(f"{url}/v1/ask", content=b'{"domain": "shop.example", "question": "q?", "top_k": 1e400}',
                       headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "top_k"]
        # unknown domains: echoed short, never a metric label, never loaded
        r = httpx.post(f"{url}/v1/ask", json={"domain": "n" * 150, "question": "q?"})
        assert r.status_code == 404 and len(r.text) < 600 and "(150 characters)" in r.text
        r = httpx.post(f"{url}/v1/ask", json={"domain": "n" * 5_000, "question": "q?"})
        assert r.status_code == 422 and len(r.text) < 1_000
        for i in range(30):
            assert httpx.post(f"{url}/v1/ask", json={"domain": f"nowhere-{i}.example", "question": "q?"}).status_code == 404
        metrics = httpx.get(f"{url}/metrics").text
        assert "nowhere-" not in metrics
        assert 'zeroxqa_requests_total{domain="other",endpoint="/v1/ask",status="404"} 31.0' in metrics
        health = httpx.get(f"{url}/healthz").json()
        assert health == {"status": "ok", "domains": 1, "loaded": 0, "errors": {}}
        # and it still answers
        r = httpx.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"}, timeout=30)
        assert r.status_code == 200 and r.json()["paragraphs"][0]["similarity"] > 0


def test_register_and_index_every_domain_of_a_shard_folder(tmp_path, lean_forms):
    from typer.testing import CliRunner

    from zeroxqa.cli import app
    from zeroxqa.serve.catalog import read_catalog

    shard = tmp_path / "shards"
    runner = CliRunner()
    sample = Path(__file__).parent / "fixtures" / "shop_paragraphs.jsonl"
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(json.dumps({"context": f"Paragraph {i} of the other domain, about tea and biscuits."})
                               for i in range(3)) + "\n")
    r = runner.invoke(app, ["shard", f"shop.example={sample}", f"other.example={other}", "--out", str(shard)])
    assert r.exit_code == 0, r.output
    registry = tmp_path / "registry.json"
    r = runner.invoke(app, ["index", str(shard), "--out", str(tmp_path / "indexes"), "--registry", str(registry)])
    assert r.exit_code == 0, r.output
    catalog = read_catalog(registry, "squad")
    assert sorted(catalog) == ["other.example", "shop.example"]
    assert all(Path(e.index, "index.json").is_file() for e in catalog.values())
    r = runner.invoke(app, ["register", "--domain", "tea.example", "--index", str(tmp_path / "indexes" / "other.example"),
                            "--model", "squad", "--registry", str(registry)])
    assert r.exit_code == 0, r.output
    entry = read_catalog(registry, "squad")["tea.example"]
    assert entry.index and Path(entry.model).is_dir() and entry.sha256
    r = runner.invoke(app, ["register", "--domain", "x.example", "--index", str(tmp_path), "--registry", str(registry)])
    assert r.exit_code == 2 and "not a retrieval index" in r.output
