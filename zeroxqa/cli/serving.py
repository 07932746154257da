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
    sources: Annotated[list[str], typer.Argument(help="shard folders or files (or raw paragraph / QA files) holding the domain")],
    domain: Annotated[str | None, typer.Option(help="the domain to index (needed when the sources hold several)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="the index folder")] = Path("index"),
    encoder: Annotated[str, typer.Option(help="sentence-transformers model of the dense vectors")] = _RETRIEVAL.encoder,
) -> None:
    """Build a domain's retrieval index (BM25 + dense vectors of its distinct paragraphs)."""
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.retrieval.index import DomainIndex

    with clear_input_errors():
        paragraphs = load_paragraphs(sources, domain)
        name = paragraphs[0]["domain"]
        built = DomainIndex.build(name, paragraphs, RetrievalConfig(encoder=encoder), progress=True)
    built.save(out)
    console.print(f"indexed {len(built)} paragraphs of {name!r} -> {out}")


def _resolve(domain: str, registry: Path, index_dir: Path | None, model: str | None) -> tuple[str, str]:
    """(model, index folder) of a domain: given, or the registry's (the reference reader where none is promoted)."""
    from zeroxqa.serve.catalog import read_catalog

    entry = read_catalog(registry, DEFAULT_READER).get(domain) if registry.exists() else None
    found_index = index_dir or (Path(entry.index) if entry and entry.index else None)
    if found_index is None:
        known = sorted(read_catalog(registry, DEFAULT_READER)) if registry.exists() else []
        raise InputError(registry, f"no index of domain {domain!r} in the registry (known: {known}); "
                                   "build one with `zeroxqa index` and pass --index")
    return model or (entry.model if entry else DEFAULT_READER), str(found_index)


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
    from zeroxqa.reader.model import check_model_dir
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
        console.print(f"[dim]- {p.context_id} (retrieval {p.retrieval_score:.3f}, confidence {p.confidence:.2f}):[/dim] "
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
    from zeroxqa.reader.model import check_model_dir
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
    workers: Annotated[int, typer.Option(help="requests computed at once")] = _SERVE.workers,
    max_queue: Annotated[int, typer.Option(help="requests waiting beyond those (more get 503)")] = _SERVE.max_queue,
    threads: Annotated[int | None, typer.Option(help="threads per model; default cores / workers")] = _SERVE.threads,
    reload_interval: Annotated[float, typer.Option(help="seconds between checks of the registry")] = _SERVE.reload_interval_s,
) -> None:
    """Serve the registry's promoted models over HTTP: /v1/ask, /v1/read, /v1/domains, /healthz, /metrics, the
    page at / and the API docs at /docs. New promotions are swapped in without a restart."""
    import logging

    import uvicorn

    from zeroxqa.reader.model import check_model_dir
    from zeroxqa.serve.app import create_app

    with clear_input_errors():
        check_model_dir(reader)
        if not registry.exists():
            err_console.print(f"[yellow]warning:[/yellow] {registry} does not exist yet: only /v1/read answers until a "
                              "flow writes it (it is watched)")
    cfg = ServeConfig(registry=str(registry), reader=reader, host=host, port=port, workers=workers, max_queue=max_queue,
                      threads=threads, reload_interval_s=reload_interval)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)  # "Loading ... model from" per index
    console.print(f"serving {registry} on http://{host}:{port}/  (API docs: /docs)")
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")
