"""Typed handles on the deployed contracts: Platform (factory), Badge, Collection.

Every method that writes takes `sender=` (a LocalAccount), like ape; reads take nothing.
Reverts come out as the ContractRevert subclass named after the Solidity error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from .chain import Chain

__all__ = [
    "SKIP_ALREADY_USED",
    "SKIP_NOT_FOUND",
    "Badge",
    "Collection",
    "EventConfig",
    "Platform",
    "Ticket",
    "Tier",
    "TierConfig",
    "deploy_platform",
    "salt_bytes",
]

SKIP_NOT_FOUND = 1
SKIP_ALREADY_USED = 2
ZERO = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class TierConfig:
    name: str
    face_value: int  # wei
    supply: int
    sale_start: int
    sale_end: int
    max_per_wallet: int = 0  # 0: no cap

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.name, self.face_value, self.supply, self.max_per_wallet, self.sale_start, self.sale_end)


@dataclass(frozen=True)
class EventConfig:
    name: str
    symbol: str
    start_time: int
    transfer_lock_time: int
    resale_cap_bps: int = 11_000
    royalty_bps: int = 500
    royalty_receiver: str = ZERO
    gifts_allowed: bool = False
    base_uri: str = ""

    def as_tuple(self, badge: str) -> tuple[Any, ...]:
        return (
            self.name,
            self.symbol,
            self.base_uri,
            self.start_time,
            self.transfer_lock_time,
            self.resale_cap_bps,
            self.royalty_bps,
            self.royalty_receiver,
            self.gifts_allowed,
            badge,
        )


@dataclass(frozen=True)
class Tier:
    tier_id: int
    name: str
    face_value: int
    supply: int
    minted: int
    max_per_wallet: int
    sale_start: int
    sale_end: int
    presale_end: int
    presale_min_events: int
    presale_root: bytes
    presale_events: tuple[int, ...]

    @property
    def remaining(self) -> int:
        return self.supply - self.minted


@dataclass(frozen=True)
class Ticket:
    token_id: int
    owner: str
    tier_id: int
    face_value: int
    used: bool
    paid_on_chain: bool
    listed_by: str | None
    listed_price: int | None


def salt_bytes(label: str | bytes) -> bytes:
    """The 32-byte CREATE2 salt for a label (a 32-byte value is used as is)."""
    return label if isinstance(label, bytes) and len(label) == 32 else keccak(text=str(label))


def metadata_base_uri(gateway_url: str, chain_id: int, contract: str) -> str:
    """The base URI under which a ticketkit gateway at `gateway_url` serves a contract's token metadata:
    `{gateway_url}/metadata/{chain_id}/{contract}/` (a token's URI is this plus its id)."""
    url = gateway_url.rstrip("/")
    if not url.startswith(("https://", "http://")):
        from .errors import InvalidInput

        raise InvalidInput(
            f"the gateway URL {gateway_url!r} must start with https:// (or http:// for a local test)",
            where="gateway_url",
        )
    return f"{url}/metadata/{chain_id}/{to_checksum_address(contract)}/"


class _Handle:
    NAME = ""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.address = to_checksum_address(address)
        self.contract = chain.contract(self.NAME, self.address)

    def _send(self, fn: str, *args: Any, sender: LocalAccount, value: int = 0, wait: bool = True) -> Any:
        """The receipt once final, or (not `wait`) the first version's hash."""
        return self.chain.send(getattr(self.contract.functions, fn)(*args), sender, value=value, wait=wait)

    def _transact(self, fn: str, *args: Any, sender: LocalAccount, value: int = 0) -> TxReceipt:
        receipt: TxReceipt = self._send(fn, *args, sender=sender, value=value)
        return receipt

    # A view's result as its ABI type decodes in web3 (which types contract calls as Any): uint -> int,
    # bool -> bool, address and string -> str.
    def _int(self, fn: str, *args: Any) -> int:
        result: int = self.call(fn, *args)
        return result

    def _bool(self, fn: str, *args: Any) -> bool:
        result: bool = self.call(fn, *args)
        return result

    def _str(self, fn: str, *args: Any) -> str:
        result: str = self.call(fn, *args)
        return result

    def call(self, fn: str, *args: Any) -> Any:
        return self.chain.call(getattr(self.contract.functions, fn)(*args))

    def events(self, receipt: TxReceipt, event: str) -> list[Any]:
        from web3.logs import DISCARD

        return list(getattr(self.contract.events, event)().process_receipt(receipt, errors=DISCARD))

    def has_role(self, role: str, account: str) -> bool:
        return self._bool("hasRole", self.role(role), to_checksum_address(account))

    def grant_role(self, role: str, account: str, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("grantRole", self.role(role), to_checksum_address(account), sender=sender)

    def role(self, role: str) -> bytes:
        return b"\0" * 32 if role in ("DEFAULT_ADMIN_ROLE", "admin") else keccak(text=role)

    def token_uri(self, token_id: int) -> str:
        return self._str("tokenURI", token_id)

    def set_base_uri(self, base_uri: str, *, sender: LocalAccount) -> TxReceipt:
        """Points every token URI at `base_uri` + id (admin); emits ERC-4906 `BatchMetadataUpdate`."""
        return self._transact("setBaseURI", base_uri, sender=sender)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"


class Badge(_Handle):
    """An organiser's soulbound attendance badge (ERC-721 + ERC-5192)."""

    NAME = "AttendanceBadge"

    def event_id_of(self, collection: str) -> int:
        return self._int("eventIdOf", to_checksum_address(collection))

    def badge_id(self, event_id: int, holder: str) -> int:
        return (event_id << 160) | int(holder, 16)

    def has_attended(self, holder: str, event_id: int) -> bool:
        return self._bool("hasAttended", to_checksum_address(holder), event_id)

    def attended_count(self, holder: str, event_ids: Sequence[int]) -> int:
        return self._int("attendedCount", to_checksum_address(holder), list(event_ids))

    def balance_of(self, holder: str) -> int:
        return self._int("balanceOf", to_checksum_address(holder))

    def revoke(self, token_id: int, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("revoke", token_id, sender=sender)

    def register_issuer(self, issuer: str, *, sender: LocalAccount) -> int:
        receipt = self._send("registerIssuer", to_checksum_address(issuer), sender=sender)
        event_id: int = self.events(receipt, "IssuerRegistered")[0]["args"]["eventId"]
        return event_id


class Collection(_Handle):
    """One event's ticket collection."""

    NAME = "TicketCollection"

    # ---- reads
    def tier_count(self) -> int:
        return self._int("tierCount")

    def tier(self, tier_id: int) -> Tier:
        t = self.call("tier", tier_id)
        return Tier(tier_id, t[9], t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], tuple(t[10]))

    def tiers(self) -> list[Tier]:
        return [self.tier(i) for i in range(self.tier_count())]

    def ticket(self, token_id: int) -> Ticket:
        t = self.call("ticket", token_id)
        return Ticket(
            token_id,
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            t[5] if t[5] != ZERO else None,
            t[6] if t[5] != ZERO else None,
        )

    def owner_of(self, token_id: int) -> str:
        return self._str("ownerOf", token_id)

    def exists(self, token_id: int) -> bool:
        from .errors import ContractRevert

        try:
            self.call("ownerOf", token_id)
            return True
        except ContractRevert:
            return False

    def total_minted(self) -> int:
        return self._int("totalMinted")

    def balance_of(self, holder: str) -> int:
        return self._int("balanceOf", to_checksum_address(holder))

    def resale_cap_of(self, token_id: int) -> int:
        return self._int("resaleCapOf", token_id)

    def event_info(self) -> dict[str, Any]:
        start, lock, cap, gifts, badge, cancelled = self.call("eventInfo")
        return {
            "start_time": start,
            "transfer_lock_time": lock,
            "resale_cap_bps": cap,
            "gifts_allowed": gifts,
            "badge": badge,
            "cancelled": cancelled,
        }

    def badge(self) -> Badge | None:
        address = self.event_info()["badge"]
        return None if address == ZERO else Badge(self.chain, address)

    def royalty_info(self, token_id: int, price: int) -> tuple[str, int]:
        """ERC-2981: who is owed how much of a resale of `token_id` at `price`."""
        receiver, amount = self.call("royaltyInfo", token_id, price)
        return to_checksum_address(receiver), int(amount)

    def require_collection(self) -> Collection:
        """Raise InvalidInput unless a ticket collection answers at this address (code alone is not enough:
        a factory, a badge or any other contract would fail later with a bare revert)."""
        from .errors import InvalidInput, RPCUnavailable

        where = f"{self.address} on chain {self.chain.chain_id}"
        if not self.chain.w3.eth.get_code(self.address):
            raise InvalidInput(
                f"no contract at {where}: use the collection address `ticketkit deploy` printed",
                where="COLLECTION",
            )
        try:
            self.call("eventInfo")
            self.call("tierCount")
        except RPCUnavailable:
            raise
        except Exception:  # noqa: BLE001  # any failure means "not one of ours"
            raise InvalidInput(
                f"{where} is not a ticket collection (a contract is there, but not a ticketkit "
                "collection): use the collection address `ticketkit deploy` printed",
                where="COLLECTION",
            ) from None
        return self

    def paused(self) -> bool:
        """Whether the organiser paused the collection (no sales, no transfers)."""
        return self._bool("paused")

    def is_used(self, token_id: int) -> bool:
        return self._bool("isUsed", token_id)

    def withdrawable_proceeds(self) -> int:
        return self._int("withdrawableProceeds")

    def owed(self) -> int:
        return self._int("owed")

    def refund_reserve(self) -> int:
        return self._int("refundReserve")

    def credit_of(self, account: str) -> int:
        return self._int("creditOf", to_checksum_address(account))

    def nonce_of(self, holder: str) -> int:
        return self._int("nonces", to_checksum_address(holder))

    def presale_eligible(self, tier_id: int, buyer: str) -> bool:
        return self._bool("presaleEligible", tier_id, to_checksum_address(buyer))

    # ---- organiser
    def add_tier(self, tier: TierConfig, *, sender: LocalAccount) -> int:
        receipt = self._send("addTier", tier.as_tuple(), sender=sender)
        tier_id: int = self.events(receipt, "TierAdded")[0]["args"]["tierId"]
        return tier_id

    def update_tier(self, tier_id: int, tier: TierConfig, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("updateTier", tier_id, tier.as_tuple(), sender=sender)

    def set_presale(
        self,
        tier_id: int,
        *,
        ends_at: int,
        min_events: int = 0,
        event_ids: Sequence[int] = (),
        merkle_root: bytes = b"\0" * 32,
        sender: LocalAccount,
    ) -> TxReceipt:
        return self._transact(
            "setPresale", tier_id, ends_at, min_events, list(event_ids), merkle_root, sender=sender
        )

    # ---- calls, built for a sender that records them before sending (the gateway's outbox): `.estimate_gas`,
    # `.address` and `call_data(call)`
    def mint_batch_call(self, tier_id: int, recipients: Sequence[str]) -> Any:
        """The `mintBatch` call minting one ticket per recipient (needs MINTER_ROLE)."""
        return self.contract.functions.mintBatch(tier_id, [to_checksum_address(r) for r in recipients])

    def check_in_call(self, token_ids: Sequence[int]) -> Any:
        """The `checkIn` call of a batch (needs GATE_ROLE): marks each ticket used and mints its badge."""
        return self.contract.functions.checkIn(list(token_ids))

    def gateway_transfer_call(
        self, token_id: int, to: str, price: int, deadline: int, holder: LocalAccount
    ) -> Any:
        """The `gatewayTransfer` call moving `token_id` to `to` at `price`, authorised by `holder`'s signature
        (needs GATEWAY_ROLE to send)."""
        signature = self.sign_gateway_transfer(token_id, to, price, deadline, holder)
        return self.contract.functions.gatewayTransfer(
            token_id, to_checksum_address(to), price, deadline, signature
        )

    def mint_batch(
        self, tier_id: int, recipients: Sequence[str], *, sender: LocalAccount, wait: bool = True
    ) -> Any:
        """Mint one ticket per recipient. Returns the token ids (or the tx hash if not `wait`)."""
        result = self._send(
            "mintBatch", tier_id, [to_checksum_address(r) for r in recipients], sender=sender, wait=wait
        )
        if not wait:
            return result
        first = self.events(result, "TicketsMinted")[0]["args"]["firstTokenId"]
        return list(range(first, first + len(recipients)))

    def check_in(self, token_ids: Sequence[int], *, sender: LocalAccount) -> tuple[list[int], dict[int, int]]:
        """Check in a batch. Returns (admitted ids, {skipped id: reason})."""
        receipt = self._send("checkIn", list(token_ids), sender=sender)
        admitted = [e["args"]["tokenId"] for e in self.events(receipt, "CheckedIn")]
        skipped = {e["args"]["tokenId"]: e["args"]["reason"] for e in self.events(receipt, "CheckInSkipped")}
        return admitted, skipped

    def cancel_event(self, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("cancelEvent", sender=sender)

    def refund_batch(self, token_ids: Sequence[int], *, sender: LocalAccount, wait: bool = True) -> Any:
        return self._send("refundBatch", list(token_ids), sender=sender, wait=wait)

    def withdraw_proceeds(self, to: str, amount: int, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("withdrawProceeds", to_checksum_address(to), amount, sender=sender)

    def pause(self, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("pause", sender=sender)

    def unpause(self, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("unpause", sender=sender)

    # ---- fans
    def buy(
        self,
        tier_id: int,
        quantity: int = 1,
        *,
        sender: LocalAccount,
        value: int | None = None,
        proof: Sequence[bytes] | None = None,
    ) -> list[int]:
        """Buy at face value (or send `value`); returns the token ids bought."""
        if value is None:
            value = self.tier(tier_id).face_value * quantity
        if proof is None:
            receipt = self._send("buy", tier_id, quantity, sender=sender, value=value)
        else:
            receipt = self._send("buyWithProof", tier_id, quantity, list(proof), sender=sender, value=value)
        first = self.events(receipt, "TicketsPurchased")[0]["args"]["firstTokenId"]
        return list(range(first, first + quantity))

    def check_listing(self, token_id: int, price: int, holder: str) -> None:
        """Dry-run `list` as `holder` (the contract's own checks: cap, used, transfer lock); raises what it
        would revert with (web3's error, undecoded)."""
        self.contract.functions.list(token_id, price).call({"from": to_checksum_address(holder)})

    def list_for_resale(self, token_id: int, price: int, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("list", token_id, price, sender=sender)

    def cancel_listing(self, token_id: int, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("cancelListing", token_id, sender=sender)

    def buy_resale(
        self, token_id: int, *, sender: LocalAccount, value: int | None = None, max_price: int | None = None
    ) -> TxReceipt:
        """Buy a listed ticket for at most `max_price` (default: the listed price read now, what the buyer
        saw, or `value` if given; a re-listing above it reverts ListingAboveMaxPrice). `value` defaults to
        `max_price`."""
        if max_price is None:
            max_price = value if value is not None else (self.ticket(token_id).listed_price or 0)
        if value is None:
            value = max_price
        return self._transact("buyResale", token_id, max_price, sender=sender, value=value)

    def gift(self, token_id: int, to: str, *, sender: LocalAccount) -> TxReceipt:
        """The holder moves their own ticket for free (only if the collection allows gifts)."""
        return self._transact(
            "transferFrom", sender.address, to_checksum_address(to), token_id, sender=sender
        )

    def claim_refund(self, token_ids: Sequence[int], *, sender: LocalAccount) -> TxReceipt:
        return self._transact("claimRefund", list(token_ids), sender=sender)

    def withdraw_credit(self, *, sender: LocalAccount) -> TxReceipt:
        return self._transact("withdrawCredit", sender=sender)

    # ---- gateway transfers (holder signs, gateway sends)
    def sign_gateway_transfer(
        self, token_id: int, to: str, price: int, deadline: int, holder: LocalAccount
    ) -> bytes:
        """The holder's EIP-712 authorization for the gateway to move `token_id` to `to`."""
        message = {
            "domain": {
                "name": "ticketkit TicketCollection",
                "version": "1",
                "chainId": self.chain.chain_id,
                "verifyingContract": self.address,
            },
            "types": {
                "GatewayTransfer": [
                    {"name": "tokenId", "type": "uint256"},
                    {"name": "to", "type": "address"},
                    {"name": "price", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ]
            },
            "primaryType": "GatewayTransfer",
            "message": {
                "tokenId": token_id,
                "to": to_checksum_address(to),
                "price": price,
                "nonce": self.nonce_of(holder.address),
                "deadline": deadline,
            },
        }
        return holder.sign_message(encode_typed_data(full_message=message)).signature

    def gateway_transfer(
        self, token_id: int, to: str, price: int, deadline: int, signature: bytes, *, sender: LocalAccount
    ) -> TxReceipt:
        return self._transact(
            "gatewayTransfer", token_id, to_checksum_address(to), price, deadline, signature, sender=sender
        )


class Platform(_Handle):
    """The factory and its implementations: where organisers make badges and collections."""

    NAME = "TicketFactory"

    def create_badge(
        self, name: str, symbol: str, *, salt: str | bytes, base_uri: str = "", sender: LocalAccount
    ) -> Badge:
        """Create (or, if this salt was used before, find) the sender's badge."""
        address = self.predict_badge(sender.address, salt)
        if not self.chain.w3.eth.get_code(to_checksum_address(address)):
            self._send("createBadge", name, symbol, base_uri, salt_bytes(salt), sender=sender)
        return Badge(self.chain, address)

    def predict_collection(self, organiser: str, salt: str | bytes) -> str:
        """Where `organiser`'s collection with `salt` is, or will be once created."""
        return self._str("predictCollection", to_checksum_address(organiser), salt_bytes(salt))

    def predict_badge(self, organiser: str, salt: str | bytes) -> str:
        """Where `organiser`'s badge with `salt` is, or will be once created."""
        return self._str("predictBadge", to_checksum_address(organiser), salt_bytes(salt))

    def create_collection(
        self,
        event: EventConfig,
        tiers: Sequence[TierConfig],
        *,
        salt: str | bytes,
        badge: Badge | None = None,
        sender: LocalAccount,
    ) -> Collection:
        """Create (or, if this salt was used before, find) the sender's collection."""
        address = self.predict_collection(sender.address, salt)
        if not self.chain.w3.eth.get_code(to_checksum_address(address)):
            self._send(
                "createCollection",
                event.as_tuple(badge.address if badge else ZERO),
                [t.as_tuple() for t in tiers],
                salt_bytes(salt),
                sender=sender,
            )
        return Collection(self.chain, address)


def deploy_platform(chain: Chain, sender: LocalAccount) -> Platform:
    """Deploy both implementations and the factory."""
    collection_impl = chain.deploy("TicketCollection", sender)
    badge_impl = chain.deploy("AttendanceBadge", sender)
    return Platform(chain, chain.deploy("TicketFactory", sender, collection_impl, badge_impl))


def call_data(call: Any) -> str:
    """The calldata (0x hex) of a contract call built by a handle (`Collection.check_in_call`, ...), through
    web3's public `encode_abi`."""
    encoded: str = call.w3.eth.contract(abi=call.contract_abi).encode_abi(
        call.abi_element_identifier, args=call.args, kwargs=call.kwargs
    )
    return encoded
