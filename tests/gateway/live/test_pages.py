"""The fan's ticket page and the gate scanner page, in real Chromium against a real gateway and anvil.

The gateway runs in uvicorn on a free port (SQLite file); the browser is Debian's chromium driven by
Playwright. The scanner sees a real QR through Chromium's fake camera (a Y4M video made here from a code
signed with a device key bound through the API). The fan page's QR is read back from the screen with
zxing-cpp.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlmodel import Session, select

from gateway.api.routes import pages
from gateway.core import codes
from gateway.models import Admission, DeviceKey
from gateway.static import vendor
from tests.utils.browser import CODE, GREEN, RED, code_for, read_qr, watch_errors, y4m
from tests.utils.db import age_fan_sessions
from tests.utils.gate import bind_key, verify
from tests.utils.http import bearer

ROOT = Path(__file__).resolve().parents[3]


# ---- no browser: what is served, and that it ships
def test_vendored_libraries_equal_node_modules():
    assert vendor.stale() == [], "vendored browser libraries differ from node_modules: run `make vendor`"
    package = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for source in vendor.FILES.values():  # each comes from a package pinned in package.json
        name = source.split("/")[0]
        installed = json.loads((vendor.NODE_MODULES / name / "package.json").read_text())["version"]
        assert package[name] == installed, name


def test_pages_and_their_files_are_served():
    app = FastAPI()
    pages.install(app)
    with TestClient(app) as client:
        for path, marker in [
            ("/app/ticket", 'src="static/ticket.js"'),
            ("/app/scanner", 'src="static/scanner.js"'),
        ]:
            response = client.get(path)
            assert response.status_code == 200 and marker in response.text
            assert response.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in response.headers["content-security-policy"]
        for path in [
            "/app/static/ticket.js",
            "/app/static/vendor/qrcode.mjs",
            "/app/static/vendor/jsQR.js",
            "/app/sw.js",
        ]:
            response = client.get(path)
            assert response.status_code == 200, path
            # module scripts load only with a JavaScript type
            assert response.headers["content-type"].startswith("text/javascript"), path
        assert client.get("/app/static/app.css").headers["content-type"].startswith("text/css")
        # only browser files: not the vendoring script
        for path in ["/app/static/vendor/__init__.py", "/app/static/__init__.py", "/app/static/nothing.js"]:
            assert client.get(path).status_code == 404, path


def test_every_served_file_is_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = [
        PurePosixPath(package.replace(".", "/"), glob)
        for package, globs in package_data.items()
        for glob in globs
    ]
    served = [p for p in pages.STATIC.rglob("*") if p.suffix in set(pages._TYPES)]
    assert len(served) >= 10
    for path in served:
        relative = PurePosixPath(path.relative_to(ROOT).as_posix())
        # as setuptools reads the globs: `*` stays within one directory
        assert any(len(relative.parts) == len(p.parts) and relative.match(str(p)) for p in patterns), (
            f"{relative} is not package data (pyproject.toml [tool.setuptools.package-data])"
        )


# ---- a real gateway and a real browser (database_url, live, client, launch, gate_key: live/conftest.py)
def test_fan_page_shows_a_rotating_code_the_gate_admits(
    playwright, launch, live, client, app, new_fan, issue, gate_key
):
    fan = new_fan()
    ticket = issue(fan, quantity=2)["tickets"][0]  # two: the pass links back to the list
    phone = playwright.devices["Pixel 7"]
    page = launch().new_context(**phone).new_page()
    errors = watch_errors(page)
    page.clock.install()
    paused_at = time.time() + 1
    page.clock.pause_at(datetime.fromtimestamp(paused_at, UTC))  # the page's time moves when told
    page.goto(f"{live}/app/ticket#token={fan['session_token']}&ticket={ticket['id']}")
    qr = page.locator("#qr")
    expect(qr).to_have_attribute("data-code", CODE)
    assert fan["session_token"] not in page.url  # the token left the address bar (kept in localStorage)
    first = qr.get_attribute("data-code")
    box = qr.bounding_box()  # the whole code on a phone's screen, and big
    assert 0 <= box["x"] and box["x"] + box["width"] <= phone["viewport"]["width"], box
    assert box["width"] >= 300, box
    assert read_qr(qr.screenshot()) == first  # the QR on screen is the code
    decoded = codes.decode(first)
    assert str(decoded.ticket_id) == ticket["id"] and decoded.window == int(qr.get_attribute("data-window"))
    assert decoded.window == codes.window_of(paused_at)  # the window of the phone's clock
    answer = verify(client, gate_key, first)
    assert answer["admit"] is True and answer["ticket_id"] == ticket["id"], answer
    expect(page.locator("#countdown-text")).to_contain_text("New code in")

    next_window = (decoded.window + 1) * codes.WINDOW_SECONDS
    page.clock.fast_forward(round((next_window - paused_at) * 1000) + 500)  # into the next window (<16 s)
    expect(qr).not_to_have_attribute("data-code", first)
    second = qr.get_attribute("data-code")
    assert codes.decode(second).window == decoded.window + 1
    assert read_qr(qr.screenshot()) == second
    assert verify(client, gate_key, second)["admit"] is True  # within the gate's one window of drift

    # the device key: made once, bound on the gateway, and its private half cannot leave the browser
    stored = page.evaluate(
        """(id) => new Promise((resolve, reject) => {
        const open = indexedDB.open("ticketkit");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const get = open.result.transaction("device-keys").objectStore("device-keys").get(id);
            get.onsuccess = async () => {
                const record = get.result;
                let exported = "exported";
                try { await crypto.subtle.exportKey("pkcs8", record.privateKey); }
                catch (error) { exported = error.name; }
                resolve({publicKey: record.publicKey, extractable: record.privateKey.extractable, exported});
            };
        };
    })""",
        ticket["id"],
    )
    assert stored["extractable"] is False and stored["exported"] == "InvalidAccessError", stored
    page.reload()
    expect(qr).to_have_attribute("data-code", CODE)
    with Session(app.state.runtime.engine) as session:
        keys = session.exec(select(DeviceKey).where(DeviceKey.ticket_id == uuid.UUID(ticket["id"]))).all()
    assert [k.public_key for k in keys] == [stored["publicKey"]]  # bound once, reused after a reload
    page.click("#back")  # the fan's tickets, and back to this one
    page.click(f'#ticket-list button[data-ticket-id="{ticket["id"]}"]')
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("data-code", CODE)
    # The one request allowed to fail: the gateway has no ticket list yet; the page shows the linked ticket.
    assert set(errors) <= {"404 /fans/me/tickets"}, errors


def test_a_fan_whose_session_expired_signs_in_with_the_recovery_code(
    playwright, launch, live, client, app, new_fan, issue
):
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    age_fan_sessions(
        app.state.runtime.engine, fan["id"], app.state.runtime.settings.fan_session_idle_days + 1
    )
    page = launch().new_context(**playwright.devices["Pixel 7"]).new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/ticket#token={fan['session_token']}")
    expect(page.locator("#status")).to_contain_text("recovery code")
    expect(page.locator("#recover")).to_be_visible()

    page.fill("#recovery-code", "tkr_not-a-code")
    page.click("#recover button[type=submit]")
    expect(page.locator("#status")).to_contain_text("does not work")
    page.fill("#recovery-code", fan["recovery_code"])
    page.click("#recover button[type=submit]")
    expect(page.locator("#qr")).to_have_attribute("data-code", CODE)  # its one ticket, with a live code
    assert str(codes.decode(page.locator("#qr").get_attribute("data-code")).ticket_id) == ticket["id"]
    shown = page.locator("#new-code-value").text_content()
    assert shown.startswith("tkr_") and shown != fan["recovery_code"]
    page.click("#new-code-saved")
    expect(page.locator("#new-code")).to_be_hidden()
    again = client.post("/fans/recover", json={"recovery_code": shown})  # the code shown is the next one
    assert again.status_code == 201, again.text
    # the expired session (401 session_expired) and the wrong code (401) are the refusals expected here
    assert set(errors) <= {"401 /fans/me/tickets", "401 /fans/recover"}, errors


# ---- the scanner sees a real QR through Chromium's fake camera
def _admissions(app, ticket_id):
    with Session(app.state.runtime.engine) as session:
        return session.exec(select(Admission).where(Admission.ticket_id == uuid.UUID(ticket_id))).all()


def _open_scanner(browser, live, gate_key, tickets: int, **options):
    context = browser.new_context(permissions=["camera"], **options)
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/scanner#key={gate_key}")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", str(tickets))
    return context, page, errors


def test_scanner_admits_once_and_refuses_the_second_time(
    launch, live, client, app, new_fan, issue, gate_key, tmp_path
):
    fan = new_fan()
    ticket = issue(fan, tier_id=1)["tickets"][0]  # VIP
    code = code_for(bind_key(client, fan, ticket["id"]), ticket["id"])
    browser = launch(y4m(tmp_path / "qr.y4m", code))
    _, page, errors = _open_scanner(browser, live, gate_key, tickets=1)
    page.click("#start")
    # The first answer, full screen and green (it stays up 2 s, then the same QR is taken again).
    admitted = page.locator('#answer[data-admit="true"]')
    expect(admitted).to_be_visible(timeout=15_000)
    expect(admitted).to_have_css("background-color", GREEN)
    expect(admitted).to_contain_text("ADMIT")
    expect(admitted).to_contain_text("VIP")
    # The same QR again: red, with the reason (every later answer is the same).
    refused = page.locator('#answer[data-reason="already_checked_in"]')
    expect(refused).to_be_visible(timeout=10_000)
    expect(refused).to_have_css("background-color", RED)
    expect(refused).to_contain_text("REFUSED")
    expect(refused).to_contain_text("Already checked in")
    history = page.locator("#history li")  # newest first
    assert history.last.get_attribute("data-admit") == "true"  # the first answer is the only admission
    assert history.nth(history.count() - 2).get_attribute("data-reason") == "already_checked_in"
    assert history.count() <= 4  # one answer per 2 s pause, not one per camera frame
    assert [a.source for a in _admissions(app, ticket["id"])] == ["online"]
    assert errors == []


def test_scanner_admits_offline_from_the_snapshot_and_syncs_later(
    launch, live, client, app, new_fan, issue, gate_key, tmp_path
):
    fan = new_fan()
    first, second = issue(fan, quantity=2)["tickets"]
    first_key, second_key = bind_key(client, fan, first["id"]), bind_key(client, fan, second["id"])
    scanned = client.post(
        "/gate/scan", json={"code": codes.sign_code(first_key, first["id"])}, headers=bearer(gate_key)
    )
    assert scanned.json()["admit"] is True  # the first ticket went in online, before this gate's snapshot
    browser = launch(y4m(tmp_path / "qr.y4m", code_for(second_key, second["id"])))
    context, page, errors = _open_scanner(browser, live, gate_key, tickets=2)
    page.evaluate("""async () => {  // the service worker has taken the page (it keeps the pages for offline)
        await navigator.serviceWorker.ready;
        if (!navigator.serviceWorker.controller) {
            await new Promise((done) => navigator.serviceWorker.addEventListener("controllerchange", done));
        }
    }""")

    context.set_offline(True)
    page.reload()  # the page itself comes from the service worker's copy, the snapshot from localStorage
    expect(page.locator("#bar")).to_have_attribute("data-online", "false")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "2")
    page.click("#start")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-admit", "true", timeout=15_000)
    expect(answer).to_have_attribute("data-source", "offline")
    expect(answer).to_contain_text("General")
    expect(page.locator("#bar")).to_have_attribute("data-pending", "1")
    expect(answer).to_have_attribute("data-reason", "already_checked_in", timeout=10_000)  # admitted here
    assert _admissions(app, second["id"]) == []  # nothing reached the gateway yet

    context.set_offline(False)
    expect(page.locator("#bar")).to_have_attribute("data-pending", "0", timeout=15_000)
    admitted = _admissions(app, second["id"])
    assert [(a.source, a.device) for a in admitted] == [
        ("offline", page.evaluate("localStorage.getItem('ticketkit.gate.device')"))
    ]
    assert verify(client, gate_key, code_for(second_key, second["id"]))["reason"] == "already_checked_in"
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_a_scan_whose_answer_is_lost_is_decided_offline_and_synced_without_a_conflict(
    launch, live, client, app, org, gw_event, new_fan, issue, gate_key, tmp_path
):
    """The gateway admits the online scan but its answer never reaches the page: the page decides offline
    (admits from the snapshot) and later syncs that scan with the same nonce. The gateway knows it for its own
    admission: no conflict, one admission."""
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    browser = launch(y4m(tmp_path / "qr.y4m", code_for(bind_key(client, fan, ticket["id"]), ticket["id"])))
    # page.route does not see requests a service worker could take: none here
    _, page, errors = _open_scanner(browser, live, gate_key, tickets=1, service_workers="block")
    reached: list[tuple[int, dict]] = []  # what the gateway answered each scan the page sent

    def lose_the_answer(route):
        response = route.fetch()  # the scan reaches the gateway...
        reached.append((response.status, response.json()))
        route.abort("timedout")  # ...and its answer is lost on the way back

    page.route("**/gate/scan", lose_the_answer)
    page.click("#start")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-admit", "true", timeout=15_000)
    expect(answer).to_have_attribute("data-source", "offline")
    page.unroute("**/gate/scan")
    [pending] = page.evaluate("JSON.parse(localStorage.getItem('ticketkit.gate.pending'))")
    assert re.fullmatch(r"[0-9a-f]{32}", pending["nonce"]), pending
    assert reached and all(status == 200 and body["admit"] for status, body in reached), (
        reached
    )  # a retry too
    [online] = _admissions(app, ticket["id"])
    assert (online.source, online.nonce) == (
        "online",
        pending["nonce"],
    )  # every try carried the decision's nonce

    expect(page.locator("#bar")).to_have_attribute("data-pending", "0", timeout=15_000)  # synced
    conflicts = client.get(f"/events/{gw_event['id']}/gate-conflicts", headers=org["headers"])
    assert conflicts.status_code == 200 and conflicts.json() == [], conflicts.text
    assert _admissions(app, ticket["id"]) == [online]
    assert page.locator("#status").text_content() == ""  # no conflict reported to the door staff
    assert errors == []


def test_offline_decisions_match_the_gateways(launch, live, client, new_fan, issue, gate_key):
    """The scanner's offline check (offline.js, WebCrypto) answers as the gateway does, reason for reason,
    for the same codes; and it takes no snapshot whose signature does not verify."""
    alice, bob = new_fan(), new_fan()
    fine, used, gifted, keyless = issue(alice, quantity=4)["tickets"]
    keys = {t["id"]: bind_key(client, alice, t["id"]) for t in (fine, used, gifted)}
    assert (
        client.post(
            "/gate/scan",
            json={"code": codes.sign_code(keys[used["id"]], used["id"])},
            headers=bearer(gate_key),
        ).json()["admit"]
        is True
    )
    moved = client.post(
        f"/tickets/{gifted['id']}/gift",
        json={"to_fan": bob["id"]},
        headers=alice["headers"] | {"Idempotency-Key": "gift-1"},
    )
    assert moved.status_code == 201, moved.text
    now = codes.window_of(time.time())
    cases = {
        "admit": codes.sign_code(keys[fine["id"]], fine["id"], now),
        "malformed_code": "TK1." + "A" * 111 + "!",
        "unknown_ticket": codes.sign_code(keys[fine["id"]], uuid.uuid4(), now),
        "no_device_key": codes.sign_code(keys[fine["id"]], keyless["id"], now),
        "bad_signature": codes.sign_code(codes.new_device_key(), fine["id"], now),
        "expired_code": codes.sign_code(keys[fine["id"]], fine["id"], now - 2),
        "not_owner": codes.sign_code(keys[gifted["id"]], gifted["id"], now),
        "already_checked_in": codes.sign_code(keys[used["id"]], used["id"], now),
    }
    online = {case: verify(client, gate_key, code) for case, code in cases.items()}
    assert {case: answer["reason"] or "admit" for case, answer in online.items()} == {c: c for c in cases}
    snapshot = client.get("/gate/snapshot", headers=bearer(gate_key)).json()
    public_key = client.get("/gate/snapshot-key").json()["public_key"]
    tampered = json.loads(snapshot["payload"])
    next(t for t in tampered["tickets"] if t[1] == used["token_id"])[4] = 0  # its flags: not checked in
    page = launch().new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/scanner")
    offline = page.evaluate(
        """async ({snapshot, publicKey, tampered, cases}) => {
        const {Snapshot, verifySnapshot} = await import("./static/offline.js");
        const forged = {payload: tampered, signature: snapshot.signature};
        const genuine = await verifySnapshot(snapshot, publicKey);
        if (!genuine || await verifySnapshot(forged, publicKey)) return null;
        const taken = new Snapshot(JSON.parse(snapshot.payload));
        const answers = {};
        for (const [name, code] of Object.entries(cases)) {
            answers[name] = await taken.decide(code, Date.now());
        }
        return answers;
    }""",
        {"snapshot": snapshot, "publicKey": public_key, "tampered": json.dumps(tampered), "cases": cases},
    )
    assert offline is not None, "the snapshot's signature check failed (or took a forged snapshot)"
    # What a list cannot know offline it says so: not in this gate's list (a ticket issued, or a phone linked,
    # after the list was made, is not told apart from one that does not exist).
    truthful = {"unknown_ticket": "not_in_list", "no_device_key": "not_in_list"}
    for case, answer in online.items():
        if case in truthful:
            answer = answer | {"reason": truthful[case]}
        assert offline[case] == answer | {"unverified": False}, case
    assert errors == []
