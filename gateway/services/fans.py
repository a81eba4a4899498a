from __future__ import annotations

import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy import Connection, Engine, bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .. import db
from ..core.security import decrypt_key, encrypt_key, hash_token, new_token
from ..errors import Conflict, GatewayError, NotFound, Unauthorized
from ..models import (
    Fan,
    FanContact,
    FanCreate,
    FanExport,
    FanPublic,
    FanSession,
    FanSessionPublic,
    FanTransferPublic,
    RecoverRequest,
    ResaleListing,
    ResaleListingPublic,
    Transfer,
    WalletChallenge,
    WalletLinkRequest,
    utcnow,
)

CHALLENGE_TTL = timedelta(minutes=10)
# A session's last use is written at most this often (not on every request), so idle expiry is this coarse.
SESSION_TOUCH_EVERY = timedelta(hours=1)
_RECOVERY_CODE = re.compile(r"tkr_([0-9a-f]{32})_[A-Za-z0-9_-]{43}")


class NewFan(NamedTuple):
    fan: Fan
    session_token: str  # shown once
    recovery_code: str  # shown once


def create_fan(*, session: Session, data: FanCreate, secret: str) -> NewFan:
    """The only write path for fan accounts: a fresh custodial key (encrypted), a session token and a recovery
    code (only their hashes are kept)."""
    account = Account.create()
    fan_id = uuid.uuid4()
    code = _recovery_code(fan_id)
    fan = Fan(
        id=fan_id,
        address=account.address,
        recovery_hash=hash_token(code),
        encrypted_key=encrypt_key(account.key, secret=secret, associated=str(fan_id)),
    )
    session.add(fan)
    session.flush()
    _, token = _add_session(session, fan.id)
    if data.email:
        session.add(FanContact(fan_id=fan.id, email=data.email))
    session.commit()
    session.refresh(fan)
    return NewFan(fan, token, code)


_FS, _FA = db.table_of(FanSession), db.table_of(Fan)
_SESSION_OF_TOKEN = (
    sa_select(_FS.c.id, _FS.c.fan_id, _FS.c.created_at, _FS.c.last_used_at)
    .add_columns(_FA.c.address, _FA.c.wallet_address)
    .join(_FA, _FA.c.id == _FS.c.fan_id)
    .where(_FS.c.token_hash == bindparam("token_hash"), _FS.c.revoked_at.is_(None))
)


