"""Asking domains: `index` (a domain's retrieval index), `ask` (retrieve + read), `retrieval-eval`
(recall and end-to-end EM/F1 of BM25, dense and fused retrieval), `serve` (the HTTP API and its page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zeroxqa.cli.common import Domains, Shards, app, clear_input_errors, console, err_console, print_table
from zeroxqa.config import RetrievalConfig, ServeConfig
from zeroxqa.errors import InputError
from zeroxqa.reader.reference import DEFAULT_READER

_RETRIEVAL, _SERVE = RetrievalConfig(), ServeConfig()
Method = Annotated[str, typer.Option(help="bm25, dense, fused (the index's fusion), rrf or weighted")]


@app.command()
def index(
    sources: Annotated[list[str], typer.Argument(help="shard folders or files (or raw paragraph / QA files) holding the domains")],
    domain: Annotated[str | None, typer.Option(help="only this domain (default: every domain the sources hold)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="the index folder; with several domains, the folder of "
                                                         "one index folder per domain")] = Path("index"),
    encoder: Annotated[str, typer.Option(help="sentence-transformers model of the dense vectors")] = _RETRIEVAL.encoder,
    registry: Annotated[Path | None, typer.Option(help="also record each index in this registry (then `serve` serves it)")] = None,
) -> None:
    """Build retrieval indexes (BM25 + dense vectors of the distinct paragraphs): one domain's into OUT, or
    every domain's into OUT/<domain>. Invalid rows of raw files are set aside in OUT.quarantine.parquet."""
    from zeroxqa.ingest.naming import safe_names
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.registry.store import record_index
    from zeroxqa.retrieval.index import DomainIndex

    quarantine: list[dict] = []
    with clear_input_errors():
        paragraphs = load_paragraphs(sources, domain, quarantine, every_domain=True)
    if quarantine:
        from zeroxqa.ingest.schema import quarantine_table
        from zeroxqa.registry.atomic import write_parquet

        aside = out.with_name(f"{out.name}.quarantine.parquet")
        write_parquet(quarantine_table(quarantine), aside)
        err_console.print(f"[yellow]{len(quarantine)} invalid rows set aside[/yellow] with their reason and raw record -> {aside} "
                          f"(the first: {quarantine[0]['reason']})", highlight=False)
    by_domain: dict[str, list[dict]] = {}
    for p in paragraphs:
        by_domain.setdefault(p["domain"], []).append(p)
    folders = {d: out for d in by_domain} if len(by_domain) == 1 else {d: out / n for d, n in safe_names(by_domain).items()}
    for name, found in by_domain.items():
        with clear_input_errors():
            built = DomainIndex.build(name, found, RetrievalConfig(encoder=encoder), progress=len(by_domain) == 1)
        built.save(folders[name])
        if registry is not None:
            record_index(registry, name, str(folders[name].resolve()))
        console.print(f"indexed {len(built)} paragraphs of {name!r} -> {folders[name]}"
                      + (f" (recorded in {registry})" if registry else ""), highlight=False)


