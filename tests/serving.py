"""Shared by the serving tests: a registry with a domain, its index, and a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SHOP = Path(__file__).parent / "fixtures" / "shop_paragraphs.jsonl"


def build_shop_index(folder: Path) -> str:
    from zeroxqa.config import RetrievalConfig
    from zeroxqa.ingest.paragraphs import load_paragraphs
    from zeroxqa.retrieval.index import DomainIndex

    DomainIndex.build("shop.example", load_paragraphs([str(SHOP)]), RetrievalConfig()).save(folder)
    return str(folder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