def _live_session(connection: Connection, token: str, idle_days: float) -> tuple[Any, bool]:
    """THE session rule, one statement: the session a token opens with its fan's address (401 unknown or
    revoked; 401 `session_expired` once it went unused for `idle_days`, 0 = never), and whether its use was
    recorded now (at most once per SESSION_TOUCH_EVERY: the caller commits)."""
    row = connection.execute(_SESSION_OF_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None:
        raise Unauthorized("unknown or revoked session token")
    now = utcnow()
    idle = now - (row.last_used_at or row.created_at)
    if idle_days and idle > timedelta(days=idle_days):
        raise Unauthorized(
            f"this session went unused for over {idle_days:g} days and expired: sign in again with "
            "the account's recovery code (POST /fans/recover)",
            code="session_expired",
        )
    if idle <= SESSION_TOUCH_EVERY:
        return row, False
    connection.execute(update(_FS).where(_FS.c.id == row.id).values(last_used_at=now))
    return row, True


def authenticate(*, session: Session, token: str, idle_days: float) -> Fan:
    """The fan a session token belongs to (`_live_session`'s rule), as an ORM instance for write paths."""
    row, touched = _live_session(session.connection(), token, idle_days)
    if touched:
        session.commit()
    fan = session.get(Fan, row.fan_id)
    if fan is None:  # erased between the two statements
        raise Unauthorized("unknown or revoked session token")
    return fan


@dataclass(frozen=True)
class FanRef:
    """Who a session token belongs to, for the read-only hot paths (no ORM instance, no session needed)."""

    id: uuid.UUID
    address: str
    wallet_address: str | None


_ref_cache: dict[str, tuple[float, FanRef]] = {}  # token hash -> (when authenticated, the fan)


def cached_fan(token: str, ttl: float) -> FanRef | None:
    """A fan this process authenticated by `token` less than `ttl` seconds ago (no I/O), else None."""
    cached = _ref_cache.get(hash_token(token))
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    return None


def authenticate_ref(engine: Engine, token: str, idle_days: float) -> FanRef:
    """The fan a session token belongs to, for read-only routes: one statement (`_live_session`), then cached
    for `cached_fan`.

    A session revoked (or expired) keeps reading in a process that authenticated it for at most the cache's
    ttl (`fan_auth_cache_seconds`); every write authenticates afresh."""
    with engine.begin() as connection:
        return _authenticated_ref(connection, token, idle_days)


@dataclass(frozen=True)
class FanToken:
    """A fan's session token as a read route receives it (deps.FanTokenDep), checked by `fan_of` in the
    route's own thread trip, on the connection the route reads with."""

    token: str = field(repr=False)  # a secret: never in a log line or a traceback
    idle_days: float
    cache_seconds: float


def fan_of(connection: Connection, token: FanToken) -> FanRef:
    """`authenticate_ref` on a connection the caller holds (autocommit: a touch commits on its own): a phone
    polling every few seconds outlives the cache, and its read then costs one thread trip and one connection,
    not two of each."""
    cached = cached_fan(token.token, token.cache_seconds)
    if cached is not None:
        return cached
    return _authenticated_ref(connection, token.token, token.idle_days)


def _authenticated_ref(connection: Connection, token: str, idle_days: float) -> FanRef:
    row, _ = _live_session(connection, token, idle_days)
    ref = FanRef(row.fan_id, row.address, row.wallet_address)
    if len(_ref_cache) > 100_000:
        _ref_cache.clear()
    _ref_cache[hash_token(token)] = (time.monotonic(), ref)
    return ref


def _forget_fan(fan_id: uuid.UUID) -> None:
    """Sessions revoked here stop reading here at once (other processes: within the cache's ttl)."""
    for key, (_, ref) in list(_ref_cache.items()):
        if ref.id == fan_id:
            _ref_cache.pop(key, None)


def forget_sessions() -> None:
    """Empty this process's cache (tests; a revocation is otherwise seen within the cache's ttl)."""
    _ref_cache.clear()


def _recovery_code(fan_id: uuid.UUID) -> str:
    """`tkr_<account id, 32 hex>_<secret>`: one string for the fan to keep, naming its account."""
    return f"tkr_{fan_id.hex}_{secrets.token_urlsafe(32)}"


def _account_of(code: str) -> uuid.UUID | None:
    match = _RECOVERY_CODE.fullmatch(code)
    return uuid.UUID(match.group(1)) if match else None


def recover(*, session: Session, data: RecoverRequest) -> tuple[FanSession, str, str]:
    """A new session from the fan's recovery code, which is used up: returns (session, token, next code). By
    default every other session is revoked. An unknown account, a wrong or malformed code are refused alike
    (401 `bad_recovery_code`)."""
    fan_id = _account_of(data.recovery_code)
    fan = session.get(Fan, fan_id) if fan_id is not None else None
    presented = hash_token(data.recovery_code)
    if fan is None or fan.recovery_hash is None or not hmac.compare_digest(fan.recovery_hash, presented):
        raise Unauthorized("unknown fan account or wrong recovery code", code="bad_recovery_code")
    code = _recovery_code(fan.id)
    # Use the code up atomically: of two requests presenting it, only one finds the hash unchanged.
    used = session.execute(
        update(Fan)
        .where(col(Fan.id) == fan.id, col(Fan.recovery_hash) == presented)
        .values(recovery_hash=hash_token(code))
    )
    if db.rowcount(used) != 1:
        session.rollback()
        raise Unauthorized("unknown fan account or wrong recovery code", code="bad_recovery_code")
    if data.sign_out_everywhere:
        session.execute(
            update(FanSession)
            .where(col(FanSession.fan_id) == fan.id, col(FanSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
    row, token = _add_session(session, fan.id)
    session.commit()
    if data.sign_out_everywhere:
        _forget_fan(fan.id)
    session.refresh(row)
    return row, token, code


def new_recovery_code(*, session: Session, fan: Fan) -> str:
    """A new recovery code for the fan, shown once; the one before it stops working."""
    code = _recovery_code(fan.id)
    session.execute(update(Fan).where(col(Fan.id) == fan.id).values(recovery_hash=hash_token(code)))
    session.commit()
    session.refresh(fan)
    return code


def _add_session(session: Session, fan_id: uuid.UUID) -> tuple[FanSession, str]:
    """A new session row (its token's hash) in the caller's transaction, and the token, shown once."""
    token = new_token("tkf")
    row = FanSession(fan_id=fan_id, token_hash=hash_token(token))
    session.add(row)
    return row, token


def new_session(*, session: Session, fan: Fan) -> tuple[FanSession, str]:
    """Another session token for the fan (a second device), shown once."""
    row, token = _add_session(session, fan.id)
    session.commit()
    session.refresh(row)
    return row, token


def fan_sessions(*, session: Session, fan: Fan) -> list[FanSession]:
    return list(
        session.exec(
            select(FanSession).where(FanSession.fan_id == fan.id).order_by(col(FanSession.created_at))
        )
    )


def revoke_session(*, session: Session, fan: Fan, session_id: uuid.UUID) -> FanSession:
    """Sign a device out (a lost phone): its token stops working at once. The fan's last active session
    cannot be revoked (409 `last_session`): a fan signs out everywhere by recovering (`recover`) instead."""
    row = session.get(FanSession, session_id)
    if row is None or row.fan_id != fan.id:
        raise NotFound("no such session", code="session_not_found")
    if row.revoked_at is not None:
        return row
    active = [s for s in fan_sessions(session=session, fan=fan) if s.revoked_at is None]
    if len(active) <= 1:
        raise Conflict("this is the fan's last active session: create another first", code="last_session")
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    _ref_cache.pop(row.token_hash, None)
    session.refresh(row)
    return row


def export(*, session: Session, fan: Fan, tickets: list) -> FanExport:
    """What the gateway holds about the fan (data access and portability): account, contact, sessions,
    tickets, transfers sent and received, resale listings."""
    contact = session.get(FanContact, fan.id)
    transfers = session.exec(
        select(Transfer)
        .where((Transfer.from_fan_id == fan.id) | (Transfer.to_fan_id == fan.id))
        .order_by(col(Transfer.created_at))
    )
    listings = session.exec(
        select(ResaleListing)
        .where(ResaleListing.seller_fan_id == fan.id)
        .order_by(col(ResaleListing.created_at))
    )
    return FanExport(
        account=FanPublic(id=fan.id, address=fan.address, wallet_address=fan.wallet_address),
        created_at=fan.created_at,
        email=contact.email if contact else None,
        sessions=[
            FanSessionPublic.model_validate(s, from_attributes=True)
            for s in fan_sessions(session=session, fan=fan)
        ],
        tickets=tickets,
        transfers=[
            FanTransferPublic(
                id=t.id,
                ticket_id=t.ticket_id,
                from_fan=t.from_fan_id,
                to_fan=t.to_fan_id,
                kind=t.kind,
                price_wei=t.price_wei,
                status=t.status,
                tx_hash=t.tx_hash,
                created_at=t.created_at,
            )
            for t in transfers
        ],
        listings=[ResaleListingPublic.model_validate(row, from_attributes=True) for row in listings],
    )


def erase_contact(*, session: Session, fan: Fan) -> None:
    contact = session.get(FanContact, fan.id)
    if contact is not None:
        session.delete(contact)
        session.commit()


def custodial_account(fan: Fan, *, secret: str) -> LocalAccount:
    """The fan's signing account, decrypted for one use. Never logged, never returned."""
    return Account.from_key(decrypt_key(fan.encrypted_key, secret=secret, associated=str(fan.id)))


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def wallet_challenge(*, session: Session, fan: Fan, domain: str, uri: str, chain_id: int) -> WalletChallenge:
    """A one-time nonce (10 minutes) and the EIP-4361-style text the fan's wallet signs (EIP-191
    personal_sign).

    The wallet's address is not known yet, so the message names the fan account instead of an address line.
    """
    nonce = secrets.token_hex(16)
    issued = utcnow()
    expires = issued + CHALLENGE_TTL
    message = (
        f"{domain} wants you to link your Ethereum account to a ticketkit fan account:\n\n"
        f"Link this wallet to fan account {fan.id}. Sign only if you asked for this.\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {_iso(issued)}\nExpiration Time: {_iso(expires)}"
    )
    challenge = WalletChallenge(
        fan_id=fan.id, nonce=nonce, message=message, expires_at=expires, created_at=issued
    )
    session.add(challenge)
    session.commit()
    session.refresh(challenge)
    return challenge


def link_wallet(*, session: Session, fan: Fan, data: WalletLinkRequest) -> Fan:
    """Verify that `address` signed the fan's challenge, burn the nonce (once only) and link the address."""
    query = select(WalletChallenge).where(WalletChallenge.fan_id == fan.id)
    if data.nonce is not None:
        query = query.where(WalletChallenge.nonce == data.nonce)
    challenge = session.exec(query.order_by(col(WalletChallenge.created_at).desc())).first()
    if challenge is None:
        raise NotFound(
            "no wallet challenge; POST /fans/me/wallet/challenge first", code="challenge_not_found"
        )
    if challenge.used_at is not None:
        raise Conflict("this challenge was already used; request a new one", code="nonce_used")
    if challenge.expires_at <= utcnow():
        raise Conflict("this challenge has expired; request a new one", code="nonce_expired")
    address = to_checksum_address(data.address)
    try:
        signer = Account.recover_message(encode_defunct(text=challenge.message), signature=data.signature)
    except Exception:  # noqa: BLE001  # any undecodable signature is simply a bad one
        signer = None
    if signer is None or signer.lower() != address.lower():
        raise GatewayError(
            "the signature does not recover the given address for this challenge",
            code="bad_signature",
            status=422,
        )
    # Burn the nonce atomically: of two concurrent requests only one sees used_at IS NULL.
    burnt = session.exec(
        update(WalletChallenge)
        .where(col(WalletChallenge.id) == challenge.id, col(WalletChallenge.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if burnt.rowcount != 1:
        session.rollback()
        raise Conflict("this challenge was already used; request a new one", code="nonce_used")
    holder = session.exec(select(Fan).where(Fan.wallet_address == address, Fan.id != fan.id)).first()
    if holder is not None:
        session.rollback()
        raise Conflict("this wallet is linked to another fan account", code="wallet_taken")
    fan.wallet_address = address
    session.add(fan)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("this wallet is linked to another fan account", code="wallet_taken") from None
    session.refresh(fan)
    return fan
