"""`make serve`: the gateway against a throwaway local chain, ready to try from /docs.

Starts anvil, deploys the platform and a sample event, grants the operator (dev account 9) the
collection's MINTER_ROLE, GATEWAY_ROLE and GATE_ROLE (the check-in queue, on here, sends checkIn), creates
a fresh SQLite database under .ticketkit/, registers an organiser, the event, one fan with 2 tickets and a
gate key, prints the URL, the fan and scanner page links,
the organiser API key and the fan token, and runs uvicorn until Ctrl-C (or for `--seconds N`).
"""

from __future__ import annotations

import argparse
import secrets
import threading
from pathlib import Path

import uvicorn
from sqlmodel import Session

import ticketkit as tk
from ticketkit.chain import free_port

from .core.config import Settings
from .main import create_app
from .models import EventCreate, FanCreate, IssueRequest, OrganiserCreate
from .services import sending
from .services.events import register_event
from .services.fans import create_fan
from .services.organisers import create_gate_key, create_organiser
from .services.tickets import issue_tickets

ETH = 10**18


def sample_event(chain: tk.Chain, organiser) -> tk.Collection:
    platform = tk.deploy_platform(chain, organiser)
    now = chain.timestamp()
    badge = platform.create_badge("Sample attendance", "ATTEND", salt="sample-badge", sender=organiser)
    return platform.create_collection(
        tk.EventConfig(
            "Sample gig",
            "GIG",
            start_time=now + 30 * 86400,
            transfer_lock_time=now + 29 * 86400,
            resale_cap_bps=11_000,
            royalty_bps=500,
            gifts_allowed=True,
        ),
        [
            tk.TierConfig(
                "General",
                face_value=ETH // 20,
                supply=500,
                sale_start=now,
                sale_end=now + 20 * 86400,
                max_per_wallet=4,
            ),
            tk.TierConfig("VIP", face_value=ETH // 5, supply=50, sale_start=now, sale_end=now + 20 * 86400),
        ],
        salt="sample-gig",
        badge=badge,
        sender=organiser,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--data-dir", default=".ticketkit")
    args = parser.parse_args(argv)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    database = data / "serve.db"
    database.unlink(missing_ok=True)  # the chain is fresh too
    port = args.port or free_port()
    with tk.local_chain() as chain:
        organiser, operator = chain.account(0), chain.account(9)
        collection = sample_event(chain, organiser)
        collection.grant_role("MINTER_ROLE", operator.address, sender=organiser)
        collection.grant_role("GATEWAY_ROLE", operator.address, sender=organiser)
        collection.grant_role("GATE_ROLE", operator.address, sender=organiser)
        settings = Settings(
            database_url=f"sqlite:///{database.resolve()}",
            rpc_url=chain.url,
            chain_id=chain.chain_id,
            operator_key=f"0x{operator.key.hex()}",
            key_encryption_secret=secrets.token_hex(32),
            indexer_enabled=True,
            indexer_confirmations=0,
            indexer_poll_seconds=1.0,
            checkin_queue_enabled=True,
            confirmations=0,
        )
        app = create_app(settings)
        runtime = app.state.runtime
        with Session(runtime.engine) as session:
            org, api_key = create_organiser(session=session, data=OrganiserCreate(name="Sample organiser"))
            event = register_event(
                session=session,
                chain=runtime.chain(),
                organiser=org,
                data=EventCreate(collection_address=collection.address, name="Sample gig"),
            )
            fan, fan_token, fan_recovery = create_fan(
                session=session, data=FanCreate(), secret=runtime.secret()
            )
            issue_tickets(
                session=session,
                runtime=runtime,
                organiser=org,
                event=event,
                data=IssueRequest(fan_id=fan.id, tier_id=0, quantity=2, payment_reference="serve:sample"),
                idempotency_key="serve-sample",
            )
            sending.settle(runtime)  # the sample tickets exist before anything is printed
            _, gate_token = create_gate_key(session=session, event=event, label="Main gate")
            event_id, fan_id = event.id, fan.id
        url = f"http://{args.host}:{port}"
        # wallets read the tickets' and badges' metadata from this gateway (ERC-4906 tells them to refresh)
        collection.set_base_uri(
            tk.metadata_base_uri(url, chain.chain_id, collection.address), sender=organiser
        )
        badge = collection.badge()
        if badge is not None:
            badge.set_base_uri(tk.metadata_base_uri(url, chain.chain_id, badge.address), sender=organiser)
        print(f"gateway:        {url}  (API docs: {url}/docs)")
        print(f"chain:          {chain.url} (anvil, chain id {chain.chain_id})")
        print(f"database:       {database}")
        print(f"event:          {event_id} (collection {collection.address})")
        print(f"organiser key:  {api_key}")
        print(f"fan:            {fan_id}")
        print(f"fan token:      {fan_token}")
        print(f"fan recovery:   {fan_recovery}  (signs in on the fan page if the token is lost)")
        print(f"gate key:       {gate_token}")
        print(f"fan page:       {url}/app/ticket#token={fan_token}  (2 tickets; open on a phone via HTTPS)")
        print(f"scanner page:   {url}/app/scanner#key={gate_token}")
        print(f"dashboard:      {url}/events/{event_id}/report/view  (sign in with the organiser key)")
        print(f"metadata:       {collection.token_uri(1)}  (ticket 1, as wallets read it)", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=port, log_level="warning"))
        if args.seconds is not None:
            timer = threading.Timer(args.seconds, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        server.run()


if __name__ == "__main__":
    main()
