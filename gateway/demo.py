"""`make demo`, gateway part: the same kind of event, driven only through the gateway's HTTP API.

A local anvil, an in-process app (TestClient) on a temporary SQLite file: an organiser registers an
event, fans get custodial accounts, tickets are issued, one is gifted, one is listed under the resale cap
and bought (paid off chain, settled by a gatewayTransfer), and an over-cap listing is refused. Then the
gate: phones bind device keys, a gate scans rotating codes (admit once; a repeat, an old screenshot and
the seller's stale code refused), and the check-in queue carries the admission to the chain, which
mints the attendance badge.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

import ticketkit as tk

from .core import codes
from .core.config import Settings
from .main import create_app
from .serve import sample_event
from .services import checkin_queue

console = Console()


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def run() -> dict[str, object]:
    with tk.local_chain() as chain, tempfile.TemporaryDirectory() as tmp:
        organiser, operator = chain.account(0), chain.account(9)
        collection = sample_event(chain, organiser)
        for role in ("MINTER_ROLE", "GATEWAY_ROLE", "GATE_ROLE"):
            collection.grant_role(role, operator.address, sender=organiser)
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            rpc_url=chain.url,
            chain_id=chain.chain_id,
            operator_key=f"0x{operator.key.hex()}",
            key_encryption_secret=secrets.token_hex(32),
            send_wait_seconds=30,  # each write answers once its transaction is final,
            sender_enabled=False,
        )  # and drives the sending worker itself (so does the drain)
        app = create_app(settings)
        with TestClient(app) as client:

            def key() -> dict[str, str]:
                return {"Idempotency-Key": secrets.token_hex(8)}

            org = _ok(client.post("/organisers", json={"name": "Night Owls"}))
            org_h = {"Authorization": f"Bearer {org['api_key']}"}
            event = _ok(
                client.post(
                    "/events",
                    json={"collection_address": collection.address, "name": "Sample gig"},
                    headers=org_h,
                )
            )
            fans = {name: _ok(client.post("/fans", json={})) for name in ("alice", "bob", "carol")}
            h = {name: {"Authorization": f"Bearer {f['session_token']}"} for name, f in fans.items()}
            names = {f["address"]: name for name, f in fans.items()}
            console.print(f"[bold]gateway demo[/]: event {event['id']} on {collection.address}")
            issued = _ok(
                client.post(
                    f"/events/{event['id']}/tickets/issue",
                    json={
                        "fan_id": fans["alice"]["id"],
                        "tier_id": 0,
                        "quantity": 2,
                        "payment_reference": "demo:order-1",
                    },
                    headers=org_h | key(),
                )
            )
            first, second = issued["tickets"]
            console.print(f"issued #{first['token_id']} and #{second['token_id']} to alice")
            gift = _ok(
                client.post(
                    f"/tickets/{first['id']}/gift",
                    json={"to_fan": fans["bob"]["id"]},
                    headers=h["alice"] | key(),
                )
            )
            console.print(f"alice gifted #{first['token_id']} to bob ({gift['tx_hash'][:10]}…)")
            # Alice's phone shows #second before she sells it: her code must stop working after the sale.
            phones = {"alice": codes.new_device_key(), "bob": codes.new_device_key()}
            _ok(
                client.post(
                    f"/tickets/{second['id']}/device",
                    json={"public_key": codes.public_key_text(phones["alice"])},
                    headers=h["alice"],
                )
            )
            cap = collection.resale_cap_of(second["token_id"])
            refused = _ok(
                client.post(
                    f"/tickets/{second['id']}/resale", json={"price_wei": cap * 2}, headers=h["alice"] | key()
                ),
                409,
            )
            console.print(
                f"[red]refused[/]: listing at {cap * 2} wei → {refused['error']} (cap {refused['cap_wei']})"
            )
            listing = _ok(
                client.post(
                    f"/tickets/{second['id']}/resale", json={"price_wei": cap}, headers=h["alice"] | key()
                )
            )
            offers = _ok(client.get(f"/events/{event['id']}/listings"), 200)
            sale = _ok(
                client.post(
                    f"/listings/{listing['id']}/buy",
                    json={"payment_reference": "demo:resale-1"},
                    headers=h["carol"] | key(),
                )
            )
            console.print(
                f"carol bought #{second['token_id']} at {sale['price_wei']} wei ({sale['tx_hash'][:10]}…)"
            )

            # Doors open: bob's phone binds a key to his ticket and shows rotating codes to the North door.
            gate = _ok(
                client.post(f"/events/{event['id']}/gate-keys", json={"label": "North door"}, headers=org_h)
            )
            gate_h = {"Authorization": f"Bearer {gate['api_key']}"}
            _ok(
                client.post(
                    f"/tickets/{first['id']}/device",
                    json={"public_key": codes.public_key_text(phones["bob"])},
                    headers=h["bob"],
                )
            )
            scans = {
                "bob's code": codes.sign_code(phones["bob"], first["id"]),
                "bob's code again": codes.sign_code(phones["bob"], first["id"]),
                "a screenshot from 2 min ago": codes.sign_code(
                    phones["bob"], first["id"], codes.window_of(time.time()) - 8
                ),
                "alice's code for the ticket she sold": codes.sign_code(phones["alice"], second["id"]),
            }
            verdicts = {}
            for what, code in scans.items():
                verdict = _ok(client.post("/gate/scan", json={"code": code}, headers=gate_h), 200)
                verdicts[what] = "admit" if verdict["admit"] else verdict["reason"]
                colour = "green" if verdict["admit"] else "red"
                console.print(
                    f"gate scans {what}: [{colour}]{verdicts[what]}[/] ({verdict.get('tier_name')})"
                )
            drained = checkin_queue.drain_once(app.state.runtime)
            badge = collection.badge()
            assert badge is not None  # the sample event was created with the organiser's badge
            badged = badge.has_attended(fans["bob"]["address"], badge.event_id_of(collection.address))
            console.print(
                f"check-in queue: {drained.checked_in} ticket(s) checked in on chain; "
                f"bob holds the attendance badge: {badged}"
            )

            table = Table(title="Sample gig via the gateway")
            for column in ("ticket", "holder", "how"):
                table.add_column(column)
            holders = {}
            for ticket, how in ((first, "gift"), (second, "resale")):
                holder = names[collection.owner_of(ticket["token_id"])]
                holders[ticket["token_id"]] = holder
                table.add_row(f"#{ticket['token_id']}", holder, how)
            console.print(table)
        return {
            "event": event["id"],
            "issued": [first["token_id"], second["token_id"]],
            "holders": holders,
            "gift_status": gift["status"],
            "listed": len(offers),
            "resale_price_wei": int(sale["price_wei"]),
            "cap_wei": cap,
            "resale_status": sale["status"],
            "over_cap_refused": refused["error"],
            "gate": verdicts,
            "checked_in_on_chain": drained.checked_in,
            "badge": badged,
        }


if __name__ == "__main__":
    run()
