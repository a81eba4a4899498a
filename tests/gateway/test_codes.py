"""The rotating code's wire format, windows and snapshot signatures (gateway/core/codes.py): pure, no
chain."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gateway.core import codes


@pytest.fixture(scope="module")
def key():
    return codes.new_device_key()


def test_a_code_is_116_characters_and_carries_ticket_window_signature(key):
    ticket = uuid.uuid4()
    text = codes.sign_code(key, ticket, 123_456_789)
    assert len(text) == codes.CODE_LENGTH == 116 and text.startswith("TK1.")
    payload = base64.urlsafe_b64decode(text[4:])
    assert len(payload) == 84  # well under 200 bytes
    assert payload[:16] == ticket.bytes and payload[16:20] == (123_456_789).to_bytes(4, "big")
    code = codes.decode(text)
    assert (code.ticket_id, code.window) == (ticket, 123_456_789)
    assert code.message == b"ticketkit-gate/v1" + ticket.bytes + (123_456_789).to_bytes(4, "big")
    public = codes.load_public_key(codes.public_key_text(key))
    assert codes.verify_code_signature(public, code)


def test_the_signature_is_raw_r_s_over_the_documented_message(key):
    """A signature made the way the doc says (any ECDSA P-256 implementation) verifies, and the code's
    signature verifies as a standard one: the format is not tied to this module."""
    ticket, window = uuid.uuid4(), 7
    der = key.sign(b"ticketkit-gate/v1" + ticket.bytes + window.to_bytes(4, "big"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    text = "TK1." + base64.urlsafe_b64encode(
        ticket.bytes + window.to_bytes(4, "big") + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    ).decode().rstrip("=")
    assert codes.verify_code_signature(key.public_key(), codes.decode(text))


def test_signatures_do_not_transfer(key):
    ticket = uuid.uuid4()
    code = codes.decode(codes.sign_code(key, ticket, 100))
    other = codes.new_device_key().public_key()
    assert not codes.verify_code_signature(other, code)
    for moved in (codes.Code(ticket, 101, code.signature), codes.Code(uuid.uuid4(), 100, code.signature)):
        assert not codes.verify_code_signature(key.public_key(), moved)
    zero = codes.Code(ticket, 100, bytes(64))
    assert not codes.verify_code_signature(key.public_key(), zero)
    high = codes.Code(ticket, 100, b"\xff" * 64)  # r, s above the group order
    assert not codes.verify_code_signature(key.public_key(), high)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TK1.",
        "TK1",
        "tk1." + "A" * 112,
        "TK2." + "A" * 112,
        "TK1." + "A" * 111,
        "TK1." + "A" * 113,
        "TK1." + "A" * 110 + "==",
        "TK1." + "A" * 111 + "=",
        "TK1." + "+" * 112,
        "TK1." + "/" * 112,
        "TK1." + "é" * 112,
        "TK1." + " " * 112,
        "TK1." + "A" * 111 + "\n",
        "A" * 116,
        None,
        42,
        b"TK1.",
    ],
)
def test_anything_else_is_a_code_error(text):
    with pytest.raises(codes.CodeError):
        codes.decode(text)  # type: ignore[arg-type]  # deliberately not a str


def test_truncated_and_extended_codes_are_refused(key):
    text = codes.sign_code(key, uuid.uuid4(), 5)
    for bad in (text[:-1], text[:-4], text + "A", text[:60]):
        with pytest.raises(codes.CodeError):
            codes.decode(bad)


def test_windows_accept_one_either_side_and_nothing_older():
    t = 1_700_000_000.0
    w = codes.window_of(t)
    assert w == int(t // 15) and codes.window_of(w * 15) == w and codes.window_of(w * 15 - 0.001) == w - 1
    assert [codes.window_accepted(w + d, t) for d in (-2, -1, 0, 1, 2)] == [False, True, True, True, False]
    assert not codes.window_accepted(0, t) and not codes.window_accepted(2**32 - 1, t)
    assert codes.window_accepted(codes.window_of(t, 30), t, 30) and not codes.window_accepted(w, t, 30)
    # the edge of a window: a code made in the last instant of w is still good one window later, then not
    edge = (w + 1) * 15 - 0.001
    assert codes.window_of(edge) == w and codes.window_accepted(w, edge + 15)
    assert not codes.window_accepted(w, edge + 30)


def test_public_keys_are_checked_points():
    key = codes.new_device_key()
    text = codes.public_key_text(key)
    assert (
        len(text) == 87 and codes.load_public_key(text).public_numbers() == key.public_key().public_numbers()
    )
    raw = base64.urlsafe_b64decode(text + "=")
    off_curve = codes.b64url(raw[:-1] + bytes([raw[-1] ^ 1]))
    compressed = codes.b64url(b"\x02" + raw[1:33] + bytes(32))
    for bad in (off_curve, compressed, text[:-1], text + "A", "A" * 87, text.replace(text[5], "+")):
        with pytest.raises(codes.CodeError):
            codes.load_public_key(bad)


def test_snapshot_signatures():
    key = codes.derive_signing_key("secret")
    assert (
        codes.derive_signing_key("secret").private_numbers() == key.private_numbers()
    )  # every process agrees
    assert codes.derive_signing_key("other").private_numbers() != key.private_numbers()
    signature = codes.sign_bytes(key, b'{"a":1}')
    assert len(signature) == 86
    public = codes.load_public_key(codes.public_key_text(key))
    assert codes.verify_bytes(public, b'{"a":1}', signature)
    assert not codes.verify_bytes(public, b'{"a":2}', signature)
    assert not codes.verify_bytes(public, b'{"a":1}', signature[:-1] + ("A" if signature[-1] != "A" else "B"))
    assert not codes.verify_bytes(public, b'{"a":1}', "garbage")
    assert not codes.verify_bytes(codes.new_device_key().public_key(), b'{"a":1}', signature)
    configured = codes.load_private_key("0x" + "11" * 32)
    assert configured.private_numbers().private_value == int("11" * 32, 16)
    for bad in ("", "0x", "zz", "00" * 32, "ff" * 32, "11" * 33):
        with pytest.raises(codes.CodeError):
            codes.load_private_key(bad)
