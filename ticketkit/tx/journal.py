"""The CLI's journal: a JSON-lines file beside the deployments, one line per change of a transaction record.

A record is appended (and fsynced) before the transaction it describes is broadcast, so a run killed at any
point leaves what is needed to find its transactions again; the next run resumes the unfinished ones (tracks,
replaces or re-sends them) before it sends anything new. Reading keeps the last line of each record id.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .pipeline import TxRecord

__all__ = ["Journal"]


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def save(self, record: TxRecord) -> None:
        line = json.dumps(record.as_dict(), separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def records(self) -> list[TxRecord]:
        """Every record's last state, in the order they were first written."""
        if not self.path.exists():
            return []
        latest: dict[str, TxRecord] = {}
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash mid-write: its record was not broadcast from it
                latest[data["id"]] = TxRecord.from_dict(data)
        return list(latest.values())

    def unfinished(self, sender: str | None = None) -> list[TxRecord]:
        return [
            r
            for r in self.records()
            if not r.finished and (sender is None or r.sender.lower() == sender.lower())
        ]

    def compact(self) -> None:
        """Rewrite the file with only the unfinished records (finished ones are on chain)."""
        keep = self.unfinished()
        with self._lock:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(rec.as_dict(), separators=(",", ":")) + "\n" for rec in keep)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
