"""What keeps bad requests and slow clients from hurting the service, in two layers:

- `RequestLimits`, an ASGI middleware: the URL, the headers and the body (by path) are
  limited, and a body that stalls is cut off; each refusal is our JSON error.
- `HeaderDeadlineProtocol`, under it: uvicorn's h11 protocol with a deadline on each
  request's headers, answering the errors it finds itself in the same JSON form.

uvicorn times a connection out only between requests (`timeout_keep_alive`, armed when a
response ends). A client that opens a connection and never finishes its request line and
headers is kept forever, and counts against `limit_concurrency`: seventy such sockets make
every other request get 503. Here a request's headers must arrive within `header_timeout_s`
of the connection opening, or of the request's first byte on a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Sequence

import h11
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE as MAX_HEAD_BYTES  # as uvicorn imports it
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_URL_BYTES = 8 * 1024  # nginx's default buffer for a request line
MAX_HEADERS = 100  # Apache's default LimitRequestFields
CLOSE = {"Connection": "close"}  # after a refusal mid-request: the rest of it is not read


class RequestLimits:
    """Answer 414 to a long URL and 431 to too many or too large headers (h11 limits only a
    head that arrives in pieces); 413 to a request body over its path's limit while it streams
    in (or at once from its Content-Length), so an oversized upload is never held or spooled
    whole; and 408 to a body that stalls, so a client cannot hold its connection by sending nothing."""

    def __init__(self, app: ASGIApp, body_limits: Sequence[tuple[str, int, str]], stall_s: float):
        self.app = app
        self.body_limits = body_limits  # (path prefix, max bytes, message): the first prefix that matches applies
        self.stall_s = stall_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes, message = next((size, text) for prefix, size, text in self.body_limits
                                  if scope["path"].startswith(prefix))
        refusal = _refusal(scope, max_bytes, message)
        if refusal is not None:
            status, sentence = refusal
            return await JSONResponse({"error": sentence, "status": status}, status, headers=CLOSE)(scope, receive, send)
        received, complete = 0, False

        async def limited() -> dict:
            nonlocal received, complete
            if complete:  # after the body only a disconnect comes, whenever it comes
                return await receive()
            try:
                event = await asyncio.wait_for(receive(), self.stall_s)
            except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
                raise HTTPException(408, f"the upload stalled: nothing arrived for {self.stall_s:g} s",
                                    headers=CLOSE) from None
            received += len(event.get("body", b""))
            complete = not event.get("more_body", False)
            if received > max_bytes:
                raise HTTPException(413, message, headers=CLOSE)  # FastAPI re-raises it from body parsing
            return event

        await self.app(scope, limited, send)


def _refusal(scope: Scope, max_bytes: int, too_large: str) -> tuple[int, str] | None:
    """(status, sentence) for a request whose URL, headers or declared body size are over the limits."""
    if len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"]) > MAX_URL_BYTES:
        return 414, f"the URL is over the {MAX_URL_BYTES // 1024} KB limit"
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS or sum(len(name) + len(value) for name, value in headers) > MAX_HEAD_BYTES:
        return 431, f"more than {MAX_HEADERS} headers or {MAX_HEAD_BYTES // 1024} KB of them"
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return 413, too_large
    return None


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol; `deadline_protocol(seconds)` makes one with its deadline."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a request begun but its headers not complete
            if self._header_timer is None:
                self._arm_header_timer()
        else:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """h11 could not parse the request (uvicorn's answer is plain text): say why, as JSON."""
        if len(self.conn.trailing_data[0]) > MAX_HEAD_BYTES:
            self.answer_and_close(431, f"the request line and headers are over the {MAX_HEAD_BYTES // 1024} KB limit")
        else:
            self.answer_and_close(400, "malformed HTTP request")

    def answer_and_close(self, status: int, sentence: str) -> None:
        """Write one JSON error before any request was read (so outside h11's state) and hang up."""
        body = json.dumps({"error": sentence, "status": status}).encode()
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        self.answer_and_close(408, f"the request's headers did not arrive within {self.header_timeout_s:g} s")


def deadline_protocol(header_timeout_s: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class to give uvicorn (`http=`), with this header deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": header_timeout_s})
