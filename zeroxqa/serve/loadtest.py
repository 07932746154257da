"""The load test (`zeroxqa loadtest`): ZeroxQA's server beside a peer measured in the same run, the Hugging
Face `pipeline("question-answering")` on the same weights behind a minimal FastAPI app
(`zeroxqa.serve.peer`). Both start as child processes; one client sends the same requests to each, at
each concurrency, one server at a time. Reported per server: start-up time, RSS after start and after the
load, libtorch mappings, and per endpoint and concurrency p50 / p95 / p99 latency, requests per second and
the F1 of its `/v1/read` answers on the pairs (so a faster server that reads worse shows it). Then, with
many registered domains and a budget of loaded ones, start-up time and RSS as domains are asked in turn.

The client runs on the same machine as the server (it takes its share of the cores): compare the two
servers' numbers with each other, not with numbers from another machine.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from zeroxqa.isolate import descendants

DOMAIN = "loadtest.example"


@dataclass
class Pair:
    question: str
    context: str
    golds: list[str]


@dataclass
class LoadtestConfig:
    data: str  # a SQuAD-format JSON file: its questions and paragraphs
    requests: int = 200  # per endpoint and concurrency
    concurrency: tuple[int, ...] = (1, 4, 16)
    workers: int = 2
    processes: int = 1
    threads: int | None = None  # the server's --threads (default: its own)
    reader: str = "squad"
    domains: int = 100  # registered in the many-domain part (0: skip it)
    max_loaded: int = 10
    peer: bool = True
    out: Path = field(default_factory=lambda: Path("loadtest"))


def load_pairs(path: str | Path, limit: int) -> list[Pair]:
    """The first `limit` questions of a SQuAD-format file, with their paragraphs and gold answers."""
    from zeroxqa.reader.metrics import gold_texts

    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    pairs = [Pair(qa["question"], p["context"], gold_texts(qa.get("answers", [])))
             for article in data for p in article["paragraphs"] for qa in p["qas"]]
    return pairs[:limit]


# --- processes --------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (uvicorn workers), MB."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def libtorch_maps(pid: int) -> int:
    """Lines of /proc/<pid>/maps naming libtorch, over the process and its descendants (0: no torch)."""
    count = 0
    for p in [pid, *descendants(pid)]:
        try:
            count += sum("libtorch" in line for line in Path(f"/proc/{p}/maps").read_text().splitlines())
        except OSError:
            pass
    return count


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cmd: list[str], url: str, timeout: float = 300) -> tuple[subprocess.Popen, float]:
    """Start a server and wait for its /healthz; (process, seconds until it answered)."""
    import httpx

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    while time.perf_counter() - t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"{cmd[:4]} did not answer /healthz within {timeout} s")


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- the client -------------------------------------------------------------------------------------
def drive(url: str, endpoint: str, bodies: list[dict], concurrency: int) -> dict:
    """Send every body once, `concurrency` at a time (each sender its own keep-alive connection)."""
    import httpx

    latencies: list[float] = [0.0] * len(bodies)
    answers: list[str | None] = [None] * len(bodies)
    failures: list[int] = []
    position = iter(range(len(bodies)))
    lock = threading.Lock()

    def sender() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    i = next(position, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = client.post(f"{url}{endpoint}", json=bodies[i])
                latencies[i] = time.perf_counter() - t
                if r.status_code == 200:
                    answers[i] = r.json().get("answer")
                else:
                    failures.append(r.status_code)

    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(sender) for _ in range(concurrency)]:
            f.result()
    wall = time.perf_counter() - t
    ms = sorted(x * 1e3 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {"endpoint": endpoint, "concurrency": concurrency, "requests": len(bodies), "failed": len(failures),
            "p50_ms": statistics.median(ms), "p95_ms": q[94], "p99_ms": q[98], "req_per_s": len(bodies) / wall,
            "answers": answers}


def read_f1(answers: list[str | None], pairs: list[Pair]) -> float:
    from zeroxqa.reader.metrics import squad_metrics

    return squad_metrics([p.golds for p in pairs], [a or "" for a in answers])["f1"]


# --- one server -------------------------------------------------------------------------------------
def measure_server(name: str, cmd: list[str], url: str, pairs: list[Pair], cfg: LoadtestConfig, log) -> dict:
    proc, startup = start_server(cmd, url)
    try:
        row = {"server": name, "startup_s": startup, "rss_start_mb": rss_mb(proc.pid), "libtorch_maps": libtorch_maps(proc.pid)}
        reads = [{"question": p.question, "context": p.context} for p in pairs]
        asks = [{"domain": DOMAIN, "question": p.question} for p in pairs]
        drive(url, "/v1/read", reads[:8], 1), drive(url, "/v1/ask", asks[:8], 1)  # warm: first calls, lazy loads
        runs = []
        for endpoint, bodies in (("/v1/read", reads), ("/v1/ask", asks)):
            for c in cfg.concurrency:
                run = drive(url, endpoint, bodies, c)
                if endpoint == "/v1/read" and c == cfg.concurrency[0]:
                    row["read_f1"] = read_f1(run["answers"], pairs)
                run.pop("answers")
                runs.append({"server": name, **run})
                log(f"{name:>8} {endpoint:<8} c={c:<3} p50 {run['p50_ms']:6.1f} ms  p95 {run['p95_ms']:6.1f}  "
                    f"p99 {run['p99_ms']:6.1f}  {run['req_per_s']:6.1f} req/s  failed {run['failed']}")
        row["rss_after_mb"] = rss_mb(proc.pid)
        return {"summary": row, "runs": runs}
    finally:
        stop_server(proc)


def many_domains(work: Path, index: str, lean_model: Path, cfg: LoadtestConfig, log) -> dict:
    """`cfg.domains` registered domains, each with its own model folder (hard links of one lean reader: the
    same bytes on disk, separate sessions in memory, as distinct fine-tunes would be) and its own copy of
    the index; RSS as domains are asked in turn, past the loaded budget."""
    import httpx

    from zeroxqa.registry.atomic import write_json
    from zeroxqa.registry.hashing import content_hash

    sha = content_hash(lean_model)
    domains, indexes = {}, {}
    for i in range(cfg.domains):
        folder = work / "models" / f"d{i:03d}"
        if not folder.exists():
            folder.mkdir(parents=True)
            for f in lean_model.iterdir():
                os.link(f, folder / f.name)
        index_copy = work / "indexes" / f"d{i:03d}"
        if not index_copy.exists():
            shutil.copytree(index, index_copy)
        name = f"d{i:03d}.example"
        domains[name] = {"model": str(folder), "f1": 50.0, "sha256": sha, "accepted": "onnx-int8", "promoted_at": "2026-12-08"}
        indexes[name] = {"index": str(index_copy)}
    registry = work / "many.json"
    write_json({"domains": domains, "indexes": indexes}, registry)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "zeroxqa", "serve", "--registry", str(registry), "--reader", cfg.reader,
           "--port", str(port), "--workers", str(cfg.workers), "--max-loaded", str(cfg.max_loaded)]
    proc, startup = start_server(cmd, url)
    try:
        rows = [{"asked": 0, "loaded": 0, "rss_mb": rss_mb(proc.pid)}]
        with httpx.Client(timeout=120) as client:
            for i in range(min(cfg.domains, 3 * cfg.max_loaded)):
                r = client.post(f"{url}/v1/ask", json={"domain": f"d{i:03d}.example", "question": "What is it about?"})
                if r.status_code != 200:
                    raise RuntimeError(f"d{i:03d}.example: {r.status_code} {r.text[:300]}")
                if i + 1 in (1, 2, 5, cfg.max_loaded, 2 * cfg.max_loaded, 3 * cfg.max_loaded):
                    health = client.get(f"{url}/healthz").json()
                    rows.append({"asked": i + 1, "loaded": health["loaded"], "rss_mb": rss_mb(proc.pid)})
                    log(f"many domains: {i + 1} asked, {health['loaded']} loaded, RSS {rows[-1]['rss_mb']:.0f} MB")
        return {"registered": cfg.domains, "max_loaded": cfg.max_loaded, "startup_s": startup, "memory": rows}
    finally:
        stop_server(proc)


def run_loadtest(cfg: LoadtestConfig, log=print) -> dict:
    """Measure both servers; returns (and writes to `cfg.out`.json) every number."""
    from zeroxqa.config import RetrievalConfig
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.reader.reference import whole_reader_dir
    from zeroxqa.registry.store import record_index
    from zeroxqa.retrieval.index import DomainIndex
    from zeroxqa.speed.export.cpu import cpu_description
    from zeroxqa.speed.export.lean import lean_encoder, lean_reader

    pairs = load_pairs(cfg.data, cfg.requests)
    work = Path(tempfile.mkdtemp(prefix="zeroxqa-loadtest-"))
    try:
        log(f"{len(pairs)} questions of {cfg.data}; {cpu_description()}")
        paragraphs = [{**p, "domain": DOMAIN} for p in load_paragraphs([str(cfg.data)], every_domain=True)]
        index = str(DomainIndex.build(DOMAIN, paragraphs, RetrievalConfig()).save(work / "index"))
        registry = work / "registry.json"
        record_index(registry, DOMAIN, index)
        lean = lean_reader(cfg.reader)  # made now, so start-up below is a server's, not a one-time export's
        lean_encoder(RetrievalConfig().encoder)
        summaries, runs = [], []
        port = free_port()
        ours = [sys.executable, "-m", "zeroxqa", "serve", "--registry", str(registry), "--reader", cfg.reader,
                "--port", str(port), "--workers", str(cfg.workers), "--processes", str(cfg.processes),
                "--max-queue", "64", *(["--threads", str(cfg.threads)] if cfg.threads else [])]
        measured = measure_server("zeroxqa", ours, f"http://127.0.0.1:{port}", pairs, cfg, log)
        summaries.append(measured["summary"]), runs.extend(measured["runs"])
        if cfg.peer:
            whole = whole_reader_dir(cfg.reader, work / "whole-reader")
            texts = work / "paragraphs.json"
            texts.write_text(json.dumps([p["context"] for p in paragraphs]))
            port = free_port()
            peer = [sys.executable, "-m", "zeroxqa.serve.peer", "--model", str(whole), "--paragraphs", str(texts),
                    "--port", str(port), "--threads", str(os.cpu_count() or 1)]
            measured = measure_server("hf-peer", peer, f"http://127.0.0.1:{port}", pairs, cfg, log)
            summaries.append(measured["summary"]), runs.extend(measured["runs"])
        result = {"cpu": cpu_description(), "data": str(cfg.data), "requests": len(pairs), "workers": cfg.workers,
                  "processes": cfg.processes, "servers": summaries, "runs": runs}
        if cfg.domains:
            result["many_domains"] = many_domains(work, index, lean, cfg, log)
        from zeroxqa.registry.atomic import write_json

        write_json(result, cfg.out.with_suffix(".json"))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