def _resolve(domain: str, registry: Path, index_dir: Path | None, model: str | None) -> tuple[str, str]:
    """(model, index folder) of a domain: given, or the registry's (the reference reader where none is promoted)."""
    from zeroxqa.serve.catalog import intact_model, read_catalog

    catalog = read_catalog(registry, DEFAULT_READER) if registry.exists() else {}  # a damaged one: InputError
    entry = catalog.get(domain)
    found_index = index_dir or (Path(entry.index) if entry and entry.index else None)
    if found_index is None:
        raise InputError(registry, f"no index of domain {domain!r} in the registry (known: {sorted(catalog)[:20]}); "
                                   "build one with `zeroxqa index` and pass --index")
    if model is None and entry is not None:
        served = intact_model(entry, DEFAULT_READER)
        if served.note and served.model != entry.model:
            err_console.print(f"[yellow]warning:[/yellow] domain {domain!r}: {served.note}; answering with {served.model}")
        model = served.model
    return model or DEFAULT_READER, str(found_index)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    domain: Annotated[str, typer.Option(help="the domain to ask")],
    top_k: Annotated[int, typer.Option(help="paragraphs to read")] = _RETRIEVAL.top_k,
    registry: Annotated[Path, typer.Option(help="the registry of promoted models and indexes")] = Path(_SERVE.registry),
    index_dir: Annotated[Path | None, typer.Option("--index", help="an index folder instead of the registry's")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="a reader instead of the registry's")] = None,
    method: Method = _RETRIEVAL.method,
    show: Annotated[int, typer.Option(help="retrieved paragraphs to print")] = 1,
) -> None:
    """Answer a question of a domain: retrieve its best paragraphs, read them, answer from the surest one
    (or "no answer")."""
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.paths import check_model_dir
    from zeroxqa.retrieval.ask import ask as ask_domain
    from zeroxqa.retrieval.index import DomainIndex

    with clear_input_errors():
        model, folder = _resolve(domain, registry, index_dir, model)
        engine = QAEngine.load(check_model_dir(model))
        found = DomainIndex.load(folder)
    found.search("warm up", 1)  # load the sentence encoder before the timed question
    result = ask_domain(found, engine, question, top_k, method)
    console.print(result.answer if result.answered else "(no answer)", highlight=False)
    where = f"paragraph {result.context_id}, characters {result.start}-{result.end}" if result.answered else "no paragraph clears the threshold"
    console.print(f"[dim]confidence {result.confidence:.2f}, {where}, retrieve {result.retrieve_ms:.0f} ms, "
                  f"read {result.read_ms:.0f} ms, model {model}[/dim]")
    for p in result.paragraphs[:show]:
        match = f"similarity {p.similarity:.0%}, " if p.similarity is not None else ""
        match += (f"word match {p.bm25:.1f}, " if p.bm25 else "no word in common, ") if p.bm25 is not None else ""
        console.print(f"[dim]- {p.context_id} ({match}reader confidence {p.confidence:.0%}):[/dim] "
                      f"{p.context[:300]}{'...' if len(p.context) > 300 else ''}", highlight=False)


@app.command("retrieval-eval")
def retrieval_eval(
    shards: Shards,
    model: Annotated[str, typer.Option("--model", "-m", help="the reader")] = DEFAULT_READER,
    domain: Domains = None,
    split: Annotated[str, typer.Option(help="questions of train, dev or all")] = "all",
    top_k: Annotated[int, typer.Option(help="paragraphs read per question")] = _RETRIEVAL.top_k,
    methods: Annotated[str, typer.Option(help="rankings to compare, comma-separated (bm25, dense, rrf, weighted)")] = "bm25,dense,rrf,weighted",
    latency_questions: Annotated[int, typer.Option(help="questions per domain and ranking timed alone")] = 10,
    max_questions: Annotated[int | None, typer.Option(help="at most this many questions per domain")] = None,
    threads: Annotated[int | None, typer.Option(help="reader threads")] = None,
    out: Annotated[Path | None, typer.Option(help="Parquet of every question's result (the summary beside it, .json)")] = None,
) -> None:
    """Each domain of the shards is a corpus of its distinct paragraphs: retrieve for each question, read the
    top paragraphs, score. Prints recall@1/3/5 and EM/F1 per ranking and choice rule."""
    import pyarrow as pa

    from zeroxqa.registry.atomic import write_json, write_parquet
    from zeroxqa.ingest.dataset import by_domain, load_rows
    from zeroxqa.reader.engine import QAEngine
    from zeroxqa.reader.paths import check_model_dir
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.retrieval.evaluate import evaluate, summarize

    cfg = RetrievalConfig(top_k=top_k)
    with clear_input_errors():
        engine = QAEngine.load(check_model_dir(model), threads=threads)
        rows = by_domain(load_rows(shards, None if split == "all" else split, domain))
        corpora = {d: (load_paragraphs([str(s) for s in shards], d), qs[:max_questions]) for d, qs in rows.items()}
    if not corpora:
        err_console.print("[red]error:[/red] no questions in the shards" + (f" for domains {domain}" if domain else ""))
        raise typer.Exit(2)
    results, timings = evaluate(corpora, engine, cfg, tuple(methods.split(",")), top_k)
    table = summarize(results, timings)
    shown = ("method", "choose", "recall@1", "recall@3", "recall@5", "exact", "f1", "HasAns_f1", "NoAns_f1", "p50_ms", "p95_ms")
    print_table(f"retrieval + reading, top {top_k} paragraphs, {len(corpora)} domains, {table[0]['questions']} questions",
                [{k.replace("recall", "R").replace("_f1", "").replace("_ms", " ms"): round(r[k], 1) if isinstance(r[k], float) else r[k]
                  for k in shown} for r in table])
    if out:
        write_parquet(pa.Table.from_pylist(results), out)
        write_json({"model": model, "retrieval": cfg.model_dump(), "domains": len(corpora), "summary": table,
                    "per_domain": summarize(results, timings, by=("domain", "method", "choose"))}, out.with_suffix(".json"))
        console.print(f"-> {out}")


