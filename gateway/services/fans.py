from __future__ import annotations

import uuid

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import Session

from ..core.security import decrypt_key, encrypt_key, hash_token, new_token
from ..models import Fan, FanContact, FanCreate, FanSession


def create_fan(*, session: Session, data: FanCreate, secret: str) -> tuple[Fan, str]:
    """The only write path for fan accounts: a fresh custodial key (encrypted) and a session token."""
    account = Account.create()
    fan_id = uuid.uuid4()
    fan = Fan(id=fan_id, address=account.address,
              encrypted_key=encrypt_key(account.key, secret=secret, associated=str(fan_id)))
    token = new_token("tkf")
    session.add(fan)
    session.flush()
    session.add(FanSession(fan_id=fan.id, token_hash=hash_token(token)))
    if data.email:
        session.add(FanContact(fan_id=fan.id, email=data.email))
    session.commit()
    session.refresh(fan)
    return fan, token


def erase_contact(*, session: Session, fan: Fan) -> None:
    contact = session.get(FanContact, fan.id)
    if contact is not None:
        session.delete(contact)
        session.commit()


def custodial_account(fan: Fan, *, secret: str) -> LocalAccount:
    """The fan's signing account, decrypted for one use. Never logged, never returned."""
    return Account.from_key(decrypt_key(fan.encrypted_key, secret=secret, associated=str(fan.id)))
