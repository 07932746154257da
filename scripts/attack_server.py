"""Hostile requests against a real `zeroxqa serve` on 127.0.0.1 (bounded: nothing leaves the machine, no
request is repeated more than 1,500 times), with the server's RSS before and after each: what one client
can make the server spend. Prints a table (and writes it as JSON with --out).

    python scripts/attack_server.py [--out attack.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from zeroxqa.serve.loadtest import free_port, rss_mb, start_server, stop_server

SHOP = Path(__file__).parents[1] / "tests" / "fixtures" / "shop_paragraphs.jsonl"


def raw_exchange(port: int, data: bytes, read_timeout: float = 30) -> tuple[bytes, float]:
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        try:
            answer = s.recv(65536)
        except socket.timeout:
            answer = b"(no answer)"
    return answer, time.perf_counter() - t


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def chunked_body(total: int, chunk: int = 1 << 20):
    sent = 0
    while sent < total:
        yield b"x" * chunk
        sent += chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from zeroxqa.config import RetrievalConfig
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.registry.store import record_index
    from zeroxqa.retrieval.index import DomainIndex

    work = Path(tempfile.mkdtemp(prefix="zeroxqa-attack-"))
    DomainIndex.build("shop.example", load_paragraphs([str(SHOP)]), RetrievalConfig()).save(work / "index")
    record_index(work / "registry.json", "shop.example", str(work / "index"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc, _ = start_server([sys.executable, "-m", "zeroxqa", "serve", "--registry", str(work / "registry.json"),
                            "--port", str(port)], url)
    rows = []

    def attack(name: str, fn) -> None:
        before = rss_mb(proc.pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss_mb(proc.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        t = time.perf_counter()
        try:
            outcome = fn()
        finally:
            done.set()
            sampler.join()
        rows.append({"attack": name, "outcome": outcome, "seconds": round(time.perf_counter() - t, 2),
                     "rss_before_mb": round(before), "rss_peak_mb": round(peak[0]), "rss_after_mb": round(rss_mb(proc.pid))})
        print(f"{name:<48} {outcome:<40} RSS {before:.0f} -> peak {peak[0]:.0f} -> {rss_mb(proc.pid):.0f} MB", flush=True)

    try:
        with httpx.Client(timeout=60) as client:
            client.post(f"{url}/v1/ask", json={"domain": "shop.example", "question": "Do gift cards expire?"})  # warm

            def unknown_domains() -> str:
                statuses = {}
                for i in range(1500):
                    r = client.post(f"{url}/v1/ask", json={"domain": f"nowhere-{i}-" + "x" * (i % 150), "question": "q?"})
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                return f"{statuses}, /metrics {len(client.get(f'{url}/metrics').content) // 1024} KB"

            def chunked_300mb() -> str:
                r = client.post(f"{url}/v1/read", content=chunked_body(300 << 20), headers={"content-type": "application/json"})
                return f"{r.status_code} {r.json()['detail'][:40]}"

            def long_name() -> str:
                r = client.post(f"{url}/v1/ask", json={"domain": "n" * 50_000, "question": "q?"})
                return f"{r.status_code}, {len(r.content)} bytes back"

            def surrogate() -> str:
                r = client.post(f"{url}/v1/read", content=b'{"question": "\\ud800?", "context": "A paragraph."}',
                                headers={"content-type": "application/json"})
                return f"{r.status_code} {r.headers['content-type']}"

            def huge_number() -> str:
                r = client.post(f"{url}/v1/ask", content=b'{"domain": "shop.example", "question": "q?", "top_k": 1e400}',
                                headers={"content-type": "application/json"})
                return f"{r.status_code} {r.headers['content-type']}"

            def promised_body() -> str:
                head = b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                answer, seconds = raw_exchange(port, head + b'{"question": ')
                return f"{status_line(answer)} after {seconds:.1f} s"

            def declared_10mb() -> str:
                head = b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
                answer, seconds = raw_exchange(port, head)
                return f"{status_line(answer)} after {seconds:.2f} s"

            attack("1,500 unknown domains on /v1/ask", unknown_domains)
            attack("300 MB chunked body on /v1/read", chunked_300mb)
            attack("50,000-character domain name", long_name)
            attack("lone surrogate in the question", surrogate)
            attack("top_k: 1e400", huge_number)
            attack("Content-Length 1000, 13 bytes sent", promised_body)
            attack("Content-Length 10 MB, nothing sent", declared_10mb)
            health = client.get(f"{url}/healthz").json()
            print(f"afterwards: /healthz {health['status']}, "
                  f"/v1/ask {client.post(f'{url}/v1/ask', json={'domain': 'shop.example', 'question': 'Do gift cards expire?'}).status_code}")
    finally:
        stop_server(proc)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
