"""What one request may cost the server, enforced before anything is parsed: the body is counted as it
arrives (a `Content-Length` over the limit is refused unread; a chunked body is cut off when it passes
it) and must be complete within a deadline, so a client that promises more than it sends cannot hold a
connection forever. And what is echoed back is shortened."""

from __future__ import annotations

import json

import anyio
from fastapi import HTTPException

ECHO_CHARS = 100


def shown(text: str, limit: int = ECHO_CHARS) -> str:
    """`text` as echoed back in an error: at most `limit` characters, lone surrogates written as escapes
    (UTF-8 cannot hold them)."""
    cut = text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, 408 for one not complete within `timeout_s`."""

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _respond(send, 413, f"request body of {length.decode(errors='replace')[:20]} bytes; "
                                             f"the limit is {self.max_bytes}")
        received, deadline = 0, None

        async def limited() -> dict:
            nonlocal received, deadline
            if deadline is None:
                deadline = anyio.current_time() + self.timeout_s
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"the request body did not arrive within {self.timeout_s:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes (the limit)")
            return message

        return await self.app(scope, limited, send)


async def _respond(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
