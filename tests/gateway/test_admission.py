"""The admission lanes (gateway/api/admission.py) on their own: slots, queues, the doors first, draining.
The whole server under a real crowd: test_crowd.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.api.admission import Admission, AdmissionMiddleware, Lane, lane_of


def lanes() -> tuple[Lane, Lane]:
    gate = Lane("gate", 2, 10, 5.0)
    return gate, Lane("api", 3, 10, 5.0, yields_to=gate, limit_when_yielding=1)


def test_paths_have_their_lanes():
    assert lane_of("/gate/scan") == "gate" and lane_of("/gate/verify") == "gate"
    assert lane_of("/fans/me/tickets") == "api" and lane_of("/events/x/report.html") == "api"
    assert lane_of("/readyz") == "probe" and lane_of("/metrics") == "probe"
    assert lane_of("/healthz") is None  # never queued


def test_a_lane_runs_its_limit_and_hands_slots_to_waiters_in_order():
    async def scenario() -> list[str]:
        _, api = lanes()
        assert all(api.try_enter() for _ in range(3)) and not api.try_enter()
        loop = asyncio.get_running_loop()
        order = []
        waiters = [loop.create_future() for _ in range(2)]
        api.waiting.extend(waiters)
        for name, waiter in zip("ab", waiters):
            waiter.add_done_callback(lambda _, name=name: order.append(name))
        api.leave()
        await asyncio.sleep(0)
        assert api.active == 3 and len(api.waiting) == 1
        api.leave()
        api.leave()
        await asyncio.sleep(0)
        return order

    assert asyncio.run(scenario()) == ["a", "b"]


def test_the_fans_lane_yields_while_the_doors_have_work():
    gate, api = lanes()
    assert gate.try_enter()  # the doors are busy
    assert api.try_enter() and not api.try_enter()  # one fan request at a time
    gate.leave()  # the doors are idle again: the fans' lane has its full limit
    assert api.try_enter() and api.try_enter() and not api.try_enter()


def test_a_lane_never_runs_more_than_its_limit_while_yielding():
    """A yielding limit above the lane's own (the doors' server runs the fans' lane at 1, the yielding default
    is 2) is capped at the lane's limit: the thread and database pools are sized for that."""
    gate = Lane("gate", 2, 10, 5.0)
    api = Lane("api", 1, 10, 5.0, yields_to=gate, limit_when_yielding=2)
    assert gate.try_enter()
    assert api.try_enter() and not api.try_enter()


def test_the_doors_stay_busy_for_their_linger_after_a_scan():
    """Scanners scan a person a second: between two scans the fans' lane stays at its yielding limit."""
    gate = Lane("gate", 2, 10, 5.0, linger_seconds=0.2)
    api = Lane("api", 3, 10, 5.0, yields_to=gate, limit_when_yielding=1)
    assert gate.try_enter()
    gate.leave()  # the scan is done, the doors idle for a moment
    assert api.try_enter() and not api.try_enter()  # still one fan request at a time
    time.sleep(0.3)  # no scan for longer than the linger: the fans' lane has its full limit again
    assert api.try_enter() and api.try_enter() and not api.try_enter()


def test_a_waiting_fan_request_is_let_in_when_the_doors_go_idle():
    async def scenario() -> bool:
        gate, api = lanes()
        gate.try_enter()
        api.try_enter()
        waiter = asyncio.get_running_loop().create_future()
        api.waiting.append(waiter)
        api.admit_waiting()
        assert not waiter.done()
        gate.leave()
        return waiter.done() and api.active == 2

    assert asyncio.run(scenario())


class Connection:
    """One client's request as the middleware sees it: the messages it will read (then nothing until
    `leave()`: a disconnect), and what was sent back."""

    def __init__(self, *messages: dict):
        self.messages = list(messages)
        self.gone = asyncio.Event()
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        if self.messages:
            await asyncio.sleep(0.01)  # the body arrives while the request is queued
            return self.messages.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self.gone.set()

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.sent if m["type"] == "http.response.start"), None)


def queued(wait_seconds: float = 5.0):
    """A middleware whose `api` lane runs one request at a time; the running one holds its slot until
    `release` is set. The app answers 200 with the body it read."""
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/hold":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    lane = Lane("api", 1, 10, wait_seconds)
    admission = Admission({"api": lane}, classify=lambda path: "api")
    return AdmissionMiddleware(app, admission), lane, release