@app.command()
def serve(
    registry: Annotated[Path, typer.Option(help="the registry whose promoted models and indexes are served")] = Path(_SERVE.registry),
    reader: Annotated[str, typer.Option(help="reader of /v1/read and of domains without a promoted model")] = _SERVE.reader,
    host: Annotated[str, typer.Option()] = _SERVE.host,
    port: Annotated[int, typer.Option()] = _SERVE.port,
    workers: Annotated[int, typer.Option(help="requests computed at once, per process")] = _SERVE.workers,
    processes: Annotated[int, typer.Option(help="server processes sharing the port (each loads domains lazily)")] = _SERVE.processes,
    max_queue: Annotated[int, typer.Option(help="requests waiting beyond those (more get 503)")] = _SERVE.max_queue,
    max_loaded: Annotated[int, typer.Option(help="domains kept in memory at once (least recently used unloaded)")] = _SERVE.max_loaded,
    max_body_bytes: Annotated[int, typer.Option(help="larger request bodies get 413")] = _SERVE.max_body_bytes,
    threads: Annotated[int | None, typer.Option(help="threads per model; default cores / workers")] = _SERVE.threads,
    reload_interval: Annotated[float, typer.Option(help="seconds between checks of the registry")] = _SERVE.reload_interval_s,
) -> None:
    """Serve the registry's promoted models over HTTP: /v1/ask, /v1/read, /v1/domains, /healthz, /metrics, the
    page at / and the API docs at /docs. Domains load on first use; new promotions are swapped in without a
    restart. The serving process imports no torch: readers run as ONNX (a saved reader is exported once, in a
    child process, and cached)."""
    import json
    import logging
    import os

    import uvicorn

    from zeroxqa.reader.paths import check_model_dir
    from zeroxqa.serve.app import CONFIG_ENV, create_app
    from zeroxqa.serve.catalog import read_catalog
    from zeroxqa.speed.export.lean import lean_encoder, lean_reader

    with clear_input_errors():
        check_model_dir(reader)
        if registry.exists():
            read_catalog(registry, reader)  # a damaged registry ends here, named (exit 2), or its last good copy stands in
        else:
            err_console.print(f"[yellow]warning:[/yellow] {registry} does not exist yet: only /v1/read answers until a "
                              "flow writes it (it is watched)")
    cfg = ServeConfig(registry=str(registry), reader=reader, host=host, port=port, workers=workers, processes=processes,
                      max_queue=max_queue, max_loaded=max_loaded, max_body_bytes=max_body_bytes, threads=threads,
                      reload_interval_s=reload_interval)
    with console.status("preparing the lean reader and question encoder (once per machine)"):
        lean_reader(reader), lean_encoder(_RETRIEVAL.encoder)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console.print(f"serving {registry} on http://{host}:{port}/  (API docs: /docs)")
    if processes > 1:
        os.environ[CONFIG_ENV] = json.dumps(cfg.model_dump())
        uvicorn.run("zeroxqa.serve.app:app_from_env", factory=True, host=host, port=port, workers=processes,
                    log_level="warning")
    else:
        uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")


