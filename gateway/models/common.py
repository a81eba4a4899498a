"""What every area's tables and schemas share: the clock (`utcnow`, `as_utc`), the request types for amounts,
counts and times, and the status of an idempotent operator send.

Amounts in wei are stored and returned as decimal strings (they overflow 64-bit integers and JSON
numbers); requests accept integers or decimal strings, never booleans or fractions (`Wei`). Request counts are
strict integers and request times strict date-time strings within a sane range (`Count`, `Instant`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Strict
from sqlmodel import Field

MAX_WEI = 2**256 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one (SQLite gives stored times back without their zone) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _amount(value: object) -> object:
    """An amount in wei: an integer or a string of decimal digits; `true` or `1.5` is not an amount."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(  # noqa: TRY004  # pydantic reports a ValueError as invalid input (a TypeError: a 500)
            "an amount in wei is an integer or a string of decimal digits"
        )
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 78:
            raise ValueError("an amount in wei is an integer or a string of decimal digits")
        return int(value)
    return value


def _date_time_text(value: object) -> object:
    """A date-time is a string (RFC 3339), as the schema says: not a number of seconds."""
    if not isinstance(value, (str, datetime)):
        raise ValueError("a date-time string, e.g. 2026-07-04T19:42:00+02:00")  # noqa: TRY004  # see _amount
    return value


def _sane_instant(value: datetime) -> datetime:
    """Within years 2000-2999 once in UTC (converting far-off times with an offset overflows)."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value
    except OverflowError:
        raise ValueError("a date-time between the years 2000 and 2999") from None
    if not 2000 <= utc.year <= 2999:
        raise ValueError("a date-time between the years 2000 and 2999")
    return value


Wei = Annotated[int, BeforeValidator(_amount), Field(ge=0, le=2**256 - 1)]
Count = Annotated[int, Strict()]
Instant = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_sane_instant)]


# The closed lists of values (here and in each area) are StrEnums stored as the same strings (a VARCHAR
# column, `sa_type=AutoString`: no database enum type) and listed in the OpenAPI document. Rows read back from
# the database hold plain strings, equal to the members.
class SendStatus(StrEnum):
    """An idempotent operator send's record (issuances, transfers, resale settlements, check-in batches):
    pending until its transaction is final; failed (a transfer, a check-in batch) when it did not go
    through."""

    pending = "pending"
    done = "done"
    failed = "failed"
