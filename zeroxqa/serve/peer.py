"""The peer the load test measures ZeroxQA's server against: the plain Hugging Face way to serve the same
reader, `pipeline("question-answering")` on torch behind a minimal FastAPI app, with sentence-transformers
for `/v1/ask` (dense top-k over the same paragraphs, the best-scoring span wins). What a team would write
in an afternoon; the same request and response shapes as ours, so one client drives both.

    python -m zeroxqa.serve.peer --model DIR --paragraphs FILE.json --port 8001
"""

# no `from __future__ import annotations`: FastAPI must see the request models, which are local to `build_app`

import argparse
import json
import threading


def build_app(model_dir: str, paragraphs: list[str]):
    import numpy as np
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sentence_transformers import SentenceTransformer
    from transformers import pipeline

    from zeroxqa.reader.paths import resolve_model_path

    reader = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device=-1)
    encoder = SentenceTransformer(resolve_model_path("minilm"), device="cpu")
    vectors = encoder.encode(paragraphs, normalize_embeddings=True, convert_to_numpy=True) if paragraphs else None
    lock = threading.Lock()  # the pipeline's tokenizer is not safe across threads (as in the HF docs' servers)

    class Read(BaseModel):
        question: str
        context: str

    class Ask(BaseModel):
        domain: str
        question: str
        top_k: int = 3

    app = FastAPI(title="HF pipeline peer")

    def read_one(question: str, context: str) -> dict:
        with lock:
            out = reader(question=question, context=context, handle_impossible_answer=True)
        return {"answer": out["answer"] or None, "confidence": float(out["score"])}

    @app.post("/v1/read")
    def read(body: Read) -> dict:
        return read_one(body.question, body.context)

    @app.post("/v1/ask")
    def ask(body: Ask) -> dict:
        with lock:
            query = encoder.encode([body.question], normalize_embeddings=True, convert_to_numpy=True)[0]
        best = np.argsort(-(vectors @ query))[: body.top_k]
        answers = [read_one(body.question, paragraphs[i]) for i in best]
        chosen = max(answers, key=lambda a: (a["answer"] is not None, a["confidence"]))
        return {"answer": chosen["answer"], "confidence": chosen["confidence"]}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--paragraphs", required=True, help="a JSON list of paragraph texts (what /v1/ask searches)")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with open(args.paragraphs, encoding="utf-8") as f:
        paragraphs = json.load(f)
    uvicorn.run(build_app(args.model, paragraphs), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