def scope(path: str) -> dict:
    return {"type": "http", "path": path, "method": "POST", "headers": []}


NO_BODY = {"type": "http.request", "body": b"", "more_body": False}


async def request(middleware, path: str, *messages: dict) -> tuple[Connection, asyncio.Future]:
    """A request sent through `middleware` (running as a task), once it has reached its lane."""
    connection = Connection(*(messages or (NO_BODY,)))
    task = asyncio.ensure_future(middleware(scope(path), connection.receive, connection.send))
    await asyncio.sleep(0.05)
    return connection, task


def test_a_queued_request_keeps_its_body_and_runs_when_a_slot_frees():
    async def scenario() -> tuple[int | None, bytes]:
        middleware, lane, release = queued()
        _first, holder = await request(middleware, "/hold")
        second, waiter = await request(
            middleware,
            "/x",
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        )
        await asyncio.sleep(0.05)  # both body parts arrive while it is queued
        assert len(lane.waiting) == 1 and second.sent == []
        release.set()
        await asyncio.gather(holder, waiter)
        assert lane.active == 0 and not lane.waiting
        return second.status, second.sent[-1]["body"]

    assert asyncio.run(scenario()) == (200, b"abcd")


def test_a_queued_request_whose_client_leaves_is_dropped_without_an_answer():
    """The gateway recovers the moment a flood stops: nobody's abandoned request is run later."""

    async def scenario() -> None:
        middleware, lane, release = queued()
        _first, holder = await request(middleware, "/hold")
        second, waiter = await request(middleware, "/x")
        second.leave()
        await asyncio.wait_for(waiter, 1)  # ends at once, while the slot is still held
        assert second.sent == [] and not holder.done()
        release.set()
        await holder
        assert lane.active == 0

    asyncio.run(scenario())


def test_a_request_queued_past_the_lanes_wait_gets_503_overloaded():
    async def scenario() -> None:
        middleware, lane, release = queued(wait_seconds=0.1)
        _first, holder = await request(middleware, "/hold")
        second = Connection(NO_BODY)
        started = time.monotonic()
        await middleware(scope("/x"), second.receive, second.send)
        assert 0.1 <= time.monotonic() - started < 1
        assert second.status == 503 and b'"overloaded"' in second.sent[-1]["body"]
        assert not lane.waiting or lane.waiting[0].done()
        release.set()
        await holder
        assert lane.active == 0

    asyncio.run(scenario())


def test_a_request_queued_when_draining_starts_gets_503_shutting_down():
    async def scenario() -> None:
        middleware, lane, release = queued()
        first, holder = await request(middleware, "/hold")
        second, waiter = await request(middleware, "/x")
        middleware.admission.drain()
        await asyncio.wait_for(waiter, 1)
        assert second.status == 503 and b'"shutting_down"' in second.sent[-1]["body"]
        release.set()
        await holder  # the running request finishes
        assert first.status == 200 and lane.active == 0

    asyncio.run(scenario())


def test_draining_refuses_every_waiter():
    async def scenario() -> list[bool]:
        gate, api = lanes()
        admission = Admission({"gate": gate, "api": api})
        for _ in range(3):
            api.try_enter()
        waiters = [asyncio.get_running_loop().create_future() for _ in range(3)]
        api.waiting.extend(waiters)
        admission.drain()
        return [admission.draining] + [w.done() and w.exception() is not None for w in waiters]

    assert all(asyncio.run(scenario()))


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_the_probes_answer(client, path):
    response = client.get(path)
    assert response.status_code in (200, 503)
    if path == "/metrics":
        assert "gateway_lane_limit" in response.text and "gateway_checkin_queue_depth" in response.text


def test_readyz_names_what_fails(app, client):
    assert client.get("/readyz").json()["status"] == "ready"
    app.state.runtime.settings.rpc_url = "http://127.0.0.1:9"  # nothing listens there
    from gateway.services import health

    health._cache.clear()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"] == "not_ready"
    assert response.json()["failing"] == ["rpc"] and response.headers["Retry-After"] == "5"
