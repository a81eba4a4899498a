"""The `ticketkit` command line, against a real anvil."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ticketkit as tk
from ticketkit.cli import app

ETH = 10**18
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def cli(chain):
    """run("deploy", ...) -> result; the organiser (account 0) signs via TICKETKIT_PRIVATE_KEY."""
    runner = CliRunner()
    base = {
        "TICKETKIT_PRIVATE_KEY": tk.ANVIL_KEYS[0],
        "TICKETKIT_RPC": chain.url,
        "COLUMNS": "200",
        "TICKETKIT_KEYSTORE": None,
        "TICKETKIT_FACTORY": None,
        "TICKETKIT_CHAIN_ID": None,
    }

    def run(*args: str, expect: int | None = 0, env: dict | None = None):
        result = runner.invoke(app, [str(a) for a in args], env=base | (env or {}), catch_exceptions=False)
        chain.reset_nonce(chain.account(0).address)  # the CLI sent from the organiser's account too
        if expect is not None:
            assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    return run


def _one_error_line(result, code: str) -> str:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error [{code}]: ")
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def _row(status: str, name: str) -> list[str]:
    """The cells of a status table row, without the box characters."""
    line = next(line for line in status.splitlines() if f" {name} " in line)
    return [cell for cell in line.replace("│", " ").split()]


def _address_after(label: str, text: str) -> str:
    return re.search(label + r" (0x[0-9a-fA-F]{40})", text).group(1)


def test_deploy_is_idempotent(cli, chain, tmp_path):
    event_file = tmp_path / "event.toml"
    event_file.write_text((EXAMPLES / "event.toml").read_text())
    first = cli("deploy", event_file)
    factory = _address_after("platform factory", first.stdout)
    collection = _address_after("collection", first.stdout)
    assert "(deployed" in first.stdout
    again = cli("deploy", event_file, "--factory", factory)
    assert _address_after("collection", again.stdout) == collection and "already deployed" in again.stdout
    event = tk.Collection(chain, collection)
    assert [t.name for t in event.tiers()] == ["General admission", "Balcony VIP"]
    assert event.tier(0).presale_min_events == 1 and event.tier(0).presale_events == (1, 2)
    assert event.event_info()["resale_cap_bps"] == 11_000


def test_deploy_rerun_finds_its_record(cli, chain, tmp_path):
    import json

    event_file = tmp_path / "event.toml"
    event_file.write_text((EXAMPLES / "event.toml").read_text())
    first = cli("deploy", event_file)
    collection = _address_after("collection", first.stdout)
    record = json.loads((tmp_path / "event.deployments.json").read_text())
    entry = record["chains"][str(chain.chain_id)]
    assert entry["collection"] == collection and entry["factory"] == _address_after(
        "platform factory", first.stdout
    )
    nonce = chain.w3.eth.get_transaction_count(chain.account(0).address)
    again = cli("deploy", event_file)  # no --factory: the record finds the platform and the collection
    assert f"already deployed at {collection}" in again.stdout and "event.deployments.json" in again.stdout
    assert chain.w3.eth.get_transaction_count(chain.account(0).address) == nonce  # nothing sent

    # A record whose factory is not on this chain (a restarted node) is reported and replaced.
    entry.pop("genesis")
    entry["factory"] = "0x" + "ab" * 20
    (tmp_path / "event.deployments.json").write_text(json.dumps(record))
    fresh = cli("deploy", event_file)
    assert "has no code" in fresh.stderr and "(deployed" in fresh.stdout


def test_deploy_refuses_a_past_start_and_warns_about_odd_settings(cli, chain, tmp_path):
    text = (EXAMPLES / "event.toml").read_text()
    past = tmp_path / "past.toml"
    past.write_text(
        text.replace("start = 2027-06-12T20:00:00+01:00", "start = 2020-06-12T20:00:00+01:00").replace(
            "transfer_lock = 2027-06-12T18:00:00+01:00", "transfer_lock = 2020-06-12T18:00:00+01:00"
        )
    )
    nonce = chain.w3.eth.get_transaction_count(chain.account(0).address)
    result = cli("deploy", past, expect=2)
    assert "error [invalid_input]: event.start:" in result.stderr and "has passed" in result.stderr
    assert chain.w3.eth.get_transaction_count(chain.account(0).address) == nonce  # refused before sending
    odd = tmp_path / "odd.toml"
    odd.write_text(
        text.replace("max_per_wallet = 2", "max_per_wallet = 500")
        .replace("ends = 2027-03-03T10:00:00Z", "ends = 2027-02-03T10:00:00Z")
        .replace("sale_end = 2027-06-12T17:00:00Z", "sale_end = 2027-06-12T22:00:00Z")
    )
    warned = cli("deploy", odd).stderr
    assert "max_per_wallet 500 is above the supply 120" in warned
    assert "before the sale opens" in warned and "after the event starts" in warned


def test_errors_are_one_line_with_exit_code_2(cli, tmp_path, chain):
    bad = tmp_path / "bad.toml"
    bad.write_text((EXAMPLES / "event.toml").read_text().replace("supply = 120", "supply = 0"))
    line = _one_error_line(cli("deploy", bad, expect=None), "invalid_input")
    assert "tiers[1].supply" in line and "bad.toml:" in line

    line = _one_error_line(
        cli("status", "0x" + "12" * 20, "--rpc", "http://127.0.0.1:1", expect=None), "rpc_unavailable"
    )
    _one_error_line(cli("status", "0x" + "12" * 20, "--chain-id", "1", expect=None), "chain_id_mismatch")
    _one_error_line(cli("status", "0x" + "12" * 20, expect=None), "invalid_input")
    _one_error_line(cli("status", "not-an-address", expect=None), "invalid_input")


def test_missing_key_is_reported_without_secrets(cli, make_event):
    event = make_event()
    result = cli("cancel", event.address, "--key-env", "NO_SUCH_VAR", expect=None)
    line = _one_error_line(result, "invalid_input")
    assert "NO_SUCH_VAR" in line and tk.ANVIL_KEYS[0][2:] not in result.stdout + result.stderr


def test_contract_revert_is_one_line(cli, make_event, fans):
    event = make_event()
    cli("cancel", event.address)
    _one_error_line(cli("cancel", event.address, expect=None), "event_is_cancelled")


def test_mint_checkin_status(cli, make_event, chain, fans, tmp_path):
    event = make_event()
    csv_file = tmp_path / "r.csv"
    csv_file.write_text(
        f"address,tier,quantity\n{fans[0].address},General,3\n{fans[1].address},VIP,2\n{fans[2].address},0,\n"
    )
    result = cli("mint", event.address, csv_file, "--chunk-size", "2")
    assert "6 tickets minted now, 0 were already minted" in result.stdout
    assert event.balance_of(fans[0].address) == 3 and event.balance_of(fans[1].address) == 2
    again = cli("mint", event.address, csv_file)
    assert "0 tickets minted now, 6 were already minted" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(f"address,tier\n{fans[0].address},General\n0xnope,VIP\n")
    assert "bad.csv:3" in _one_error_line(cli("mint", event.address, bad, expect=None), "invalid_input")

    [bought] = event.buy(0, 1, sender=fans[3])
    event.list_for_resale(bought, ETH // 10, sender=fans[3])
    checked = cli("checkin", event.address, 1, 2, 99)
    assert "admitted: 1 2" in checked.stdout and "skipped 99: no such ticket" in checked.stdout
    assert "skipped 1: already used" in cli("checkin", event.address, 1).stdout

    status = cli("status", event.address).stdout
    general = _row(status, "General")
    # tier, name, price(2 words), sold, remaining, refunded, listed, checked in
    assert general[0] == "0" and general[4:] == ["5", "95", "0", "1", "2"], status
    vip = _row(status, "VIP")
    assert vip[4:] == ["2", "8", "0", "0", "0"]
    assert "upcoming" in status and "owed 0.1 ETH" in status


def test_presale_open_and_close(cli, make_event):
    event = make_event()
    cli(
        "presale",
        event.address,
        "--tier",
        "VIP",
        "--min-events",
        "1",
        "--events",
        "1,2",
        "--ends",
        "2030-01-01T00:00:00Z",
    )
    tier = event.tier(1)
    assert tier.presale_end == 1893456000 and tier.presale_min_events == 1 and tier.presale_events == (1, 2)
    cli("presale", event.address, "--tier", "1", "--close")
    assert event.tier(1).presale_end == 0
    _one_error_line(cli("presale", event.address, "--tier", "1", expect=None), "invalid_input")
    _one_error_line(
        cli("presale", event.address, "--tier", "Balcony", "--close", expect=None), "invalid_input"
    )
    _one_error_line(
        cli(
            "presale",
            event.address,
            "--tier",
            "1",
            "--events",
            "1",
            "--min-events",
            "2",
            "--ends",
            "2030-01-01T00:00:00Z",
            expect=None,
        ),
        "invalid_input",
    )
    _one_error_line(
        cli(
            "presale",
            event.address,
            "--tier",
            "1",
            "--events",
            "1",
            "--ends",
            "2030-01-01T00:00:00",
            expect=None,
        ),
        "invalid_input",
    )


def test_cancel_and_refund(cli, make_event, chain, fans):
    event = make_event()
    for fan in fans[:3]:
        event.buy(0, 2, sender=fan)
    _one_error_line(cli("refund", event.address, expect=None), "event_not_cancelled")
    cli("cancel", event.address)
    result = cli("refund", event.address, "--chunk-size", "4")
    assert "6 tickets refunded (6 found, 2 transactions)" in result.stdout
    assert event.refund_reserve() == 0
    assert "0 tickets refunded (0 found" in cli("refund", event.address).stdout
    status = cli("status", event.address).stdout
    general = _row(status, "General")
    assert general[4:7] == ["6", "94", "6"] and "cancelled" in status


def test_chain_command_prints_url_and_accounts():
    result = CliRunner().invoke(app, ["chain", "--port", "0", "--seconds", "0.2"])
    assert result.exit_code == 0, result.stderr
    assert re.search(r"local anvil at http://127\.0\.0\.1:\d+", result.stdout)
    assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in result.stdout
    assert "anvil stopped" in result.stdout


def _script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ticketkit_script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scripts_run_from_the_environment(chain, monkeypatch, tmp_path, capsys, fans):
    monkeypatch.setenv("TICKETKIT_RPC", chain.url)
    monkeypatch.setenv("TICKETKIT_PRIVATE_KEY", tk.ANVIL_KEYS[0])
    event_file = tmp_path / "event.toml"  # the example, moved far enough in the future to stay cancellable
    event_file.write_text((EXAMPLES / "event.toml").read_text().replace("2027-", "2099-"))
    monkeypatch.setenv("TICKETKIT_EVENT_FILE", str(event_file))
    for name in ("TICKETKIT_KEYSTORE", "TICKETKIT_FACTORY", "TICKETKIT_CHAIN_ID", "TICKETKIT_COLLECTION"):
        monkeypatch.delenv(name, raising=False)
    assert _script("deploy_collection").main() == 0
    collection = _address_after("collection", capsys.readouterr().out)
    monkeypatch.setenv("TICKETKIT_COLLECTION", collection)
    monkeypatch.setenv("TICKETKIT_CSV", str(EXAMPLES / "recipients.csv"))
    assert _script("mint_from_csv").main() == 0
    assert "8 minted now" in capsys.readouterr().out
    assert _script("open_presale").main(["--tier", "1", "--close"]) == 0
    assert _script("cancel_and_refund").main(["--chunk-size", "3"]) == 0
    assert "0 tickets refunded (0 found)" in capsys.readouterr().out  # airdrops are not paid on chain
    assert _script("cancel_and_refund").main([collection, "--chain-id", "5"]) == 2
    assert capsys.readouterr().err.startswith("error [chain_id_mismatch]: ")
    chain.reset_nonce(chain.account(0).address)


def test_keystore_signs_and_wrong_password_is_one_line(cli, make_event, tmp_path, monkeypatch):
    import json

    from eth_account import Account

    event = make_event()
    keystore = tmp_path / "organiser.json"
    keystore.write_text(json.dumps(Account.encrypt(tk.ANVIL_KEYS[0], "s3cret", kdf="pbkdf2", iterations=2)))
    monkeypatch.setenv("TICKETKIT_KEYSTORE_PASSWORD", "wrong")
    result = cli("checkin", event.address, 5, "--keystore", keystore, "--key-env", "UNSET_VAR", expect=None)
    assert "wrong password" in _one_error_line(result, "invalid_input")
    monkeypatch.setenv("TICKETKIT_KEYSTORE_PASSWORD", "s3cret")
    result = cli("checkin", event.address, 5, "--keystore", keystore, "--key-env", "UNSET_VAR")
    assert "skipped 5: no such ticket" in result.stdout


def test_mint_prints_the_plan_and_dry_run_sends_nothing(cli, make_event, fans, tmp_path):
    event = make_event()
    csv_file = tmp_path / "r.csv"
    csv_file.write_text(f"address,tier,quantity\n{fans[0].address},General,2\n{fans[1].address},VIP,1\n")
    cli("mint", event.address, csv_file)
    csv_file.write_text(f"address,tier,quantity\n{fans[1].address},VIP,1\n{fans[2].address},General,6\n")
    dry = cli("mint", event.address, csv_file, "--dry-run", "--key-env", "NO_KEY_NEEDED")
    assert "to mint:        6 tickets for 1 recipients (General 6)" in dry.stdout
    assert "already minted: 1 of the 7 tickets in the file" in dry.stdout
    assert "on chain but not in the file: 2 tickets of 1 recipients (kept: never burned)" in dry.stdout
    assert fans[0].address in dry.stdout and "dry run: nothing sent" in dry.stdout
    assert "above its per-wallet cap of 4" in dry.stderr
    assert event.total_minted() == 3
    result = cli("mint", event.address, csv_file)
    assert "6 tickets minted now, 1 were already minted" in result.stdout and event.total_minted() == 9


def test_csv_errors_are_reported_together_and_semicolons_get_a_hint(cli, make_event, fans, tmp_path):
    event = make_event()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"address,tier\n0xnope,VIP\n{fans[0].address},Balcony\n{fans[1].address},VIP\n")
    result = cli("mint", event.address, bad, expect=None)
    assert result.exit_code == 2 and "2 lines are wrong" in result.stderr
    assert "bad.csv:2" in result.stderr and "bad.csv:3" in result.stderr and event.total_minted() == 0
    semi = tmp_path / "semi.csv"
    semi.write_text(f"address;tier;quantity\n{fans[0].address};VIP;1\n")
    assert "semicolons" in _one_error_line(cli("mint", event.address, semi, expect=None), "invalid_input")


def test_status_shows_every_setting_and_never_cuts_names(cli, make_event, chain):
    now = chain.timestamp()
    long_name = "Balcony VIP with early entry and a drink at the bar before the show"
    event = make_event(
        tiers=[
            tk.TierConfig(
                long_name,
                face_value=ETH // 10,
                supply=5,
                sale_start=now - 1,
                sale_end=now + 86400,
                max_per_wallet=2,
            )
        ],
        gifts_allowed=True,
    )
    cli(
        "presale",
        event.address,
        "--tier",
        "0",
        "--min-events",
        "1",
        "--events",
        "1,2",
        "--ends",
        "2030-01-01T00:00:00Z",
    )
    status = cli("status", event.address, env={"COLUMNS": "80"}).stdout
    for expected in (
        "start:",
        "transfer lock:",
        "resale cap:    110% of face value",
        "royalty:       5% of each resale",
        "gifts:         allowed",
        "max 2 per wallet",
        "presale until 2030-01-01 00:00 UTC for holders of badges of at least 1 of events [1, 2]",
        "state:         upcoming",
    ):
        assert expected in status, status
    assert any(long_name in line and "5" in line for line in status.splitlines() if "│" in line), status


def test_errors_say_what_is_wrong_and_the_command_that_fixes_it(cli, make_event, chain, fans):
    event = make_event()
    line = _one_error_line(cli("refund", event.address, expect=None), "event_not_cancelled")
    assert f"cancel it first with `ticketkit cancel {event.address}`" in line

    stranger = tk.ANVIL_KEYS[5]
    result = cli(
        "checkin", event.address, 1, "--key-env", "STRANGER", expect=None, env={"STRANGER": stranger}
    )
    line = _one_error_line(result, "access_control_unauthorized_account")
    assert (
        f"{fans[4].address} lacks GATE_ROLE" in line and f"ticketkit grant {event.address} GATE_ROLE" in line
    )
    assert "b'" not in line
    cli("grant", event.address, "GATE_ROLE", fans[4].address)
    assert (
        "skipped 1: no such ticket"
        in cli("checkin", event.address, 1, "--key-env", "STRANGER", env={"STRANGER": stranger}).stdout
    )

    badge = event.badge().address  # a contract, but not a collection
    line = _one_error_line(cli("status", badge, expect=None), "invalid_input")
    assert f"{badge} on chain {chain.chain_id} is not a ticket collection" in line

    cli("pause", event.address)
    assert event.paused()
    cli("pause", event.address, "--resume")
    assert not event.paused()


def test_deploy_rerun_of_an_edited_file_says_what_differs(cli, tmp_path):
    event_file = tmp_path / "event.toml"
    event_file.write_text((EXAMPLES / "event.toml").read_text())
    cli("deploy", event_file)
    event_file.write_text((EXAMPLES / "event.toml").read_text().replace("supply = 120", "supply = 150"))
    again = cli("deploy", event_file)
    assert "already deployed" in again.stdout
    assert "tiers[1].supply is 150 in the file but 120 on chain" in again.stderr


def test_rpc_takes_several_nodes_the_first_down(cli, chain, make_event):
    event = make_event()
    result = cli("status", event.address, "--rpc", f"http://127.0.0.1:1,{chain.url}")
    assert "General" in result.stdout
    line = _one_error_line(
        cli("status", event.address, "--rpc", "ws://127.0.0.1:1", expect=None), "invalid_input"
    )
    assert "not an http(s) JSON-RPC URL" in line
