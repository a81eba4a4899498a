"""Admission control: every HTTP request takes a slot in its lane before it reaches the app.

Why a crowd cannot starve the gateway (docs/gateway.md, "Under a crowd"):

- A lane (`gate` for /gate/*, `api` for the rest) runs at most `limit` requests at once; the next ones wait in
  the lane's queue — costing no thread and no database connection — up to `queue` of them, for at most
  `wait_seconds`. A request that finds the queue full is answered at once: 503 `overloaded` with
  `Retry-After`. A queued request whose client goes away leaves the queue (so the gateway recovers the moment
  the load stops, instead of serving thousands of requests nobody waits for).
- The lanes' limits add up to fewer threads than the thread pool has (`install` sizes it), so an admitted
  request never waits for a thread, and each engine's pool has a connection for every request that may run on
  it (gateway/db.py), so a thread never waits for a connection. The doors have a lane of their own: a fan
  flood fills the `api` lane's queue, never the gate's.
- `/healthz` takes no slot; `/readyz` and `/metrics` have a small lane of their own.
- Draining (SIGTERM, `drain()`): queued and new requests get 503 `shutting_down`; admitted ones finish.

The lanes' state is plain integers and deques: everything here runs on the event loop's one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import metrics

RETRY_AFTER_SECONDS = 1
FREE_PATHS = frozenset({"/healthz"})  # no slot: it touches neither a thread nor the database
PROBE_PATHS = frozenset({"/readyz", "/metrics"})  # a small lane of their own: they read the database


@dataclass
class Lane:
    """One class of requests: at most `limit` at once, at most `queue` waiting, each for at most
    `wait_seconds`."""

    name: str
    limit: int
    queue: int
    wait_seconds: float
    active: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)

    # While `yields_to` (the doors' lane) has work, this lane runs at most `limit_when_yielding` at once
    # (never more than `limit`, which the thread pool and the database pools are sized for): its requests
    # share the processes' cores (and Python's interpreter lock) with the doors' (main.lanes).
    yields_to: Lane | None = None
    limit_when_yielding: int = 1
    # The doors' lane counts as busy for `linger_seconds` after its last request came or went (scanners scan a
    # person every second or so: between two scans the fans' requests would otherwise fill every slot again,
    # and the next scan would share the interpreter with all of them).
    linger_seconds: float = 0.0
    busy_until: float = 0.0

    def busy(self) -> bool:
        return bool(self.active or self.waiting) or time.monotonic() < self.busy_until

    def _room(self) -> bool:
        other = self.yields_to
        limit = self.limit if other is None or not other.busy() else min(self.limit, self.limit_when_yielding)
        return self.active < limit

    def _touch(self) -> None:
        if self.linger_seconds:
            self.busy_until = time.monotonic() + self.linger_seconds

    def try_enter(self) -> bool:
        if not self.waiting and self._room():
            self.active += 1
            self._touch()
            return True
        return False

    def leave(self) -> None:
        """Free the slot, then let in as many waiters as there is room for."""
        self.active -= 1
        self._touch()
        self.admit_waiting()
        if self.yields_to is None:  # the doors' lane: its end may make room in the lanes that yield to it
            for lane in self.yielding:
                lane.admit_waiting()

    def admit_waiting(self) -> None:
        while self.waiting and self._room():
            future = self.waiting.popleft()
            if not future.done():
                self.active += 1
                self._touch()
                future.set_result(None)

    @property
    def yielding(self) -> list[Lane]:
        return self._yielding

    def __post_init__(self) -> None:
        self._yielding: list[Lane] = []
        if self.yields_to is not None:
            self.yields_to._yielding.append(self)


def lane_of(path: str) -> str | None:
    """The lane a path runs in; None: no slot needed."""
    if path in FREE_PATHS:
        return None
    if path.startswith("/gate/"):
        return "gate"
    if path in PROBE_PATHS:
        return "probe"
    return "api"


def _refusal(code: str, detail: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": code, "detail": detail, "retry_after": RETRY_AFTER_SECONDS}).encode()
    start = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        ],
    }
    return start, body


_OVERLOADED = _refusal(
    "overloaded", "the gateway is at capacity: retry after the number of seconds in Retry-After"
)
_TIMED_OUT = _refusal("overloaded", "the gateway is at capacity and this request waited too long: retry")
_SHUTTING_DOWN = _refusal("shutting_down", "the gateway is stopping: retry (another instance will answer)")


class Admission:
    """The lanes of one process and whether it is draining (app.state.admission)."""

    def __init__(
        self,
        lanes: dict[str, Lane],
        classify: Callable[[str], str | None] = lane_of,
        hold_seconds: float = 0.0,
    ):
        self.lanes, self.classify = lanes, classify
        # how long a refused connection is not read again (shed_hold_seconds)
        self.hold_seconds = hold_seconds
        self.draining = False
        self._drained = asyncio.Event()
        for lane in lanes.values():
            metrics.LANE_LIMIT.labels(lane.name).set(lane.limit)

    def drain(self) -> None:
        """Stop admitting: every queued request is answered 503 `shutting_down` now, every new one
        likewise."""
        self.draining = True
        self._drained.set()  # refusals held open end now
        for lane in self.lanes.values():
            while lane.waiting:
                future = lane.waiting.popleft()
                if not future.done():
                    future.set_exception(_Draining())


class AdmissionMiddleware:
    """The ASGI middleware (outermost, main.py): a slot in the request's lane, or a quick 503."""

    def __init__(self, app: ASGIApp, admission: Admission):
        self.app, self.admission = app, admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = self.admission.classify(scope["path"])
        if name is None:
            await self.app(scope, receive, send)
            return
        lane = self.admission.lanes[name]
        if self.admission.draining:
            await self._refuse(send, _SHUTTING_DOWN, lane)
            return
        if not lane.try_enter():
            if len(lane.waiting) >= lane.queue:
                await self._refuse(send, _OVERLOADED, lane)
                return
            try:
                receive = await self._wait(lane, receive)
            except _Draining:
                await self._refuse(send, _SHUTTING_DOWN, lane)
                return
            except TimeoutError:
                await self._refuse(send, _TIMED_OUT, lane)
                return
            except _Gone:
                return
        metrics.LANE_ACTIVE.labels(lane.name).inc()
        status = 500  # if the app fails before answering, the server answers 500
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            metrics.LANE_ACTIVE.labels(lane.name).dec()
            lane.leave()
            route = getattr(scope.get("route"), "path", "unmatched")  # the template the router matched
            metrics.LATENCY.labels(route).observe(time.perf_counter() - started)
            metrics.REQUESTS.labels(route, scope["method"], str(status)).inc()

    async def _wait(self, lane: Lane, receive: Receive) -> Receive:
        """Queue for a slot while watching the connection; returns the `receive` the app must use (what was
        read while waiting, then the connection's own). Raises TimeoutError, _Gone (the client left) or
        _Draining.

        One await, on the slot itself: the connection's reads and the deadline settle the slot through
        callbacks (a crowd queues thousands of these; each costs the event loop a task and a timer, no
        asyncio.wait)."""
        loop = asyncio.get_running_loop()
        slot: asyncio.Future[None] = loop.create_future()
        lane.waiting.append(slot)
        metrics.LANE_QUEUED.labels(lane.name).inc()
        started = time.monotonic()
        buffered: list[Message] = []
        reading: asyncio.Future[Message] | None = None

        def read_on() -> None:
            nonlocal reading
            reading = asyncio.ensure_future(receive())
            reading.add_done_callback(on_message)

        def on_message(task: asyncio.Future[Message]) -> None:
            """A message from the client while queued: a disconnect ends the wait; anything else (the body) is
            kept for the app, and reading goes on (more body, or nothing until the client goes away)."""
            if slot.done() or task.cancelled():
                return
            if (error := task.exception()) is not None:
                slot.set_exception(error)
            elif (message := task.result())["type"] == "http.disconnect":
                slot.set_exception(_Gone())
            else:
                buffered.append(message)
                read_on()

        def expire() -> None:
            if not slot.done():
                slot.set_exception(TimeoutError())

        read_on()
        timer = loop.call_later(lane.wait_seconds, expire)
        try:
            await slot  # granted by Lane.admit_waiting, or raises _Gone, TimeoutError, _Draining
        except BaseException:
            if slot.done() and not slot.cancelled() and slot.exception() is None:
                lane.leave()  # granted, then this task was cancelled: give it back
            if reading is not None:
                reading.cancel()
            raise
        finally:
            timer.cancel()
            metrics.LANE_QUEUED.labels(lane.name).dec()
            metrics.QUEUE_WAIT.labels(lane.name).observe(time.monotonic() - started)
        replay, pending = deque(buffered), reading

        async def replayed() -> Message:
            """What was read while queued (in order: the buffered messages, then the read still pending), then
            the connection's own receive."""
            nonlocal pending
            if replay:
                return replay.popleft()
            if pending is not None:
                read, pending = pending, None
                return await read
            return await receive()

        return replayed

    async def _refuse(self, send: Send, refusal: tuple[dict[str, Any], bytes], lane: Lane) -> None:
        metrics.SHED.labels(lane.name, "shutting_down" if refusal is _SHUTTING_DOWN else "overloaded").inc()
        start, body = refusal
        await send(start)
        hold = self.admission.hold_seconds if refusal is not _SHUTTING_DOWN else 0.0
        if hold <= 0:
            await send({"type": "http.response.body", "body": body})
            return
        # The whole answer goes out now (the client has it: Content-Length), but the response stays open for
        # `hold`: the server reads the connection's next request only then. A client that ignores Retry-After
        # waits here, on a timer, instead of costing the CPU a refusal a few microseconds later.
        await send({"type": "http.response.body", "body": body, "more_body": True})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.admission._drained.wait(), hold)
        await send({"type": "http.response.body", "body": b""})


class _Gone(Exception):
    """The client closed the connection while its request was queued."""


class _Draining(Exception):
    pass


def drain_on_signals(admission: Admission) -> Callable[[], None]:
    """Chain a drain in front of the server's own SIGTERM/SIGINT handlers (uvicorn's, installed before the app
    starts); returns the function that puts the previous handlers back."""
    previous: dict[int, Any] = {}

    loop = asyncio.get_running_loop()

    def handler(signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(admission.drain)  # never touch the lanes from inside a signal handler
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (a test client): nothing to chain
            return lambda: None

    def restore() -> None:
        for signum, before in previous.items():
            signal.signal(signum, before)

    return restore
