"""Deployment records: what `ticketkit deploy event.toml` made, per chain, in a file next to the event.

    event.toml  ->  event.deployments.json
    {"format": "ticketkit-deployments/1",
     "chains": {"31337": {"genesis": "0x…", "factory": "0x…", "badge": "0x…", "collection": "0x…",
                          "organiser": "0x…", "event": "Night Owls live", "updated": "2027-…Z"}}}

Like forge's broadcast records or ape's deployments: a rerun of the same event file on the same
chain finds the factory it made and so the collection ("already deployed at 0x…") instead of
deploying a second platform. The factory is recorded as soon as it exists, so a deploy interrupted
after it reuses it. A record is used only if the chain still has code at the factory and the same
genesis block (a restarted local node has the same chain id but a new genesis: its record is stale).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from .chain import Chain
from .errors import InvalidInput

__all__ = ["FORMAT", "DeploymentRecord", "collection_address", "find_record", "record_path", "save_record"]

FORMAT = "ticketkit-deployments/1"


def record_path(event_file: str | Path) -> Path:
    """Where the records of `event_file` live: `<stem>.deployments.json` beside it."""
    path = Path(event_file)
    return path.with_name(f"{path.stem}.deployments.json")


@dataclass(frozen=True)
class DeploymentRecord:
    factory: str
    collection: str | None = None
    badge: str | None = None
    organiser: str | None = None
    event: str | None = None


def _genesis(chain: Chain) -> str:
    return "0x" + bytes(chain.w3.eth.get_block(0)["hash"]).hex()


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"format": FORMAT, "chains": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInput(
            f"cannot read the deployment record ({error}): fix or delete it", where=str(path)
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("chains"), dict):
        raise InvalidInput(f"not a {FORMAT} file: fix or delete it", where=str(path))
    return data


def find_record(path: str | Path, chain: Chain) -> tuple[DeploymentRecord | None, str | None]:
    """The usable record for `chain` in `path`, else None and why an existing one was not used."""
    path = Path(path)
    entry = _read(path)["chains"].get(str(chain.chain_id))
    if not entry:
        return None, None
    factory = entry.get("factory")
    if not isinstance(factory, str) or not is_address(factory):
        raise InvalidInput(
            f"chains.{chain.chain_id}.factory is not an address: fix or delete it", where=str(path)
        )
    if entry.get("genesis") and entry["genesis"] != _genesis(chain):
        return None, (
            f"{path} records chain {chain.chain_id} with another genesis block (a restarted local "
            "node?): deploying anew"
        )
    if not chain.w3.eth.get_code(to_checksum_address(factory)):
        return (
            None,
            f"{path} records factory {factory}, which has no code on chain {chain.chain_id}: deploying anew",
        )

    def address(key: str) -> str | None:
        value = entry.get(key)
        return to_checksum_address(value) if isinstance(value, str) and is_address(value) else None

    return DeploymentRecord(
        to_checksum_address(factory),
        address("collection"),
        address("badge"),
        address("organiser"),
        entry.get("event"),
    ), None


def save_record(path: str | Path, chain: Chain, record: DeploymentRecord) -> None:
    """Write `record` for `chain` into `path` (other chains' records kept), atomically."""
    path = Path(path)
    data = _read(path)
    entry: dict[str, Any] = {"genesis": _genesis(chain), "factory": record.factory}
    for key in ("collection", "badge", "organiser", "event"):
        value = getattr(record, key)
        if value is not None:
            entry[key] = value
    entry["updated"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["chains"][str(chain.chain_id)] = entry
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def collection_address(chain: Chain, value: str, *, where: str = "COLLECTION") -> str:
    """A collection's address from an address, or from an event file deployed on `chain` (its record)."""
    if is_address(value):
        return to_checksum_address(value)
    path = Path(value)
    if path.suffix == ".toml" and path.exists():
        found, why = find_record(record_path(path), chain)
        if found is None or found.collection is None:
            raise InvalidInput(
                f"{path} has no collection recorded on chain {chain.chain_id}"
                f"{' (' + why + ')' if why else ''}: deploy it first with `ticketkit deploy {path}`",
                where=where,
            )
        return found.collection
    raise InvalidInput(f"{value!r} is neither an address nor a deployed event file (.toml)", where=where)
