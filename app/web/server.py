"""The HTTP server's own bounds: what one client can hold before any of the app runs.

uvicorn's httptools protocol reads a request's headers without limit (llhttp and httptools
buffer a header of any length) and cancels its keep-alive timer on the first byte of the next
request, so a client that sends one header line every few seconds holds its connection
forever, and a fresh connection that sends nothing is never closed. GuardedHttpTools keeps
httptools (the measured fastest of uvicorn's parsers, bench/README.md) and adds, per
connection:

- a bound on the request line plus headers (KUMKM_MAX_HEADER_BYTES): beyond it, 431 and the
  connection is closed, without buffering past the bound;
- a deadline for the whole header block (KUMKM_HEADER_TIMEOUT_SECONDS), started when the
  connection opens or the next request's first byte arrives: past it, 408 and close (a
  connection that never sent a byte is closed without an answer);
- a bound on open connections per process (KUMKM_MAX_CONNECTIONS): a connection beyond it is
  answered 503 with Retry-After as soon as its headers are in, then closed.

The idle keep-alive timeout is uvicorn's own (KUMKM_KEEPALIVE_SECONDS). docs/operations.md
has the numbers and what a client sees."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.errors import SERVER_BUSY, problem_response
from app.core.settings import settings

log = logging.getLogger("kumkm.http")

RETRY_AFTER_SECONDS = 1
GRACE_SECONDS = 0.5


def _plain(status: bytes, text: str, *extra: bytes) -> bytes:
    body = text.encode()
    return b"".join(
        [
            b"HTTP/1.1 ",
            status,
            b"\r\ncontent-type: text/plain; charset=utf-8\r\n",
            *extra,
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
    )


_TOO_LARGE = _plain(b"431 Request Header Fields Too Large", f"request line and headers are limited to {settings.max_header_bytes} bytes")
_TOO_SLOW = _plain(b"408 Request Timeout", f"the request's headers did not arrive within {settings.header_timeout:g} s")


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The answer on a connection beyond the process's bound, in the API's problem shape."""
    response = problem_response(
        SERVER_BUSY(
            "layanan sedang memegang koneksi terbuka sebanyak batasnya; coba lagi sebentar lagi",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Connection": "close"},
        )
    )
    await response(scope, receive, send)


class GuardedHttpTools(HttpToolsProtocol):
    max_header_bytes = settings.max_header_bytes
    header_timeout = settings.header_timeout
    max_connections = settings.max_connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # True from the moment a request's headers are awaited (the connection opened, or the
        # previous exchange ended) until they are complete; their bytes are counted meanwhile.
        self._reading_headers = False
        self._header_bytes = 0
        self._message_done = True
        self._graced = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            # Answered once its headers are in (bounded like any other), so the client reads a
            # 503 instead of a reset.
            self.app = _busy
            log.warning("open connections over KUMKM_MAX_CONNECTIONS (%d): answering 503", self.max_connections)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        if self._reading_headers:
            return
        self._reading_headers = True
        self._header_bytes = 0
        self._graced = False
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _unread(self) -> bool:
        """Whether bytes wait in the kernel for this connection (a peek on a duplicate of its
        descriptor, asked only when a deadline passes)."""
        sock = self.transport.get_extra_info("socket")
        try:
            with socket.fromfd(sock.fileno(), socket.AF_INET, socket.SOCK_STREAM) as dup:
                return bool(dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except (OSError, AttributeError, ValueError):  # nothing waiting (EAGAIN), or no socket
            return False

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._reading_headers:
            return
        if not self._graced and self._unread():
            # The client's bytes are here, not yet read: the loop is behind (libuv runs due
            # timers before it polls the sockets), not the client. Once a request, a moment
            # to read them; a slow client's bytes are long read by the time its deadline comes.
            self._graced = True
            self._deadline = self.loop.call_later(GRACE_SECONDS, self._headers_too_slow)
            return
        if self._header_bytes:
            self.transport.write(_TOO_SLOW)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._reading_headers:
            super().data_received(data)
            return
        room = self.max_header_bytes - self._header_bytes
        if len(data) <= room:
            self._header_bytes += len(data)
            super().data_received(data)
            return
        # Feed only what the bound allows: if the header block ends within it, the rest is the
        # body (or the next request) and goes on as usual.
        self._header_bytes = self.max_header_bytes
        if room > 0:
            super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self._reading_headers:
            self._disarm()
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            return
        super().data_received(data[room:])

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_done = False
        self._await_headers()  # a pipelined request: counted from its own first byte

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm()
        super().on_headers_complete()

    # The next request's headers are awaited once both the request was read whole and its
    # answer sent: a refused request's unread body still arriving after its 401 is body,
    # not the next request's headers.
    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._message_done = True
        if self.cycle is not None and self.cycle.response_complete and not self.pipeline:
            self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._message_done and not self.pipeline and not self.transport.is_closing():
            self._await_headers()


def uvicorn_options() -> dict[str, Any]:
    """What every way of running the app passes to uvicorn (`kumkm serve`, the test server)."""
    return {"http": "app.web.server:GuardedHttpTools", "timeout_keep_alive": settings.keepalive_timeout}