@app.command()
def register(
    domain: Annotated[str, typer.Option(help="the domain to serve")],
    index_dir: Annotated[Path | None, typer.Option("--index", help="its retrieval index (from `zeroxqa index`)")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="its reader (a saved reader or ONNX variant)")] = None,
    registry: Annotated[Path, typer.Option(help="the registry to record it in")] = Path(_SERVE.registry),
) -> None:
    """Record a domain built by hand in the registry, so `zeroxqa serve` (and a running server) serves it: its
    index, its model, or both. A model registered by hand has no measured F1: the next flow's measured
    model for the domain replaces it."""
    from zeroxqa.reader.paths import check_model_dir
    from zeroxqa.registry.store import record_index, record_model
    from zeroxqa.retrieval.index import INDEX_FILE

    if index_dir is None and model is None:
        err_console.print("[red]error:[/red] give --index, --model or both")
        raise typer.Exit(2)
    with clear_input_errors():
        if index_dir is not None and not (index_dir / INDEX_FILE).is_file():
            raise InputError(index_dir, f"not a retrieval index: no {INDEX_FILE} (build one with `zeroxqa index`)")
        model_dir = check_model_dir(model) if model else None
        if model_dir and not Path(model_dir).is_dir():
            raise InputError(model_dir, "register a local model folder (export a hub model first)")
    if model_dir:
        record_model(registry, domain, str(Path(model_dir).resolve()))
        console.print(f"domain {domain!r}: model {model_dir} recorded in {registry}")
    if index_dir is not None:
        record_index(registry, domain, str(index_dir.resolve()))
        console.print(f"domain {domain!r}: index {index_dir} recorded in {registry}")


def _sample_squad() -> str:
    from zeroxqa.ingest.sample import SQUAD_THEMES

    return str(SQUAD_THEMES)


@app.command()
def loadtest(
    data: Annotated[Path, typer.Option(help="SQuAD-format JSON whose questions and paragraphs are sent")] = Path(_sample_squad()),
    requests: Annotated[int, typer.Option(help="requests per endpoint and concurrency")] = 200,
    concurrency: Annotated[str, typer.Option(help="concurrency levels, comma-separated")] = "1,4,16",
    workers: Annotated[int, typer.Option(help="the server's --workers")] = _SERVE.workers,
    processes: Annotated[int, typer.Option(help="the server's --processes")] = 1,
    threads: Annotated[int | None, typer.Option(help="the server's --threads (default: its own)")] = None,
    domains: Annotated[int, typer.Option(help="domains registered in the many-domain part (0: skip it)")] = 100,
    max_loaded: Annotated[int, typer.Option(help="the server's --max-loaded in the many-domain part")] = 10,
    peer: Annotated[bool, typer.Option(help="also measure the HF pipeline peer server")] = True,
    out: Annotated[Path, typer.Option(help="where the numbers go (OUT.json)")] = Path("loadtest"),
) -> None:
    """Start the server and, in the same run, a peer (HF `pipeline("question-answering")` on the same weights
    behind FastAPI); send the same /v1/read and /v1/ask requests to each at each concurrency; print p50/p95/p99,
    req/s, F1 of the answers, RSS and start-up time. Then many registered domains under a loaded budget."""
    from zeroxqa.serve.loadtest import LoadtestConfig, run_loadtest

    with clear_input_errors():
        if not data.is_file():
            raise InputError(data, "no such file (a SQuAD-format JSON)")
        levels = tuple(int(c) for c in concurrency.split(","))
    cfg = LoadtestConfig(data=str(data), requests=requests, concurrency=levels, workers=workers, processes=processes,
                         threads=threads, domains=domains, max_loaded=max_loaded, peer=peer, out=out)
    result = run_loadtest(cfg, log=lambda line: console.print(line, highlight=False))
    print_table("servers (same run, same machine)", [
        {k: round(v, 1) if isinstance(v, float) else v for k, v in s.items()} for s in result["servers"]])
    print_table("latency", [{k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()} for r in result["runs"]])
    console.print(f"-> {out.with_suffix('.json')}")

