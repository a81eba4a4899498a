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
    available: asyncio.Event | None = None


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


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


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
    for /gate/ paths when the doors have a server of their own."""

    async def connect(mix: Mix):
        return await asyncio.open_connection(mix.host, mix.port, limit=1 << 20)

    for mix in mixes:
        parts = urlsplit(gate_url if gate_url and mix.path.startswith("/gate/") else url)
        mix.host, mix.port = parts.hostname or "127.0.0.1", parts.port or 80
        mix.idle = deque([await connect(mix) for _ in range(max(1, round(connections * mix.share)))])
        mix.available = asyncio.Event()
    lags: list[float] = []
    errors: Counter = Counter()
    pending: set[asyncio.Task] = set()
    total = int(rate * seconds)
    weights = [m.share for m in mixes]
    rng = random.Random(7)

    async def one(mix: Mix, request: bytes, due: float, connection) -> None:
        reader, writer = connection
        try:
            status = await asyncio.wait_for(_exchange(reader, writer, request), timeout=30)
            mix.statuses[status] += 1
            mix.latencies.append(time.perf_counter() - due)
            mix.dues.append(due - start)
            mix.idle.append(connection)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
            errors[type(error).__name__] += 1
            writer.close()
            try:  # replace the broken connection
                mix.idle.append(await connect(mix))
            except OSError:
                errors["reconnect"] += 1
        mix.available.set()

    start = time.perf_counter() + 0.2
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        mix = rng.choices(mixes, weights)[0]
        while not mix.idle:
            mix.available.clear()
            await mix.available.wait()
        lags.append(time.perf_counter() - due)
        task = asyncio.ensure_future(one(mix, mix.requests[i % len(mix.requests)], due, mix.idle.popleft()))
        pending.add(task)
        task.add_done_callback(pending.discard)
    sent_by = time.perf_counter()
    if pending:
        await asyncio.wait(pending, timeout=35)
    result = {
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
        for _, writer in mix.idle:
            writer.close()
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
