"""An event described in a TOML file: validated with pydantic, errors named by field and line.

[event]
name = "Night Owls live"
symbol = "OWL1"
start = 2027-06-12T20:00:00+01:00
transfer_lock = 2027-06-12T18:00:00+01:00
resale_cap_percent = 110
royalty_percent = 5
gifts_allowed = false
base_uri = "https://tickets.example/owl1/"

[[tiers]]
name = "General"
face_value = "0.05 ETH"      # or an integer number of wei
supply = 500
max_per_wallet = 4          # 0: no cap
sale_start = 2027-03-01T10:00:00Z
sale_end = 2027-06-12T18:00:00Z
  [tiers.presale]           # optional: badge holders first
  min_events = 1
  event_ids = [1, 2]
  ends = 2027-03-03T10:00:00Z

spec = load_event_file("event.toml")      # raises InvalidInput naming field path and line
event_config, tier_configs = spec.to_configs()
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .chain import Chain
from .contracts import (
    Badge,
    Collection,
    EventConfig,
    Platform,
    TierConfig,
    deploy_platform,
    metadata_base_uri,
)
from .errors import InvalidInput

__all__ = [
    "BADGE_SALT",
    "Deployment",
    "EventSection",
    "EventSpec",
    "PresaleSpec",
    "TierSpec",
    "deploy_event",
    "deploy_event_file",
    "load_event_file",
    "parse_amount",
    "parse_datetime",
    "parse_event_toml",
    "settings_warnings",
]

_UNITS = {"eth": 10**18, "ether": 10**18, "gwei": 10**9, "wei": 1}
_UINT96 = 2**96 - 1
_UINT64 = 2**64 - 1
_UINT32 = 2**32 - 1


def parse_amount(value: Any) -> int:
    """'0.05 ETH', '20 gwei', '1000 wei' or an integer (wei) -> wei. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(  # noqa: TRY004  # documented: a bad amount of any kind is a ValueError
            "an amount is a string like '0.05 ETH' or an integer number of wei, not a boolean"
        )
    if isinstance(value, int):
        wei = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([A-Za-z]+)?\s*", value)
        if not match:
            raise ValueError(
                f"cannot read {value!r} as an amount: write e.g. '0.05 ETH', '20 gwei' or an integer of wei"
            )
        number, unit = match.group(1).replace("_", ""), (match.group(2) or "wei").lower()
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {match.group(2)!r}: use ETH, gwei or wei")
        try:
            exact = Decimal(number) * _UNITS[unit]
        except InvalidOperation:
            raise ValueError(f"cannot read {value!r} as an amount") from None
        if exact != exact.to_integral_value():
            raise ValueError(f"{value!r} is not a whole number of wei")
        wei = int(exact)
    else:
        raise ValueError(  # noqa: TRY004  # documented: a bad amount of any kind is a ValueError
            "an amount is a string like '0.05 ETH' or an integer number of wei"
        )
    if wei < 0:
        raise ValueError("an amount cannot be negative")
    if wei > _UINT96:
        raise ValueError("an amount must fit in 96 bits (about 79 billion ETH)")
    return wei


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 datetime with a timezone ('2027-06-12T20:00:00+01:00', '...Z'). Raises InvalidInput."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{value!r} is not an ISO 8601 datetime") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{value!r} has no timezone: add one, e.g. 'Z' or '+01:00'")
    return parsed


def _percent_to_bps(value: Decimal) -> int:
    bps = value * 100
    if bps != bps.to_integral_value():
        raise ValueError("a percentage may have at most two decimals")
    return int(bps)


