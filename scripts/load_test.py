"""Load test of a running `zeroxqa serve` (127.0.0.1 only): throughput and p50/p95/p99 latency of `/v1/read`
and `/v1/ask` at several concurrencies, errors counted, the server's resident memory (from its /metrics)
before and after each run; optionally one run during which a promotion swaps the domain's model.

    zeroxqa serve --registry runs/main/registry.json &
    python scripts/load_test.py --domain walmart.com --shards runs/main/shards-out/* --out load_test.json \
        [--swap-model DIR --registry runs/main/registry.json]

Bounded: at most --requests per run and --max-seconds per run. Writes JSON and a Markdown table (OUT.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", info)
    flags = set(re.search(r"flags\s*:\s*(.+)", info).group(1).split()) if "flags" in info else set()
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return f"{model.group(1).strip() if model else platform.processor()}; flags {' '.join(shown)}"


async def rss_mb(client: httpx.AsyncClient, url: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    found = re.search(r"^process_resident_memory_bytes ([0-9.e+]+)", text, re.M)
    return float(found.group(1)) / 2**20 if found else float("nan")


async def run(client: httpx.AsyncClient, url: str, endpoint: str, bodies: list[dict], concurrency: int, requests: int,
              max_seconds: float, during=None) -> dict:
    """`requests` requests (cycling over `bodies`) from `concurrency` workers; `during(done)` is called by
    the first worker after each of its requests (the swap hook)."""
    latencies: list[float] = []
    failures: list[str] = []
    models: list[str] = []
    next_request = 0
    started = time.perf_counter()

    async def worker(first: bool) -> None:
        nonlocal next_request
        while next_request < requests and time.perf_counter() - started < max_seconds:
            body = bodies[next_request % len(bodies)]
            next_request += 1
            t = time.perf_counter()
            try:
                r = await client.post(f"{url}{endpoint}", json=body)
                ok = r.status_code == 200
                if ok:
                    models.append(r.json().get("model", ""))
                else:
                    failures.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as e:
                failures.append(f"{type(e).__name__}: {e}")
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t) * 1e3)
            if first and during is not None:
                await during(len(latencies) + len(failures))

    before = await rss_mb(client, url)
    await asyncio.gather(*(worker(i == 0) for i in range(concurrency)))
    seconds = time.perf_counter() - started
    after = await rss_mb(client, url)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {"endpoint": endpoint, "concurrency": concurrency, "requests": len(latencies) + len(failures),
            "errors": len(failures), "throughput_rps": len(latencies) / seconds, "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)), "seconds": seconds,
            "rss_before_mb": before, "rss_after_mb": after, "first_errors": failures[:3],
            "models": sorted(set(models))}


def questions_of(shards: list[str], domain: str, limit: int = 200) -> list[dict]:
    from zeroxqa.ingest.dataset import load_rows

    rows = load_rows(shards, None, [domain])[:limit]
    if not rows:
        raise SystemExit(f"no questions of {domain!r} in {shards}")
    return rows


async def main(args: argparse.Namespace) -> dict:
    host = urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"load tests run against this machine only (127.0.0.1), not {host}")
    rows = questions_of(args.shards, args.domain)
    ask_bodies = [{"domain": args.domain, "question": r["question"]} for r in rows]
    read_bodies = [{"question": r["question"], "context": r["context"]} for r in rows]
    results = []
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:
        await client.post(f"{args.url}/v1/ask", json=ask_bodies[0])  # warm up
        for endpoint, bodies in (("/v1/read", read_bodies), ("/v1/ask", ask_bodies)):
            for c in args.concurrency:
                result = await run(client, args.url, endpoint, bodies, c, args.requests, args.max_seconds)
                print(f"{endpoint} c={c}: {result['throughput_rps']:.1f} req/s, p50 {result['p50_ms']:.0f} ms, "
                      f"p95 {result['p95_ms']:.0f} ms, errors {result['errors']}, RSS {result['rss_after_mb']:.0f} MB", flush=True)
                results.append(result)
        if args.swap_model:
            from zeroxqa.registry.store import load_registry, promote

            current = load_registry(args.registry)["domains"].get(args.domain, {})
            swapped = False

            async def swap(done: int) -> None:
                nonlocal swapped
                if not swapped and done >= args.requests // 3:
                    swapped = True
                    promote(args.registry, args.domain, {"f1": float(current.get("f1", 0)) + 0.01, "exact": 0.0,
                                                         "p50_ms": 0.0, "model": args.swap_model, "accepted": "load-test swap",
                                                         "report": ""})
                    print("promoted", args.swap_model, flush=True)

            result = await run(client, args.url, "/v1/ask", ask_bodies, 4, args.requests, args.max_seconds, during=swap)
            result["swap"] = True
            print(f"swap run: {result['requests']} requests, errors {result['errors']}, models {result['models']}", flush=True)
            results.append(result)
    return {"url": args.url, "domain": args.domain, "cpu": cpu(), "results": results}


def markdown(report: dict) -> str:
    lines = [f"Load test of {report['url']} ({report['domain']}); CPU: {report['cpu']}", "",
             "| endpoint | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | RSS before → after MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        name = r["endpoint"] + (" (model swapped during the run)" if r.get("swap") else "")
        lines.append(f"| {name} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['throughput_rps']:.1f} | "
                     f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['rss_before_mb']:.0f} → {r['rss_after_mb']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--domain", required=True)
    parser.add_argument("--shards", nargs="+", required=True, help="shard folders holding the domain's questions")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=200, help="requests per run (at most)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="seconds per run (at most)")
    parser.add_argument("--swap-model", help="a model folder promoted for the domain during one extra /v1/ask run")
    parser.add_argument("--registry", default="runs/main/registry.json")
    parser.add_argument("--out", type=Path, default=Path("load_test.json"))
    args = parser.parse_args()
    report = asyncio.run(main(args))
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
