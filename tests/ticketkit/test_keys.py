"""Organiser keys: from a keystore or an env var; the key never shows in errors or reprs."""

from __future__ import annotations

import json
import pickle

import pytest
from eth_account import Account

from ticketkit.errors import InvalidInput
from ticketkit.keys import Signer, load_signer, signer_from_env, signer_from_key, signer_from_keystore

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS = Account.from_key(KEY).address


def _no_key(text: str) -> None:
    assert KEY[2:].lower() not in text.lower()
    assert KEY[2:12].lower() not in text.lower()


@pytest.fixture()
def keystore(tmp_path):
    path = tmp_path / "organiser.json"
    # pbkdf2 with few iterations keeps the test fast
    path.write_text(json.dumps(Account.encrypt(KEY, "correct horse", kdf="pbkdf2", iterations=2)))
    return path


def test_from_env(monkeypatch):
    monkeypatch.setenv("TICKETKIT_PRIVATE_KEY", KEY)
    signer = signer_from_env()
    assert isinstance(signer, Signer) and signer.address == ADDRESS
    _no_key(repr(signer))
    _no_key(str(signer))
    _no_key(f"{signer!r} {signer}")
    assert "env:TICKETKIT_PRIVATE_KEY" in repr(signer)


def test_signer_signs_like_the_account(monkeypatch):
    signer = signer_from_key(KEY[2:])
    tx = {
        "to": ADDRESS,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 2,
        "maxPriorityFeePerGas": 1,
        "nonce": 0,
        "chainId": 1,
    }
    assert (
        signer.sign_transaction(tx).raw_transaction
        == Account.from_key(KEY).sign_transaction(tx).raw_transaction
    )


def test_signer_is_not_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(signer_from_key(KEY))


def test_env_missing(monkeypatch):
    monkeypatch.delenv("ORG_KEY", raising=False)
    with pytest.raises(InvalidInput, match="ORG_KEY"):
        signer_from_env("ORG_KEY")


@pytest.mark.parametrize("bad", [KEY[:-1], KEY + "00", KEY[:-2] + "zz", "0x" + "00" * 32, "0x" + "ff" * 32])
def test_bad_keys_never_echoed(monkeypatch, bad):
    monkeypatch.setenv("ORG_KEY", bad)
    with pytest.raises(InvalidInput) as info:
        signer_from_env("ORG_KEY")
    error = info.value
    for text in (str(error), repr(error), repr(error.args)):
        assert bad[2:20].lower() not in text.lower()
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_from_keystore(keystore):
    signer = signer_from_keystore(keystore, "correct horse")
    assert signer.address == ADDRESS
    _no_key(repr(signer))
    assert load_signer(keystore=keystore, password="correct horse").address == ADDRESS


def test_keystore_wrong_password(keystore):
    with pytest.raises(InvalidInput, match="wrong password") as info:
        signer_from_keystore(keystore, "wrong")
    _no_key(str(info.value))
    _no_key(repr(info.value))


def test_keystore_password_from_env(keystore, monkeypatch):
    monkeypatch.setenv("TICKETKIT_KEYSTORE_PASSWORD", "correct horse")
    assert load_signer(keystore=keystore).address == ADDRESS
    monkeypatch.delenv("TICKETKIT_KEYSTORE_PASSWORD")
    with pytest.raises(InvalidInput, match="password"):
        load_signer(keystore=keystore)


def test_keystore_not_json(tmp_path):
    path = tmp_path / "k.json"
    path.write_text("not json")
    with pytest.raises(InvalidInput, match="not a JSON"):
        signer_from_keystore(path, "x")
    with pytest.raises(InvalidInput, match="cannot read"):
        signer_from_keystore(tmp_path / "missing.json", "x")
    path.write_text("{}")
    with pytest.raises(InvalidInput, match="keystore"):
        signer_from_keystore(path, "x")
