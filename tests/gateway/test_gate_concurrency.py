"""Double entry is impossible: 50 simultaneous scans of one ticket, spread over 3 real gateway processes
(uvicorn, each with its own engine) on one database, admit it exactly once - on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC
from pathlib import Path

import httpx
import pytest

from gateway import process as gateway_process
from gateway.core import codes
from gateway.models import Admission, GateRefusal
from tests.utils.db import rows
from tests.utils.gate import bind_key, make_gate_key
from ticketkit.chain import free_port

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
SCANS = 50


@pytest.fixture()
def servers(app, settings, tmp_path):
    """PROCESSES gateway processes on the test's database (already migrated by `app`); their base URLs."""
    processes, urls = [], []
    try:
        for i in range(PROCESSES):
            port = free_port()
            with open(tmp_path / f"gateway-{i}.log", "w") as log:
                processes.append(gateway_process.spawn(settings, port=port, log=log, run_migrations=False))
            urls.append(f"http://127.0.0.1:{port}")
        for process, url in zip(processes, urls):
            gateway_process.wait_serving(url, process, timeout=90)
        yield urls
    finally:
        for process in processes:
            gateway_process.stop(process)


def test_fifty_simultaneous_scans_across_processes_admit_exactly_one(
    app, client, org, gw_event, new_fan, issue, servers
):
    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    key = bind_key(client, fan, ticket["id"])
    gates = [make_gate_key(client, org, gw_event["id"], label=f"Gate {i}") for i in range(5)]
    barrier = threading.Barrier(SCANS)
    answers: list[dict | None] = [None] * SCANS
    errors: list[BaseException] = []

    def scan(i: int) -> None:
        try:
            with httpx.Client(base_url=servers[i % len(servers)], timeout=60) as http:
                http.get("/gate/snapshot-key")  # the connection is open before the race starts
                code = codes.sign_code(key, ticket["id"])
                barrier.wait(timeout=60)
                response = http.post(
                    "/gate/scan",
                    json={"code": code, "device": f"scanner-{i}"},
                    headers=gates[i % len(gates)]["headers"],
                )
                assert response.status_code == 200, response.text
                answers[i] = response.json()
        except BaseException as error:  # noqa: BLE001  # reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(SCANS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    admitted = [i for i, a in enumerate(answers) if a["admit"]]
    assert len(admitted) == 1, answers
    assert sorted(a["reason"] for a in answers if not a["admit"]) == ["already_checked_in"] * (SCANS - 1)
    assert all(a["ticket_id"] == ticket["id"] and a["tier_name"] == "General" for a in answers)
    [admission] = rows(app, Admission)
    assert (str(admission.ticket_id), admission.device) == (ticket["id"], f"scanner-{admitted[0]}")
    refusals = rows(app, GateRefusal)
    assert len(refusals) == SCANS - 1 and {r.reason for r in refusals} == {"already_checked_in"}
    assert sorted(r.device for r in refusals) == sorted(
        f"scanner-{i}" for i in range(SCANS) if i != admitted[0]
    )


def test_the_check_in_write_itself_is_atomic(app, settings, client, org, gw_event, new_fan, issue):
    """Past the check, every scan reaches the write at once: 50 threads over 5 engines (as 5 processes would
    have) call `admit` for one ticket after a barrier; exactly one inserts, all 50 see the same admission."""
    import uuid
    from datetime import datetime

    from sqlmodel import Session

    from gateway import db
    from gateway.services.gate import admit

    fan = new_fan()
    [ticket] = issue(fan)["tickets"]
    gate = make_gate_key(client, org, gw_event["id"])
    engines = [db.make_engine(settings.database_url) for _ in range(5)]
    barrier = threading.Barrier(SCANS)
    outcomes: list[tuple[bool, uuid.UUID] | None] = [None] * SCANS
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            with Session(engines[i % len(engines)]) as session:
                session.connection()  # connected before the race
                barrier.wait(timeout=60)
                inserted, row = admit(
                    session,
                    event_id=uuid.UUID(gw_event["id"]),
                    ticket_id=uuid.UUID(ticket["id"]),
                    token_id=ticket["token_id"],
                    gate_key_id=uuid.UUID(gate["id"]),
                    device=f"d{i}",
                    source="online",
                    scanned_at=datetime.now(UTC),
                )
                outcomes[i] = (inserted, row.id)
        except BaseException as error:  # noqa: BLE001  # reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(SCANS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for engine in engines:
            engine.dispose()
    assert not errors, errors
    assert sum(inserted for inserted, _ in outcomes) == 1
    [admission] = rows(app, Admission)
    assert {row_id for _, row_id in outcomes} == {admission.id}
