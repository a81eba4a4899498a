"""The organiser's live doors dashboard in real Chromium, with real scans at the gate from the test: it signs
in with a clear message on a wrong key, shows the database's numbers, updates without a reload, draws its
charts with the vendored uPlot in the event's time zone, has landmarks and headings (axe: nothing above
minor), and is readable on a phone. Screenshots at phone and desktop sizes go to .ticketkit/screenshots/."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, func, select

from gateway.core import codes
from gateway.models import Admission, GateRefusal
from tests.utils.browser import axe_violations
from tests.utils.gate import bind_key, make_gate_key
from tests.utils.http import bearer

SHOTS = Path(__file__).resolve().parents[3] / ".ticketkit" / "screenshots"

pytestmark = pytest.mark.usefixtures("fresh_cancellation_cache")


def _count(app, model, event_id) -> int:
    with Session(app.state.runtime.engine) as session:
        return session.exec(
            select(func.count()).select_from(model).where(model.event_id == uuid.UUID(event_id))
        ).one()


def _scan(client, gate, code) -> dict:
    response = client.post("/gate/scan", json={"code": code, "device": "phone-1"}, headers=gate["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def _tile(page, metric):
    return page.locator(f'#tiles [data-metric="{metric}"] dd')


def test_the_dashboard_follows_the_doors_live(
    app, live, launch, playwright, client, org, gw_event, new_fan, issue
):
    event_id = gw_event["id"]
    assert (
        client.put(
            f"/events/{event_id}/details",
            json={"timezone": "Asia/Tokyo", "venue": "Hall"},
            headers=org["headers"],
        ).status_code
        == 200
    )
    north = make_gate_key(client, org, event_id, "North door")
    south = make_gate_key(client, org, event_id, "South door")
    holders = []
    for tier in (0, 0, 1, 0):
        fan = new_fan()
        [ticket] = issue(fan, tier_id=tier)["tickets"]
        holders.append((ticket, bind_key(client, fan, ticket["id"])))
    (t0, k0), (t1, k1), (t2, k2), (t3, k3) = holders
    assert _scan(client, north, codes.sign_code(k0, t0["id"]))["admit"]
    assert _scan(client, south, codes.sign_code(k1, t1["id"]))["admit"]
    w = codes.window_of(time.time())
    assert _scan(client, north, codes.sign_code(k2, t2["id"], w - 40))["reason"] == "expired_code"
    assert _scan(client, north, codes.sign_code(k0, t0["id"]))["reason"] == "already_checked_in"

    # ---- a phone: a wrong key first, then the organiser's
    phone = playwright.devices["Pixel 7"]
    context = launch().new_context(**phone)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.clock.install()  # the page's refresh timer moves when the test says
    page.goto(f"{live}/events/{event_id}/report/view")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_label("Organiser API key").fill(north["api_key"])  # a gate key is not an organiser key
    page.get_by_role("button", name="Show the dashboard").click()
    expect(page.locator("#message")).to_contain_text("That key was not accepted")
    assert "401" not in page.locator("#message").inner_text()
    page.get_by_label("Organiser API key").fill(org["api_key"])
    page.get_by_role("button", name="Show the dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Doors: Gig")

    # the database's numbers
    admitted, refused = _count(app, Admission, event_id), _count(app, GateRefusal, event_id)
    assert (admitted, refused) == (2, 2)
    expect(_tile(page, "checked_in")).to_have_text(str(admitted))
    expect(_tile(page, "refusals")).to_have_text(str(refused))
    expect(_tile(page, "tickets")).to_have_text("4")
    expect(_tile(page, "rate")).to_have_text("50.0%")
    expect(_tile(page, "no_shows")).to_have_text("2")
    expect(_tile(page, "queue")).to_contain_text("2 (")  # the check-in queue is not running here
    expect(page.locator("#table-reasons tbody tr")).to_have_count(2)
    tiers = page.locator("#table-tiers tbody tr")
    expect(tiers.nth(0)).to_contain_text("3 / 100")
    expect(tiers.nth(1)).to_contain_text("1 / 10")

    # charts: uPlot canvases, time axes labelled in the event's zone, legends per gate and reason
    for chart in ("chart-checkins", "chart-refusals", "chart-sales"):
        expect(page.locator(f"#{chart} canvas")).to_have_count(1)
    expect(page.locator("#chart-checkins")).to_contain_text("Time (Asia/Tokyo)")
    splits, labels = page.evaluate(
        "() => [charts['chart-checkins'].plot.axes[0]._splits, charts['chart-checkins'].plot.axes[0]._values]"
    )
    assert labels == [datetime.fromtimestamp(t, ZoneInfo("Asia/Tokyo")).strftime("%H:%M") for t in splits], (
        labels
    )
    expect(page.locator("#chart-checkins .u-legend")).to_contain_text("North door")
    expect(page.locator("#chart-checkins .u-legend")).to_contain_text("South door")
    expect(page.locator("#chart-refusals .u-legend")).to_contain_text("expired_code")
    box = page.locator("#chart-checkins canvas").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= phone["viewport"]["width"] + 1, box
    font = page.locator("#tiles dd").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 20  # the headline figures are big on a phone
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "dashboard-phone.png", full_page=True)

    # ---- more scans at the doors: the page updates by itself (no reload)
    generated = page.locator("#status").get_attribute("data-generated-at")
    assert _scan(client, south, codes.sign_code(k3, t3["id"]))["admit"]
    assert (
        _scan(client, south, codes.sign_code(codes.new_device_key(), t2["id"]))["reason"] == "bad_signature"
    )
    page.clock.run_for(5_000)
    expect(_tile(page, "checked_in")).to_have_text(str(_count(app, Admission, event_id)))
    expect(_tile(page, "refusals")).to_have_text(str(_count(app, GateRefusal, event_id)))
    expect(_tile(page, "rate")).to_have_text("75.0%")
    assert page.locator("#status").get_attribute("data-generated-at") != generated
    expect(page.locator("#chart-refusals .u-legend")).to_contain_text("bad_signature")

    # the exports, fetched with the key by the page
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sum(int(r["value"]) for r in rows if r["section"] == "refusals_total") == _count(
        app, GateRefusal, event_id
    )
    assert len({r["key"] for r in rows if r["section"] == "attendee"}) == _count(app, Admission, event_id)
    assert errors == []

    # ---- axe: landmarks, headings, labels, contrast (nothing above minor), on the sign-in and the dashboard
    audit = launch().new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
    audit.goto(f"{live}/events/{event_id}/report/view")
    assert axe_violations(audit) == []
    audit.get_by_label("Organiser API key").fill(org["api_key"])
    audit.get_by_role("button", name="Show the dashboard").click()
    expect(audit.locator('#tiles [data-metric="checked_in"] dd')).to_have_text("3")
    assert axe_violations(audit) == []
    audit.screenshot(path=SHOTS / "dashboard-desktop.png", full_page=True)
    report_page = launch().new_context(bypass_csp=True).new_page()
    report_page.route(
        "**/report.html",
        lambda route: route.continue_(headers=route.request.headers | bearer(org["api_key"])),
    )
    report_page.goto(f"{live}/events/{event_id}/report.html")
    assert axe_violations(report_page) == []


def test_exports_carry_refusals_and_a_pseudonymous_attendee_list(app, client, org, gw_event, new_fan, issue):
    event_id = gw_event["id"]
    gate = make_gate_key(client, org, event_id, "North door")
    fan = new_fan(email="alice@example.org")
    [ticket] = issue(fan, tier_id=1)["tickets"]
    key = bind_key(client, fan, ticket["id"])
    assert _scan(client, gate, codes.sign_code(key, ticket["id"]))["admit"]
    assert _scan(client, gate, codes.sign_code(key, ticket["id"]))["reason"] == "already_checked_in"

    exported = client.get(f"/events/{event_id}/report?attendees=true", headers=org["headers"]).json()
    [person] = exported["attendees"]
    assert person | {"entered_at": None} == {
        "token_id": ticket["token_id"],
        "tier_id": 1,
        "tier_name": "VIP",
        "entered_at": None,
        "gate": "North door",
        "source": "online",
    }
    assert exported["refusals"]["reasons"] == [{"reason": "already_checked_in", "count": 1}]
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/events/{event_id}/report.csv", headers=org["headers"]).text))
    )
    attendee = {r["metric"]: r["value"] for r in rows if r["section"] == "attendee"}
    assert attendee == {"tier_id": "1", "tier_name": "VIP", "gate": "North door", "source": "online"}
    assert [(r["key"], r["value"]) for r in rows if r["section"] == "refusals_total"] == [
        ("already_checked_in", "1")
    ]
    text = str(exported) + str(rows)
    for private in ("alice", "example.org", fan["id"], fan["address"]):  # nothing that names the fan
        assert private not in text, private
