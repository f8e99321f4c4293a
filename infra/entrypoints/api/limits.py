"""Size limits enforced in front of the application, as pure ASGI middleware.

They look only at what the server has already parsed (the request head) or
at the body as it streams in, so a hostile request is refused before it
costs memory: nothing here ever holds more than one received chunk.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.entrypoints.api.problems import send_problem

log = logging.getLogger("promocredits.api")

# The largest legitimate body (a grant with a 1000-character note) is under
# 5 KiB; 64 KiB leaves room for any client's formatting.
MAX_BODY_BYTES = 64 * 1024
# All header names and values together, and the path with its query apart.
# A bearer token and the usual headers fit in well under 1 KiB, the longest
# valid path in well under 1 KiB too.
MAX_HEADER_BYTES = 16 * 1024


def header_bytes(scope: Scope) -> int:
    return sum(len(name) + len(value) for name, value in scope["headers"])


def target_bytes(scope: Scope) -> int:
    return len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])


def declared_length(scope: Scope) -> int | None:
    """Content-Length as the client declared it (the server has already
    refused a malformed one); None for a chunked body or none at all."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            # Digits only, whatever the server let through; anything else
            # leaves the limit to the bytes actually received.
            return int(value) if value.isdigit() else None
    return None


class HeadLimit:
    """A request target (path and query) over the budget gets 414, headers
    over it 431. The server's parser bounds what it buffers while the request
    head arrives; this bounds what of it reaches the application."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if target_bytes(scope) > self.max_bytes:
                await send_problem(send, 414, f"the request target must be at most {self.max_bytes} bytes")
                return
            if header_bytes(scope) > self.max_bytes:
                await send_problem(send, 431, f"request headers must total at most {self.max_bytes} bytes")
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Bodies over ``max_bytes`` get 413: at once when Content-Length says so,
    otherwise as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request bodies must be at most {self.max_bytes} bytes"
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await send_problem(send, 413, too_large)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await send_problem(send, 413, too_large)
                    # To the application the client has gone: it stops
                    # reading and whatever it answers is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The application failing on a body cut short is expected once
            # the 413 is sent; it must not turn into a second response.
            log.debug("request refused as too large; the application's error is moot", exc_info=True)
