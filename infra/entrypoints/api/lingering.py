"""uvicorn's h11 protocol, with a lingering close for refused bodies and heads.

When the answer goes out before the request body was read (a 401 decided
from the headers, a 413 part-way through), the client is usually still
sending. uvicorn would keep the connection and feed the rest of the body
through h11 only to throw it away: for a 30 MB body that is tens of
milliseconds of the event loop, which every other request waits for.
Closing at once is no better: the kernel answers the unread bytes with a
reset, and a client still sending can lose the answer it was sent.

So, as web servers do, the connection lingers: our side is shut for
writing once the answer is out, and whatever still arrives is dropped
unparsed until the client finishes, or for at most ``LINGER_SECONDS``.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Long enough for a client on a slow link to finish sending a body it had
# started and read its answer, short enough that lingering connections do
# not pile up.
LINGER_SECONDS = 5.0


class LingeringH11Protocol(H11Protocol):
    _linger: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._linger is None:
            super().data_received(data)
        # else: the rest of a body no one will read; dropped, never parsed.

    def eof_received(self) -> None:
        if self._linger is not None:
            self._stop_lingering()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        # Answered while the body is still coming: this connection can never
        # carry another request, so linger and close.
        self._unset_keepalive_if_required()
        self._linger_then_close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to a request h11 refuses (a head beyond its
        # limit), which closed at once: the rest of the head may still be
        # arriving, and the reset for it could lose the 400. So it lingers too.
        response = h11.Response(
            status_code=400,
            headers=[(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
            reason=b"Bad Request",
        )
        for event in (response, h11.Data(data=msg.encode("ascii")), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self._linger_then_close()

    def _linger_then_close(self) -> None:
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self._stop_lingering)

    def _stop_lingering(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self.transport.close()
