"""The random-fault scenario of issue 13: a gateway issues tickets to account fans, fans gift and resell, the
gate admits, the check-in queue drains to the chain — on anvil with interval blocks, behind a FaultProxy
(429s, 502s), while a fault thread spikes the base fee, drops every pending transaction and reorganises the
last blocks. Then the faults stop and the scenario measures how many blocks it takes until every record is
done, and checks that the database equals the chain.

    report = run_scenario("sqlite:///x.db", tickets=200, gifts=20, resales=10, admissions=200)

`tests/chaos/test_scenario.py` runs a small one in CI; `python -m bench.chaos` (`make chaos`) the full size
(2,000 tickets, 200 gifts, 100 resales, 2,000 admissions, 1-second blocks) and records the `chaos.*` keys.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

import ticketkit as tk
from gateway.core.config import Settings
from gateway.main import create_app
from gateway.models import Admission, ChainTransaction, Issuance, ResaleSettlement, Ticket, Transfer, utcnow
from gateway.services import gate as gate_service
from tests.utils.fault_proxy import FaultProxy
from ticketkit.tx.fees import GWEI

ETH = 10**18
CEILING_GWEI = 500


@dataclass
class ScenarioReport:
    records: int = 0  # issuances + gifts + settlements + check-in batches done
    convergence_blocks: int = 0  # blocks from the end of the faults until every record was done
    convergence_seconds: float = 0.0
    replacements: int = 0  # signed versions beyond the first, over every operator transaction
    fee_over_base_ratio: float = 0.0  # mean effective gas price / the base fee of its block
    max_fee_paid_gwei: float = 0.0
    mismatches: int = 0  # database vs chain: owners, used flags, badges
    faults: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def keys(self) -> dict[str, float]:
        return {
            "chaos.convergence_blocks": self.convergence_blocks,
            "chaos.replacements": self.replacements,
            "chaos.fee_over_base_ratio": round(self.fee_over_base_ratio, 3),
            "chaos.records": self.records,
            "chaos.mismatches": self.mismatches,
        }


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


# What a client retries, with the same Idempotency-Key: the node unavailable, a reorganisation under the
# estimate (the holder's authorisation checked against a state that just changed), its earlier request
# pending.
RETRIED = {
    "rpc_unavailable",
    "chain_error",
    "transaction_failed",
    "invalid_holder_signature",
    "holder_transfer_pending",
    "request_in_progress",
}


def _post(client, url: str, *, patience: float = 600, **kwargs) -> dict:
    deadline = time.monotonic() + patience
    while True:
        response = client.post(url, **kwargs)
        if (
            response.status_code < 400
            or response.json().get("error") not in RETRIED
            or time.monotonic() > deadline
        ):
            return _ok(response)
        time.sleep(0.25)


class Faults:
    """Random faults on the node until stopped: base-fee spikes ×10–×50, every pending transaction dropped,
    reorganisations of depth 1–3 (the scenario's confirmations, 3, cover them: a deeper reorganisation than
    the confirmation depth undoes what was final, by definition); the proxy answers 429 to 10 % and 502 to 5 %
    of
    requests meanwhile."""

    def __init__(self, chain: tk.Chain, proxy: FaultProxy, *, seed: int, every: float):
        self.chain, self.proxy, self.rng, self.every = chain, proxy, random.Random(seed), every
        self.counts: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def _run(self) -> None:
        self.proxy.set(rate_limited=0.10, bad_gateway=0.05, retry_after=0)
        while not self._stop.wait(self.rng.uniform(0.5, 1.5) * self.every):
            fault = self.rng.choice(["spike", "spike", "drop", "reorg"])
            try:
                if fault == "spike":
                    base = int(self.chain.rpc("eth_feeHistory", [1, "latest", []])["baseFeePerGas"][-1], 16)
                    factor = self.rng.choice([10, 50])
                    self.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(min(base * factor, 200 * GWEI))])
                elif fault == "drop":
                    self.chain.rpc("anvil_dropAllTransactions")
                else:
                    self.chain.rpc("anvil_reorg", [self.rng.randint(1, 3), []])
                self.counts[fault] += 1
            except tk.TicketkitError as error:
                self.counts[f"{fault} failed: {type(error).__name__}"] += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.proxy.set(rate_limited=0.0, bad_gateway=0.0)


def run_scenario(
    database_url: str,
    *,
    tickets: int,
    gifts: int,
    resales: int,
    admissions: int,
    per_issue: int = 10,
    block_time: float = 1.0,
    confirmations: int = 3,
    seed: int = 13,
    fault_every: float = 2.0,
    bound_seconds: float = 120.0,
) -> ScenarioReport:
    rng = random.Random(seed)
    report = ScenarioReport()
    with tk.local_chain(block_time=block_time) as chain, FaultProxy(chain.url, seed=seed) as proxy:
        organiser, operator = chain.account(0), chain.account(9)
        platform = tk.deploy_platform(chain, organiser)
        now = chain.timestamp()
        collection = platform.create_collection(
            tk.EventConfig(
                "Chaos",
                "CHS",
                start_time=now + 30 * 86400,
                transfer_lock_time=now + 29 * 86400,
                resale_cap_bps=11_000,
                royalty_bps=500,
                gifts_allowed=True,
            ),
            [
                tk.TierConfig(
                    "General",
                    face_value=ETH // 100,
                    supply=tickets,
                    sale_start=now - 1,
                    sale_end=now + 20 * 86400,
                )
            ],
            salt="chaos",
            badge=platform.create_badge("Chaos badges", "CHB", salt="chaos-badge", sender=organiser),
            sender=organiser,
        )
        for role in ("MINTER_ROLE", "GATEWAY_ROLE", "GATE_ROLE"):
            collection.grant_role(role, operator.address, sender=organiser)
        settings = Settings(
            database_url=database_url,
            rpc_url=proxy.url,
            chain_id=chain.chain_id,
            operator_key=operator.key.to_0x_hex(),
            key_encryption_secret=secrets.token_hex(16),
            confirmations=confirmations,
            stuck_blocks=2,
            max_fee_gwei=CEILING_GWEI,
            sender_enabled=True,
            sender_poll_seconds=0.2,
            checkin_queue_enabled=True,
            checkin_poll_seconds=0.5,
            checkin_batch_size=100,
            rpc_timeout_seconds=5,
            rpc_retries=8,
        )
        app = create_app(settings)
        engine = app.state.runtime.engine
        faults = Faults(chain, proxy, seed=seed, every=fault_every)
        with TestClient(app) as client:
            org = _ok(client.post("/organisers", json={"name": "Chaos"}))
            org_h = {"Authorization": f"Bearer {org['api_key']}"}
            event = _ok(
                client.post(
                    "/events", json={"collection_address": collection.address, "name": "Chaos"}, headers=org_h
                )
            )
            gate = _ok(client.post(f"/events/{event['id']}/gate-keys", headers=org_h))
            fans = [_ok(client.post("/fans", json={})) for _ in range(max(tickets // per_issue, 2))]
            for fan in fans:
                fan["headers"] = {"Authorization": f"Bearer {fan['session_token']}"}
            faults.start()
            try:
                # issuances
                for i in range(tickets // per_issue):
                    _post(
                        client,
                        f"/events/{event['id']}/tickets/issue",
                        json={
                            "fan_id": fans[i]["id"],
                            "tier_id": 0,
                            "quantity": per_issue,
                            "payment_reference": f"chaos-{i}",
                        },
                        headers=org_h | {"Idempotency-Key": f"issue-{i}"},
                    )
                _wait(
                    lambda: _count(engine, Issuance, "pending") == 0, bound_seconds * 3, "issuances", report
                )
                owned = _tickets(engine)
                # gifts, then resales, of distinct tickets
                # one ticket per holder first (a holder has one transfer on its way at a time), then more
                by_holder: dict[str, list[str]] = {}
                for ticket_id in rng.sample(sorted(owned), len(owned)):
                    by_holder.setdefault(owned[ticket_id], []).append(ticket_id)
                rounds = [
                    ids[n]
                    for n in range(max(map(len, by_holder.values())))
                    for ids in by_holder.values()
                    if n < len(ids)
                ]
                chosen = rounds[: gifts + resales]
                by_fan = {fan["id"]: fan for fan in fans}
                for n, ticket_id in enumerate(chosen[:gifts]):
                    holder = owned[ticket_id]
                    to = rng.choice([f for f in fans if f["id"] != holder])
                    _post(
                        client,
                        f"/tickets/{ticket_id}/gift",
                        json={"to_fan": to["id"]},
                        headers=by_fan[holder]["headers"] | {"Idempotency-Key": f"gift-{n}"},
                    )
                for n, ticket_id in enumerate(chosen[gifts:]):
                    holder = owned[ticket_id]
                    listing = _post(
                        client,
                        f"/tickets/{ticket_id}/resale",
                        json={"price_wei": ETH // 100},
                        headers=by_fan[holder]["headers"] | {"Idempotency-Key": f"list-{n}"},
                    )
                    buyer = rng.choice([f for f in fans if f["id"] != holder])
                    _post(
                        client,
                        f"/listings/{listing['id']}/buy",
                        json={"payment_reference": f"r-{n}"},
                        headers=buyer["headers"] | {"Idempotency-Key": f"buy-{n}"},
                    )
                _wait(
                    lambda: (
                        _count(engine, Transfer, "pending") + _count(engine, ResaleSettlement, "pending") == 0
                    ),
                    bound_seconds * 3,
                    "gifts and settlements",
                    report,
                )
                # the gate admits, the queue drains
                with Session(engine) as session:
                    admitted = list(session.exec(select(Ticket).order_by(Ticket.token_id)).all())[:admissions]
                    for ticket in admitted:
                        gate_service.admit(
                            session,
                            event_id=uuid.UUID(event["id"]),
                            ticket_id=ticket.id,
                            token_id=ticket.token_id,
                            gate_key_id=uuid.UUID(gate["id"]),
                            device=None,
                            source="online",
                            scanned_at=utcnow(),
                        )
                time.sleep(fault_every * 2)  # faults go on while the queue starts draining
            finally:
                faults.stop()
                report.faults = faults.counts
            end_block, end_time = chain.w3.eth.block_number, time.monotonic()
            _wait(lambda: _converged(engine), bound_seconds, "convergence after the faults", report)
            report.convergence_blocks = chain.w3.eth.block_number - end_block
            report.convergence_seconds = time.monotonic() - end_time
            _verify(chain, collection, engine, operator, report)
        app.state.runtime.dispose()
    return report


def _count(engine, model, status: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(model.status == status)).one()


def _unsettled_admissions(engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Admission).where(Admission.chain_status != "done")
        ).one()


def _converged(engine) -> bool:
    with Session(engine) as session:
        unfinished = session.exec(
            select(func.count()).select_from(ChainTransaction).where(ChainTransaction.applied.is_(False))
        ).one()
    return (
        unfinished == 0
        and _unsettled_admissions(engine) == 0
        and all(_count(engine, model, "pending") == 0 for model in (Issuance, Transfer, ResaleSettlement))
    )


def _tickets(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {str(t.id): str(t.owner_fan_id) for t in session.exec(select(Ticket))}


def _wait(condition, timeout: float, what: str, report: ScenarioReport) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            report.problems.append(f"timed out waiting for {what}")
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def _verify(chain: tk.Chain, collection: tk.Collection, engine, operator, report: ScenarioReport) -> None:
    from gateway.models import CheckinBatch, Fan

    with Session(engine) as session:
        addresses = {str(f.id): f.address for f in session.exec(select(Fan))}
        tickets = list(session.exec(select(Ticket)))
        used = {a.token_id for a in session.exec(select(Admission).where(Admission.chain_status == "done"))}
        rows = list(session.exec(select(ChainTransaction)))
        report.records = sum(_count(engine, m, "done") for m in (Issuance, Transfer, ResaleSettlement))
        report.records += session.exec(
            select(func.count()).select_from(CheckinBatch).where(CheckinBatch.status == "done")
        ).one()
    badge = collection.badge()
    event_number = badge.event_id_of(collection.address)
    checked = Counter(
        e["args"]["tokenId"] for e in collection.contract.events.CheckedIn().get_logs(from_block=0)
    )
    for ticket in tickets:
        owner = addresses[str(ticket.owner_fan_id)]
        if collection.owner_of(ticket.token_id).lower() != owner.lower():
            report.mismatches += 1
            report.problems.append(f"owner of {ticket.token_id}")
        if collection.is_used(ticket.token_id) != (ticket.token_id in used):
            report.mismatches += 1
            report.problems.append(f"used flag of {ticket.token_id}")
        if ticket.token_id in used and not badge.has_attended(owner, event_number):
            report.mismatches += 1
            report.problems.append(f"badge of {owner}")
    if collection.total_minted() != len(tickets):
        report.mismatches += 1
        report.problems.append(f"minted {collection.total_minted()} vs {len(tickets)} tickets on record")
    twice = [token for token, n in checked.items() if n != 1]
    if twice or set(checked) != used:
        report.mismatches += len(twice) + len(set(checked) ^ used)
        report.problems.append(
            f"check-ins on chain vs done: {len(twice)} twice, {len(set(checked) ^ used)} differ"
        )
    pending = chain.w3.eth.get_transaction_count(operator.address, "pending")
    if pending != chain.w3.eth.get_transaction_count(operator.address, "latest"):
        report.mismatches += 1
        report.problems.append("the operator has a nonce gap or a transaction still pending")
    ratios, ceiling = [], CEILING_GWEI * GWEI
    base_of: dict[int, int] = {}
    for row in rows:
        attempts = json.loads(row.attempts)
        report.replacements += max(len(attempts) - 1, 0)
        if any(a["max_fee"] > ceiling for a in attempts):
            report.mismatches += 1
            report.problems.append(f"a version of {row.id} was signed above the ceiling")
        if row.effective_gas_price and row.mined_block is not None:
            paid = int(row.effective_gas_price)
            report.max_fee_paid_gwei = max(report.max_fee_paid_gwei, paid / GWEI)
            if row.mined_block not in base_of:
                base_of[row.mined_block] = chain.w3.eth.get_block(row.mined_block)["baseFeePerGas"]
            if base_of[row.mined_block]:
                ratios.append(paid / base_of[row.mined_block])
    report.fee_over_base_ratio = sum(ratios) / len(ratios) if ratios else 0.0
