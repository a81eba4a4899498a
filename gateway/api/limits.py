"""Refuse request bodies over a size limit with 413, by Content-Length or while streaming; refuse NUL
characters in any input with 422 (a router dependency, main.py)."""

from __future__ import annotations

import json
import re

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Unprocessable


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {"error": "body_too_large", "detail": f"request bodies are limited to {self.max_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = True
                if too_large:
                    await self._reject(send)
                    return
        received = 0
        started = False
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app turned our exception into its own error response: answer 413 instead
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)


MAX_DEPTH = 32  # no request schema nests deeper than a few levels
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _too_deep(body: bytes) -> bool:
    """Whether JSON nests arrays/objects deeper than MAX_DEPTH (brackets inside strings do not count). Parsing
    such a body recurses once per level: thousands of levels are a RecursionError, not an answer."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for char in _STRING.sub(b"", body):
        if char in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in b"]}":
            depth -= 1
    return False


def _has_nul(value: object) -> bool:
    """Whether any string (key or value) in decoded JSON holds a NUL; iterative, whatever the nesting."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def refuse_nul_characters(request: Request) -> None:
    """No text column can hold a NUL character (PostgreSQL refuses one: a 500), so no input may carry one; and
    no body may nest deeper than MAX_DEPTH (422 `too_deeply_nested`). An image body (organiser art, `image/*`)
    is binary, kept as bytes, and not looked at."""
    binary = request.headers.get("content-type", "").lower().startswith("image/")
    body = b"" if binary else await request.body()  # cached: the route reads the same bytes
    if _too_deep(body):
        raise Unprocessable(f"JSON nested deeper than {MAX_DEPTH} levels", code="too_deeply_nested")
    texts = (*request.path_params.values(), *(f"{k}{v}" for k, v in request.query_params.multi_items()))
    nul = b"\x00" in body or any("\x00" in text for text in texts)
    if not nul and b"\\u0000" in body:  # a JSON escape: look at the decoded strings
        try:
            nul = _has_nul(json.loads(body))
        except ValueError:
            pass
    if nul:
        raise Unprocessable("text must not contain NUL (\\u0000) characters", code="nul_character")
