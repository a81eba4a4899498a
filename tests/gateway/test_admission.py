"""The admission lanes (gateway/api/admission.py) on their own: slots, queues, the doors first, draining.
The whole server under a real crowd: test_crowd.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.api.admission import Admission, Lane, lane_of


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
