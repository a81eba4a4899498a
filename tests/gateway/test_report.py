"""The organiser report (JSON, CSV, HTML tables) over real flows: tickets issued through the gateway and
bought on chain, gateway and on-chain resales, gate admissions at two gates, a batch check-in on chain, badges
via the indexer. The live dashboard in a browser: tests/gateway/live/test_report_dashboard.py."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

import ticketkit as tk
from gateway.api.report_render import VIEWER_HTML
from gateway.indexer import Indexer
from gateway.indexer.models import Checkin
from gateway.models import Admission, Event, Ticket
from gateway.services import report as report_service
from tests.utils.http import bearer

ETH = 10**18
DAY = datetime(2030, 5, 1, tzinfo=UTC)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def when(text: str | None) -> str:
    """A JSON datetime as the CSV writes it."""
    return "" if text is None else datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def _list(client, fan, ticket_id, price, key):
    response = client.post(
        f"/tickets/{ticket_id}/resale",
        json={"price_wei": price},
        headers=fan["headers"] | {"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _buy(client, fan, listing, key):
    response = client.post(
        f"/listings/{listing['id']}/buy",
        json={"payment_reference": key},
        headers=fan["headers"] | {"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _gate_key(client, org, event_id, label):
    response = client.post(f"/events/{event_id}/gate-keys", json={"label": label}, headers=org["headers"])
    assert response.status_code == 201, response.text
    assert response.json()["label"] == label
    return response.json()


def _admit(engine, event_id, gate, tickets_and_times):
    with Session(engine) as session:
        for ticket, scanned_at in tickets_and_times:
            session.add(
                Admission(
                    event_id=uuid.UUID(event_id),
                    ticket_id=uuid.UUID(ticket["id"]),
                    token_id=ticket["token_id"],
                    gate_key_id=uuid.UUID(gate["id"]),
                    scanned_at=scanned_at,
                    admitted_at=scanned_at,
                )
            )
        session.commit()


def _set_created(engine, contract, times):
    with Session(engine) as session:
        for token_id, created in times.items():
            session.execute(
                update(Ticket)
                .where(Ticket.contract == contract, Ticket.token_id == token_id)
                .values(created_at=created)
            )
        session.commit()


def _block_minute(chain, number):
    stamp = chain.w3.eth.get_block(number)["timestamp"]
    return datetime.fromtimestamp(stamp, UTC).replace(second=0)


def _table_rows(page: str, caption: str) -> list[list[str]]:
    """The body cells of the HTML table with `caption`."""
    match = re.search(
        rf"<caption[^>]*>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.DOTALL
    )
    assert match, caption
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.DOTALL)
    ]


def test_the_report_counts_sales_check_ins_resales_and_badges(
    app, client, org, gw_event, collection, chain, organiser, fans, new_fan, issue
):
    engine = app.state.runtime.engine
    event_id = gw_event["id"]
    alice, bob, carol = new_fan(), new_fan(), new_fan()
    a0, a1, a2 = issue(alice, tier_id=0, quantity=3)["tickets"]
    [b0] = issue(bob, tier_id=1)["tickets"]
    bought = collection.buy(0, 2, sender=fans[0])  # on chain: the indexer records them

    # resale through the gateway: under the cap (9/10) and at half the cap
    cap0, cap1 = collection.resale_cap_of(a0["token_id"]), collection.resale_cap_of(b0["token_id"])
    price0, price1 = cap0 * 9 // 10, cap1 // 2
    sale0 = _buy(client, carol, _list(client, alice, a0["id"], price0, "l0"), "b0")
    sale1 = _buy(client, alice, _list(client, bob, b0["id"], price1, "l1"), "b1")
    # and one on chain, wallet to wallet
    chain_price = ETH // 20
    collection.list_for_resale(bought[0], chain_price, sender=fans[0])
    resold = collection.buy_resale(bought[0], sender=fans[1])

    # two gates (North: 2 in 19:00, 1 in 19:02; South: 1 in 19:00), then a batch check-in on chain of one
    # gate-admitted ticket (not counted twice) and of one wallet's ticket that no gate saw
    north, south = (
        _gate_key(client, org, event_id, "North door"),
        _gate_key(client, org, event_id, "South door"),
    )
    _admit(engine, event_id, north, [(a1, at(19, 0, 10)), (a2, at(19, 0, 50)), (b0, at(19, 2, 5))])
    _admit(engine, event_id, south, [(a0, at(19, 0, 30))])
    admitted, skipped = collection.check_in([a1["token_id"], bought[1]], sender=organiser)
    assert sorted(admitted) == sorted([a1["token_id"], bought[1]]) and not skipped
    badge = collection.badge()
    badge_event = badge.event_id_of(collection.address)
    badge.revoke(badge.badge_id(badge_event, fans[0].address), sender=organiser)  # one of the two badges

    stats = Indexer(engine, chain, confirmations=0).poll_once()
    assert stats.tickets_created == 2 and stats.checkins == 2 and stats.badges == 2
    # sales spread over three hours: tier 0 at 10:05, 10:40, 11:15 (gateway) and 12:01, 12:59 (on chain)
    _set_created(
        engine,
        collection.address,
        {
            a0["token_id"]: at(10, 5),
            a1["token_id"]: at(10, 40),
            a2["token_id"]: at(11, 15),
            b0["token_id"]: at(10, 20),
            bought[0]: at(12, 1),
            bought[1]: at(12, 59),
        },
    )
    with engine.connect() as conn:
        [checkin_block] = conn.execute(
            select(Checkin.block_number).where(Checkin.token_id == bought[1])
        ).scalars()
    on_chain_minute = _block_minute(chain, checkin_block)

    response = client.get(f"/events/{event_id}/report", headers=org["headers"])
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["event_id"] == event_id and report["event_name"] == "Gig"
    assert report["indexed_to_block"] == chain.w3.eth.block_number

    sales = report["sales"]
    assert sales["bucket"] == "hour"
    assert sales["rows"] == [
        {
            "bucket": iso(at(10, 0)),
            "tier_id": 0,
            "tier_name": "General",
            "gateway": 2,
            "on_chain": 0,
            "total": 2,
        },
        {"bucket": iso(at(10, 0)), "tier_id": 1, "tier_name": "VIP", "gateway": 1, "on_chain": 0, "total": 1},
        {
            "bucket": iso(at(11, 0)),
            "tier_id": 0,
            "tier_name": "General",
            "gateway": 1,
            "on_chain": 0,
            "total": 1,
        },
        {
            "bucket": iso(at(12, 0)),
            "tier_id": 0,
            "tier_name": "General",
            "gateway": 0,
            "on_chain": 2,
            "total": 2,
        },
    ]
    assert sales["tiers"] == [
        {
            "tier_id": 0,
            "tier_name": "General",
            "supply": 100,
            "gateway": 3,
            "on_chain": 2,
            "total": 5,
            "refunded": 0,
            "checked_in": 4,
            "face_value_wei": str(ETH // 10),
            "revenue_wei": str(5 * ETH // 10),
        },
        {
            "tier_id": 1,
            "tier_name": "VIP",
            "supply": 10,
            "gateway": 1,
            "on_chain": 0,
            "total": 1,
            "refunded": 0,
            "checked_in": 1,
            "face_value_wei": str(ETH // 2),
            "revenue_wei": str(ETH // 2),
        },
    ]
    # the doors: attendance, the queue to the chain (the test's admissions are still queued), revenue
    assert report["attendance"] == {
        "tickets": 6,
        "refunded": 0,
        "checked_in": 5,
        "no_shows": 1,
        "rate": 5 / 6,
        "conflicts": 0,
    }
    assert report["queue"] == {
        "waiting": 4,
        "oldest_waiting_at": iso(at(19, 0, 10)),
        "done": 0,
        "lag_seconds": 0.0,
    }  # admitted "in 2030": a wait is never negative
    assert report["timezone"] == "UTC" and report["attendees"] is None
    on_chain_royalty = chain_price * 500 // 10_000  # make_event: royalty 5%
    computed = price0 * 500 // 10_000 + price1 * 500 // 10_000
    assert report["revenue"] == {
        "primary_wei": str(ETH),
        "royalty_bps": 500,
        "royalties_on_chain_wei": str(on_chain_royalty),
        "royalties_computed_wei": str(computed),
        "royalties_wei": str(on_chain_royalty + computed),
    }
    assert (sales["gateway"], sales["on_chain"], sales["total"]) == (4, 2, 6)

    checkins = report["checkins"]
    key = lambda r: (r["minute"] or "", r["gate"])
    assert sorted(checkins["rows"], key=key) == sorted(
        [
            {"minute": iso(at(19, 0)), "gate": north["id"], "gate_label": "North door", "count": 2},
            {"minute": iso(at(19, 0)), "gate": south["id"], "gate_label": "South door", "count": 1},
            {"minute": iso(at(19, 2)), "gate": north["id"], "gate_label": "North door", "count": 1},
            {"minute": iso(on_chain_minute), "gate": "on_chain", "gate_label": "on chain", "count": 1},
        ],
        key=key,
    )
    assert checkins["gates"] == [
        {"gate": north["id"], "gate_label": "North door", "count": 3},
        {"gate": south["id"], "gate_label": "South door", "count": 1},
        {"gate": "on_chain", "gate_label": "on chain", "count": 1},
    ]
    assert (checkins["through_gates"], checkins["on_chain"], checkins["total"]) == (4, 1, 5)

    resale = report["resale"]
    assert resale["sold"] == 3 and resale["volume_wei"] == str(price0 + price1 + chain_price)
    assert resale["max_ratio"] == 0.9 == price0 / cap0
    by_id = {s["id"]: s for s in resale["sales"]}
    assert by_id[sale0["id"]] | {"sold_at": None} == {
        "id": sale0["id"],
        "channel": "gateway",
        "sold_at": None,
        "token_id": a0["token_id"],
        "tier_id": 0,
        "price_wei": str(price0),
        "cap_wei": str(cap0),
        "ratio": 0.9,
        "royalty_wei": str(price0 * 500 // 10_000),
    }
    assert by_id[sale1["id"]] | {"sold_at": None} == {
        "id": sale1["id"],
        "channel": "gateway",
        "sold_at": None,
        "token_id": b0["token_id"],
        "tier_id": 1,
        "price_wei": str(price1),
        "cap_wei": str(cap1),
        "ratio": 0.5,
        "royalty_wei": str(price1 * 500 // 10_000),
    }
    assert resale["royalty_wei"] == str((price0 + price1) * 500 // 10_000)  # owed on the gateway's resales
    [on_chain_sale] = [s for s in resale["sales"] if s["channel"] == "on_chain"]
    resold_at = datetime.fromtimestamp(chain.w3.eth.get_block(resold["blockNumber"])["timestamp"], UTC)
    assert on_chain_sale | {"id": None} == {
        "id": None,
        "channel": "on_chain",
        "sold_at": iso(resold_at),
        "token_id": bought[0],
        "tier_id": 0,
        "price_wei": str(chain_price),
        "cap_wei": None,
        "ratio": None,
        "royalty_wei": None,
    }
    assert report["badges"] == {"issued": 2, "revoked": 1, "held": 1}

    # a fixed bucket: one day
    daily = client.get(f"/events/{event_id}/report?bucket=day", headers=org["headers"]).json()["sales"]
    assert daily["bucket"] == "day" and [(r["bucket"], r["tier_id"], r["total"]) for r in daily["rows"]] == [
        (iso(DAY), 0, 5),
        (iso(DAY), 1, 1),
    ]
    assert client.get(f"/events/{event_id}/report?bucket=year", headers=org["headers"]).status_code == 422

    # ---- CSV: the same figures, parsed with the csv module
    exported = client.get(f"/events/{event_id}/report.csv", headers=org["headers"])
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["cache-control"] == "no-store"
    assert f"report-{event_id}.csv" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(rows[0]) == ["section", "bucket", "key", "label", "metric", "value"]
    section = lambda name: [r for r in rows if r["section"] == name]
    event_meta = {r["metric"]: r["value"] for r in section("event")}
    assert event_meta["event_id"] == event_id and event_meta["sales_bucket"] == "hour"
    assert event_meta["indexed_to_block"] == str(report["indexed_to_block"])
    assert sorted(
        (r["bucket"], r["key"], r["label"], r["metric"], r["value"]) for r in section("sales")
    ) == sorted(
        (when(s["bucket"]), str(s["tier_id"]), s["tier_name"], metric, str(s[metric]))
        for s in sales["rows"]
        for metric in ("gateway", "on_chain")
    )
    assert sorted((r["bucket"], r["key"], r["label"], r["value"]) for r in section("checkins")) == sorted(
        (when(c["minute"]), c["gate"], c["gate_label"], str(c["count"])) for c in checkins["rows"]
    )
    csv_sales: dict[str, dict[str, str]] = {}
    for r in section("resale"):
        csv_sales.setdefault(r["key"], {"sold_at": r["bucket"]})[r["metric"]] = r["value"]
    assert {
        sale_id: {k: v for k, v in s.items() if not k.endswith("_eth")} for sale_id, s in csv_sales.items()
    } == {
        s["id"]: {
            "sold_at": when(s["sold_at"]),
            "channel": s["channel"],
            "token_id": str(s["token_id"]),
            "tier_id": str(s["tier_id"]),
            "price_wei": s["price_wei"],
            "cap_wei": s["cap_wei"] or "",
            "ratio": "" if s["ratio"] is None else str(s["ratio"]),
            "royalty_wei": s["royalty_wei"] or "",
        }
        for s in resale["sales"]
    }
    assert (csv_sales[sale0["id"]]["price_eth"], csv_sales[sale0["id"]]["cap_eth"]) == ("0.099", "0.11")
    assert [(s["price_eth"], s["cap_eth"]) for s in csv_sales.values() if s["channel"] == "on_chain"] == [
        ("0.05", "")
    ]
    summary = {r["metric"]: r["value"] for r in section("summary")}
    assert summary["tickets_sold"] == "6" and summary["checkins"] == "5" and summary["resale_sold"] == "3"
    assert summary["resale_volume_wei"] == resale["volume_wei"] and summary["resale_max_ratio"] == "0.9"
    assert summary["resale_volume_eth"] == "0.424"  # 0.099 + 0.275 + 0.05
    assert (
        summary["resale_royalty_owed_wei"] == resale["royalty_wei"]
        and summary["resale_royalty_owed_eth"] == "0.0187"
    )
    assert (summary["badges_issued"], summary["badges_revoked"], summary["badges_held"]) == ("2", "1", "1")

    # ---- HTML: the same figures as tables (times in the event's zone, UTC by default), no script, no charts
    page = client.get(f"/events/{event_id}/report.html", headers=org["headers"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    html = page.text
    assert "<svg" not in html and "<script" not in html and not re.search(r"\b(src|href)=", html)
    assert "<main>" in html and "<h1>" in html
    assert sorted(_table_rows(html, "Check-ins per gate")) == sorted(
        [[g["gate_label"] or g["gate"], str(g["count"])] for g in checkins["gates"]]
    )
    assert len(_table_rows(html, "Check-ins per gate per minute")) == len(checkins["rows"])
    assert "North door" in html and "0.424 ETH" in html  # the resale volume tile
    assert [r[6] for r in _table_rows(html, "Resales, price against the cap")].count("90.0%") == 1
    assert "2030-05-01 19:00:00 UTC" in html  # check-in minutes, in the event's zone (UTC: none set)
    assert "royalty owed (gateway)" in html and "0.0187 ETH" in html


def test_the_report_is_the_organisers_own(client, org, gw_event, new_fan, issue):
    issue(new_fan())
    paths = [f"/events/{gw_event['id']}/report{suffix}" for suffix in ("", ".csv", ".html")]
    other = client.post("/organisers", json={"name": "Other"}).json()
    gate = client.post(
        f"/events/{gw_event['id']}/gate-keys", json={"label": "Door"}, headers=org["headers"]
    ).json()
    for path in paths:
        assert client.get(path, headers=org["headers"]).status_code == 200
        no_key = client.get(path)
        assert no_key.status_code == 401 and no_key.json()["error"] == "unauthorized"
        assert client.get(path, headers=bearer("tko_wrong")).status_code == 401
        assert (
            client.get(path, headers=bearer(gate["api_key"])).status_code == 401
        )  # a gate key is not enough
        assert client.get(f"{path}?key={org['api_key']}").status_code == 401  # never a key in the URL
        foreign = client.get(path, headers=bearer(other["api_key"]))
        assert foreign.status_code == 404 and foreign.json()["error"] == "event_not_found"
        unknown = client.get(path.replace(gw_event["id"], str(uuid.uuid4())), headers=org["headers"])
        assert unknown.status_code == 404 and unknown.json()["error"] == "event_not_found"

    # the dashboard: a static page with no data; its scripts are the gateway's own files, no inline script
    viewer = client.get(f"/events/{gw_event['id']}/report/view")
    assert viewer.status_code == 200 and viewer.text == VIEWER_HTML and "Gig" not in viewer.text
    csp = viewer.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "unsafe-eval" not in csp
    assert re.findall(r"<script[^>]*>", viewer.text) == [
        '<script src="../../../app/static/vendor/uPlot.iife.min.js">',
        '<script src="../../../app/static/report.js">',
    ]


def test_an_empty_report_and_hostile_names(app, client, org, gw_event, new_fan, issue):
    empty = client.get(f"/events/{gw_event['id']}/report", headers=org["headers"]).json()
    assert (
        empty["sales"]["rows"] == [] and empty["sales"]["total"] == 0 and empty["sales"]["bucket"] == "hour"
    )
    assert [t["total"] for t in empty["sales"]["tiers"]] == [0, 0] and empty["indexed_to_block"] is None
    assert empty["checkins"] == {"rows": [], "gates": [], "through_gates": 0, "on_chain": 0, "total": 0}
    assert empty["resale"] == {
        "sold": 0,
        "volume_wei": "0",
        "royalty_wei": "0",
        "max_ratio": None,
        "sales": [],
    }
    assert empty["badges"] == {"issued": 0, "revoked": 0, "held": 0}
    html = client.get(f"/events/{gw_event['id']}/report.html", headers=org["headers"]).text
    assert _table_rows(html, "Check-ins per gate") == [] and _table_rows(html, "Refusals by reason") == []
    assert empty["refusals"] == {"rows": [], "reasons": [], "total": 0}
    assert empty["attendance"] == {
        "tickets": 0,
        "refunded": 0,
        "checked_in": 0,
        "no_shows": 0,
        "rate": None,
        "conflicts": 0,
    }

    # a gate named like a formula and like markup: quoted in the CSV, escaped in the HTML
    [ticket] = issue(new_fan())["tickets"]
    label = '=HYPERLINK("x")<script>'
    gate = _gate_key(client, org, gw_event["id"], label)
    _admit(app.state.runtime.engine, gw_event["id"], gate, [(ticket, at(20, 0))])
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/events/{gw_event['id']}/report.csv", headers=org["headers"]).text)
        )
    )
    assert [r["label"] for r in rows if r["section"] == "checkins"] == ["'" + label]
    html = client.get(f"/events/{gw_event['id']}/report.html", headers=org["headers"]).text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert len(_table_rows(html, "Check-ins per gate per minute")) == 1


def test_on_chain_check_ins_without_a_block_time_are_counted_not_plotted(
    app, client, org, gw_event, collection, chain, organiser, fans
):
    engine = app.state.runtime.engine
    [token] = collection.buy(0, 1, sender=fans[0])
    collection.check_in([token], sender=organiser)
    Indexer(engine, chain, confirmations=0).poll_once()
    with Session(engine) as session:
        event = session.get(Event, uuid.UUID(gw_event["id"]))
        live = report_service.event_report(
            session=session, event=event, block_times=report_service.chain_block_times(lambda: chain)
        )
        dead = report_service.event_report(
            session=session,
            event=event,
            block_times=report_service.chain_block_times(lambda: tk.connect("http://127.0.0.1:9", timeout=1)),
        )
    [row] = live.checkins.rows
    assert row.gate == "on_chain" and row.count == 1 and row.minute is not None
    assert dead.checkins.rows[0].minute is None and dead.checkins.on_chain == 1


def test_the_bucket_follows_the_span_of_sales():
    start = at(9, 30)
    assert report_service.choose_bucket([]) == "hour"
    assert report_service.choose_bucket([start, start + timedelta(days=3)]) == "hour"
    assert report_service.choose_bucket([start, start + timedelta(days=3, minutes=1)]) == "day"
    assert report_service.choose_bucket([start, start + timedelta(days=91)]) == "week"
    assert report_service.bucket_start(start, "hour") == at(9, 0)
    assert report_service.bucket_start(start, "day") == DAY
    assert report_service.bucket_start(start, "week") == datetime(2030, 4, 29, tzinfo=UTC)  # a Monday
    assert report_service.wei_to_eth(ETH * 3 // 40) == "0.075" and report_service.wei_to_eth(2 * ETH) == "2"
    assert report_service.wei_to_eth(2**256 - 1).startswith(
        "115792089237316195423570985008687907853269984665640564"
    )