Wei = Annotated[int, BeforeValidator(parse_amount)]
Percent = Annotated[Decimal, Field(allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PresaleSpec(_Model):
    """Until `ends`, only holders of badges of at least `min_events` of `event_ids` may buy."""

    min_events: int = Field(ge=0, le=_UINT32)
    event_ids: list[Annotated[int, Field(ge=1, le=_UINT64)]] = Field(default_factory=list)
    ends: AwareDatetime

    @field_validator("event_ids")
    @classmethod
    def _enough_events(cls, event_ids: list[int], info: ValidationInfo) -> list[int]:
        min_events = info.data.get("min_events")
        if min_events is not None and min_events > len(event_ids):
            raise ValueError(f"min_events ({min_events}) is more than the {len(event_ids)} event_ids listed")
        return event_ids


class TierSpec(_Model):
    name: str = Field(min_length=1)
    face_value: Wei
    supply: int = Field(gt=0, le=_UINT32)
    max_per_wallet: int = Field(default=0, ge=0, le=_UINT32)
    sale_start: AwareDatetime
    sale_end: AwareDatetime
    presale: PresaleSpec | None = None

    @field_validator("sale_end")
    @classmethod
    def _after_start(cls, sale_end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("sale_start")
        if start is not None and sale_end <= start:
            raise ValueError(
                f"sale_end ({sale_end.isoformat()}) must be after sale_start ({start.isoformat()})"
            )
        return sale_end

    def to_config(self) -> TierConfig:
        return TierConfig(
            self.name,
            face_value=self.face_value,
            supply=self.supply,
            sale_start=int(self.sale_start.timestamp()),
            sale_end=int(self.sale_end.timestamp()),
            max_per_wallet=self.max_per_wallet,
        )


class EventSection(_Model):
    name: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    start: AwareDatetime
    transfer_lock: AwareDatetime
    resale_cap_percent: Percent = Field(ge=100, le=655)
    royalty_percent: Percent = Field(default=Decimal(0), ge=0, le=50)
    gifts_allowed: StrictBool = False
    base_uri: str = ""

    @field_validator("transfer_lock")
    @classmethod
    def _not_after_start(cls, lock: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and lock > start:
            raise ValueError(
                f"transfer_lock ({lock.isoformat()}) must not be after start ({start.isoformat()})"
            )
        return lock

    @field_validator("resale_cap_percent", "royalty_percent")
    @classmethod
    def _two_decimals(cls, value: Decimal) -> Decimal:
        _percent_to_bps(value)
        return value


class EventSpec(_Model):
    event: EventSection
    tiers: list[TierSpec] = Field(min_length=1, max_length=65_536)

    @field_validator("tiers")
    @classmethod
    def _unique_names(cls, tiers: list[TierSpec]) -> list[TierSpec]:
        seen: set[str] = set()
        for tier in tiers:
            if tier.name in seen:
                raise ValueError(f"two tiers are named {tier.name!r}: tier names must be unique")
            seen.add(tier.name)
        return tiers

    def to_configs(self) -> tuple[EventConfig, list[TierConfig]]:
        """The contract-level configs: datetimes as unix seconds, percentages as basis points."""
        e = self.event
        config = EventConfig(
            e.name,
            e.symbol,
            start_time=int(e.start.timestamp()),
            transfer_lock_time=int(e.transfer_lock.timestamp()),
            resale_cap_bps=_percent_to_bps(e.resale_cap_percent),
            royalty_bps=_percent_to_bps(e.royalty_percent),
            gifts_allowed=e.gifts_allowed,
            base_uri=e.base_uri,
        )
        return config, [t.to_config() for t in self.tiers]

    def tier_id(self, name: str) -> int:
        for i, tier in enumerate(self.tiers):
            if tier.name == name:
                return i
        raise InvalidInput(f"no tier named {name!r}", where="tiers")


# ---------------------------------------------------------------- locating errors in the file

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(text: str) -> list[str]:
    return [
        part.strip().strip("\"'") for part in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", text)
    ]


def _line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Map each table and key of the TOML text to its (1-based) line: ("tiers", 1, "supply") -> 17."""
    lines: dict[tuple[Any, ...], int] = {}
    counts: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            parts = _split_key(header.group(2))
            path: list[Any] = []
            # Resolve each element of the header against the arrays of tables seen so far.
            for part in parts[:-1]:
                path.append(part)
                if tuple(path) in counts:
                    path.append(counts[tuple(path)] - 1)
            path.append(parts[-1])
            if header.group(1) == "[[":
                key = tuple(path)
                counts[key] = counts.get(key, 0) + 1
                path.append(counts[key] - 1)
            table = tuple(path)
            lines.setdefault(table, number)
            continue
        key_match = _KEY.match(line)
        if key_match:
            full = table + tuple(_split_key(key_match.group(1)))
            lines.setdefault(full, number)
            rest = line[key_match.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
    return lines


def _line_of(index: dict[tuple[Any, ...], int], loc: Sequence[Any]) -> int | None:
    for end in range(len(loc), 0, -1):
        if tuple(loc[:end]) in index:
            return index[tuple(loc[:end])]
    return None


def _dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def parse_event_toml(text: str, *, source: str = "<event>") -> EventSpec:
    """Validate TOML text as an event description; InvalidInput names the field path and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        line_match = re.search(r"line (\d+)", message)
        where = f"{source}:{line_match.group(1)}" if line_match else source
        raise InvalidInput(f"not valid TOML: {message}", where=where) from None
    try:
        return EventSpec.model_validate(data)
    except ValidationError as error:
        index = _line_index(text)
        problems = []
        for item in error.errors(include_url=False):
            loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = _line_of(index, loc)
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "this field is required"
            elif item["type"] == "extra_forbidden":
                message = "unknown field (not allowed here)"
            elif item["type"] == "timezone_aware":
                message = "a datetime needs a timezone, e.g. 2027-06-12T20:00:00+01:00 or ...Z"
            problems.append((f"{source}:{line}" if line else source, _dotted(loc), message))
        where, field, message = problems[0]
        if len(problems) > 1:
            others = "; ".join(f"{f} ({w}): {m}" for w, f, m in problems[1:])
            message += f" (also: {others})"
        raise InvalidInput(message, where=f"{where}: {field}") from None


def load_event_file(path: str | Path) -> EventSpec:
    """Read and validate an event TOML file. Raises InvalidInput naming the field path and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(
            f"cannot read the event file: {error.strerror or error}", where=str(path)
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput("the event file is not UTF-8 text", where=str(path)) from None
    return parse_event_toml(text, source=str(path))


# ---------------------------------------------------------------- deploying a described event

BADGE_SALT = "ticketkit-attendance"


def _require_future_start(spec: EventSpec, now: int) -> None:
    """The contract refuses a start time that has passed (StartTimeInPast): say so before sending anything."""
    if int(spec.event.start.timestamp()) <= now:
        raise InvalidInput(
            f"the event starts at {spec.event.start.isoformat()}, which has passed on this chain "
            f"(its time is {_iso(now)}): a collection must start in the future, or refunds could "
            "never apply; set event.start to the real date",
            where="event.start",
        )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z")


def settings_warnings(spec: EventSpec, *, now: int) -> list[str]:
    """Settings that validate but probably do not mean what the organiser wants (`now`: chain time)."""
    e = spec.event
    start, lock = int(e.start.timestamp()), int(e.transfer_lock.timestamp())
    found = []
    if start <= now:
        found.append(
            f"event.start {e.start.isoformat()} has passed (chain time {_iso(now)}): the deploy will "
            "be refused"
        )
    elif lock <= now:
        found.append(
            f"event.transfer_lock {e.transfer_lock.isoformat()} has passed: tickets can never be "
            "resold or given"
        )
    for tier in spec.tiers:
        name = f"tier {tier.name!r}"
        if tier.sale_end > e.start:
            found.append(
                f"{name}: sale_end {tier.sale_end.isoformat()} is after the event starts "
                f"({e.start.isoformat()}): tickets bought after the start cannot be refunded on chain"
            )
        if int(tier.sale_end.timestamp()) <= now:
            found.append(
                f"{name}: the sale window ended ({tier.sale_end.isoformat()}): nobody can buy this tier"
            )
        if tier.max_per_wallet > tier.supply:
            found.append(
                f"{name}: max_per_wallet {tier.max_per_wallet} is above the supply {tier.supply} "
                "(no cap in effect)"
            )
        if tier.presale is not None:
            ends = tier.presale.ends
            if ends <= tier.sale_start:
                found.append(
                    f"{name}: presale ends {ends.isoformat()}, before the sale opens "
                    f"({tier.sale_start.isoformat()}): the presale never applies"
                )
            elif ends >= tier.sale_end:
                found.append(
                    f"{name}: presale ends {ends.isoformat()}, at or after the sale ends "
                    f"({tier.sale_end.isoformat()}): only eligible buyers can ever buy"
                )
    return found


@dataclass(frozen=True)
class Deployment:
    platform: Platform
    collection: Collection
    badge: Badge | None
    platform_deployed: bool  # a new factory was deployed (no factory given)
    collection_existed: bool  # the collection was there already (same organiser, same event name)
    record: Path | None = None  # the deployment record written (deploy_event_file)
    factory_from_record: bool = False  # the factory came from the record of an earlier run
    notes: tuple[str, ...] = ()  # why a record was not used, settings worth a second look


def deploy_event(
    chain: Chain,
    spec: EventSpec,
    sender: LocalAccount,
    *,
    factory: str | None = None,
    badge: bool = True,
    on_platform: Callable[[Platform], None] | None = None,
    gateway_url: str | None = None,
) -> Deployment:
    """Create the event's collection (idempotent: the salt is the event name) and its presales.

    Without `factory` a new platform is deployed first (`on_platform` sees it before anything else is
    sent, so a record of it survives an interrupted deploy). With `badge`, the organiser's attendance
    badge (one per organiser and factory, salt BADGE_SALT) is created or found and attached.
    With `gateway_url` (the gateway's public URL), the collection's and the badge's token URIs point at
    the gateway's metadata (`metadata_base_uri`, instead of the file's `base_uri`); a collection or badge
    that already exists is re-pointed with `setBaseURI` (which tells wallets to refresh).
    """
    event_config, tier_configs = spec.to_configs()
    if any(t.presale and t.presale.min_events for t in spec.tiers) and not badge:
        raise InvalidInput("a presale by attended events needs attendance badges", where="tiers.presale")
    now = chain.timestamp()
    if not factory:
        _require_future_start(spec, now)
    if factory:
        address = to_checksum_address(factory)
        if not chain.w3.eth.get_code(address):
            raise InvalidInput(f"no factory at {address} on chain {chain.chain_id}", where="factory")
        platform = Platform(chain, address)
    else:
        platform = deploy_platform(chain, sender)
        if on_platform:
            on_platform(platform)
    the_badge = None
    if badge:
        badge_address = platform.predict_badge(sender.address, BADGE_SALT)
        badge_uri = metadata_base_uri(gateway_url, chain.chain_id, badge_address) if gateway_url else ""
        badge_existed = bool(chain.w3.eth.get_code(to_checksum_address(badge_address)))
        the_badge = platform.create_badge(
            "Attendance badges", "ATTEND", salt=BADGE_SALT, base_uri=badge_uri, sender=sender
        )
        if gateway_url and badge_existed:
            the_badge.set_base_uri(badge_uri, sender=sender)
    predicted = platform.predict_collection(sender.address, spec.event.name)
    existed = bool(chain.w3.eth.get_code(to_checksum_address(predicted)))
    if not existed:
        _require_future_start(spec, now)
    if gateway_url:
        event_config = dataclasses.replace(
            event_config, base_uri=metadata_base_uri(gateway_url, chain.chain_id, predicted)
        )
    collection = platform.create_collection(
        event_config, tier_configs, salt=spec.event.name, badge=the_badge, sender=sender
    )
    if gateway_url and existed:
        collection.set_base_uri(event_config.base_uri, sender=sender)
    for tier_id, tier in enumerate(spec.tiers):
        if tier.presale is None:
            continue
        ends = int(tier.presale.ends.timestamp())
        current = collection.tier(tier_id)
        wanted = (ends, tier.presale.min_events, list(tier.presale.event_ids))
        if (current.presale_end, current.presale_min_events, list(current.presale_events)) != wanted:
            collection.set_presale(
                tier_id,
                ends_at=ends,
                min_events=tier.presale.min_events,
                event_ids=tier.presale.event_ids,
                sender=sender,
            )
    return Deployment(
        platform, collection, the_badge, platform_deployed=not factory, collection_existed=existed
    )


def differences(spec: EventSpec, collection: Collection) -> list[str]:
    """Where the deployed collection differs from the event file (a redeploy changes nothing on chain)."""
    event, tiers = spec.to_configs()
    info = collection.event_info()
    found = []
    for field, mine, theirs in (
        ("event.start", event.start_time, info["start_time"]),
        ("event.transfer_lock", event.transfer_lock_time, info["transfer_lock_time"]),
        ("event.resale_cap_percent", event.resale_cap_bps, info["resale_cap_bps"]),
        ("event.gifts_allowed", event.gifts_allowed, info["gifts_allowed"]),
    ):
        if mine != theirs:
            found.append(f"{field} is {mine} in the file but {theirs} on chain")
    chain_tiers = collection.tiers()
    for i, tier in enumerate(tiers):
        if i >= len(chain_tiers):
            found.append(f"tiers[{i}] ({tier.name!r}) is not on chain")
            continue
        theirs = chain_tiers[i]
        for field in ("name", "face_value", "supply", "max_per_wallet", "sale_start", "sale_end"):
            if getattr(tier, field) != getattr(theirs, field):
                found.append(
                    f"tiers[{i}].{field} is {getattr(tier, field)} in the file but "
                    f"{getattr(theirs, field)} on chain"
                )
    if found:
        found = [
            (
                "the deployed collection differs from the event file, and a redeploy changes nothing on "
                "chain: "
                f"{'; '.join(found)}"
            )
        ]
    return found


def deploy_event_file(
    chain: Chain,
    path: str | Path,
    sender: LocalAccount,
    *,
    factory: str | None = None,
    badge: bool = True,
    record: str | Path | None = None,
    gateway_url: str | None = None,
) -> Deployment:
    """`deploy_event` for an event file, with its deployment record (ticketkit.deployments).

    Without `factory`, the record of this chain beside the event file (or at `record`) gives the
    factory of an earlier run, so a rerun finds the collection instead of deploying a second platform.
    The record is written as soon as a new factory exists and again once the collection does.
    """
    from .deployments import DeploymentRecord, find_record, record_path, save_record

    spec = load_event_file(path)
    where = Path(record) if record is not None else record_path(path)
    notes: list[str] = []
    from_record = False
    if not factory:
        found, why = find_record(where, chain)
        if why:
            notes.append(why)
        if found is not None:
            factory, from_record = found.factory, True

    def remember(platform: Platform) -> None:
        save_record(
            where, chain, DeploymentRecord(platform.address, organiser=sender.address, event=spec.event.name)
        )

    done = deploy_event(
        chain, spec, sender, factory=factory, badge=badge, on_platform=remember, gateway_url=gateway_url
    )
    if done.collection_existed:
        notes += differences(spec, done.collection)
    save_record(
        where,
        chain,
        DeploymentRecord(
            done.platform.address,
            done.collection.address,
            done.badge.address if done.badge else None,
            sender.address,
            spec.event.name,
        ),
    )
    return Deployment(
        done.platform,
        done.collection,
        done.badge,
        done.platform_deployed,
        done.collection_existed,
        record=where,
        factory_from_record=from_record,
        notes=tuple(notes),
    )
