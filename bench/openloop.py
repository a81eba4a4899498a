"""An open-loop HTTP load client: requests at a constant arrival rate, whatever the server's answers take.

    python -m bench.openloop URL --rate 1000 --seconds 20 --connections 2000 \
        --mix reads.txt:GET:/fans/me/tickets:0.9 --mix codes.txt:POST:/gate/scan:0.1

wrk is closed loop (a connection sends its next request when the answer to the previous one arrives), so under
saturation its latency is queueing it made itself. Here request i is due at start + i / rate; it goes out on
an idle keep-alive connection (of `--connections`, opened before the clock starts), and its latency counts
from the moment it was DUE, so a slow server cannot hide its slowness by slowing the client (coordinated
omission). `send_lag_p99_ms` says how late the client itself sent: if that grows, the client is the
bottleneck, not the server. Each mix entry: a file of `<bearer token> <body or ->` lines (bench/load.py), a
method, a path, a share. Prints one JSON object: per path p50/p99/max ms and answers by status, the achieved
rate, the send lag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Mix:
    method: str
    path: str
    share: float
    requests: list[bytes]
    latencies: list[float] = field(default_factory=list)
    dues: list[float] = field(default_factory=list)  # when each answered request was due, from the start
    statuses: Counter = field(default_factory=Counter)
    host: str = "127.0.0.1"
    port: int = 80
    idle: deque = field(default_factory=deque)


def _requests(host: str, method: str, path: str, lines_file: str) -> list[bytes]:
    out = []
    with open(lines_file) as lines:
        text = list(lines)
    for line in text:
        token, _, body = line.rstrip("\n").partition(" ")
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        if method == "POST":
            data = body.encode()
            out.append(
                (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                + data
            )
        else:
            out.append((head + "\r\n").encode())
    return out


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed just enough (status, then
    Content-Length bytes of body). Callbacks, not a task per request: at 1,000 requests a second over 2,000
    connections the client must cost little, or its own lag becomes the latency it reports."""

    def __init__(self, done):
        self.done = done  # done(connection, status or None for a broken connection)
        self.transport: Any = None  # an asyncio.Transport once connected
        self.buffer = b""
        self.status = 0
        self.remaining = -1  # body bytes still to come; -1: reading the head
        self.busy_since = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, request: bytes) -> None:
        self.busy_since = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.remaining < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.status = int(head[9:12])
            self.remaining = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    self.remaining = int(line[15:])
        if len(self.buffer) >= self.remaining:
            self.buffer, self.remaining, self.busy_since = b"", -1, 0.0
            self.done(self, self.status)

    def connection_lost(self, exc) -> None:
        if self.busy_since:
            self.busy_since = 0.0
            self.done(self, None)


def _by_second(mix: Mix) -> list[float]:
    seconds: dict[int, list[float]] = {}
    for due, latency in zip(mix.dues, mix.latencies, strict=True):
        seconds.setdefault(int(due), []).append(latency)
    return [round(_percentile(seconds[s], 0.99) * 1000, 1) for s in sorted(seconds)]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(
    url: str, mixes: list[Mix], rate: float, seconds: float, connections: int, gate_url: str | None = None
) -> dict:
    """Each mix has keep-alive connections of its own (its share of `connections`), to `url`, or to `gate_url`
    for /gate/ paths when the doors have a server of their own. Every millisecond, the requests that have
    fallen due go out on idle connections; an answer taking over 30 s counts as a timeout."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    errors: Counter = Counter()
    in_flight: dict[_Connection, tuple[Mix, float]] = {}

    def done(connection: _Connection, status: int | None) -> None:
        mix, due = in_flight.pop(connection)
        if status is None:
            errors["ConnectionError"] += 1
            asyncio.ensure_future(reconnect(mix))
            return
        mix.statuses[status] += 1
        mix.latencies.append(time.perf_counter() - due)
        mix.dues.append(due - start)
        mix.idle.append(connection)

    async def connect(mix: Mix) -> _Connection:
        _, protocol = await loop.create_connection(lambda: _Connection(done), mix.host, mix.port)
        return protocol

    async def reconnect(mix: Mix) -> None:
        try:
            mix.idle.append(await connect(mix))
        except OSError:
            errors["reconnect"] += 1

    for mix in mixes:
        parts = urlsplit(gate_url if gate_url and mix.path.startswith("/gate/") else url)
        mix.host, mix.port = parts.hostname or "127.0.0.1", parts.port or 80
        mix.idle = deque([await connect(mix) for _ in range(max(1, round(connections * mix.share)))])
    total = int(rate * seconds)
    weights = [m.share for m in mixes]
    rng = random.Random(7)
    start = time.perf_counter() + 0.2
    next_i, next_sweep = 0, start + 1.0
    while next_i < total:
        now = time.perf_counter()
        while next_i < total and start + next_i / rate <= now:
            mix = rng.choices(mixes, weights)[0]
            if not mix.idle:
                break  # every connection of this mix is busy: wait for one (the lag shows it)
            due = start + next_i / rate
            lags.append(now - due)
            connection = mix.idle.popleft()
            in_flight[connection] = (mix, due)
            connection.send(mix.requests[next_i % len(mix.requests)])
            next_i += 1
        await asyncio.sleep(0.001)
        # Once a second: answers overdue by 30 s are timeouts, their connections replaced.
        if now >= next_sweep:
            next_sweep = now + 1.0
            for connection, (mix, _) in list(in_flight.items()):
                if now - connection.busy_since > 30:
                    errors["TimeoutError"] += 1
                    del in_flight[connection]
                    connection.busy_since = 0.0
                    connection.transport.close()
                    asyncio.ensure_future(reconnect(mix))
    sent_by = time.perf_counter()
    deadline = sent_by + 35
    while in_flight and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    errors["TimeoutError"] += len(in_flight)
    if not errors["TimeoutError"]:
        del errors["TimeoutError"]
    result: dict[str, Any] = {
        "target_rps": rate,
        "achieved_rps": round(total / (sent_by - start), 1),
        "requests": total,
        "send_lag_p99_ms": round(_percentile(lags, 0.99) * 1000, 2),
        "errors": dict(errors),
        "paths": {},
    }
    for mix in mixes:
        result["paths"][mix.path] = {
            "requests": len(mix.latencies),
            "statuses": {str(k): v for k, v in mix.statuses.items()},
            "p50_ms": round(_percentile(mix.latencies, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(mix.latencies, 0.99) * 1000, 2),
            "max_ms": round(max(mix.latencies, default=0) * 1000, 2),
            "p99_ms_by_second": _by_second(mix),  # a warm-up or a stall shows here, a steady tail does not
        }
        for connection in mix.idle:
            connection.transport.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--mix", action="append", required=True, help="FILE:METHOD:PATH:SHARE")
    parser.add_argument("--gate-url", help="where /gate/ paths go (the doors' own server), if not URL")
    args = parser.parse_args()
    host = urlsplit(args.url).netloc
    mixes = []
    for spec in args.mix:
        lines_file, method, path, share = spec.split(":")
        mixes.append(Mix(method, path, float(share), _requests(host, method, path, lines_file)))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from bench.load import raise_open_files_limit

    raise_open_files_limit()
    print(
        json.dumps(
            asyncio.run(run(args.url, mixes, args.rate, args.seconds, args.connections, args.gate_url))
        )
    )


if __name__ == "__main__":
    main()
