"""A fault-injecting JSON-RPC proxy for the chaos tests: what a public RPC provider does on a bad day.

    with FaultProxy(anvil_url, seed=7) as proxy:
        proxy.set(rate_limited=0.3)            # 30 % of HTTP requests answered 429 + Retry-After
        chain = tk.connect(proxy.url)
        ...
        assert proxy.counts["429"] > 0

It forwards HTTP JSON-RPC (single calls and batches) to one upstream node on a threaded server bound to
127.0.0.1. Faults are set at run time with `set(...)` (or the attributes) and drawn from one
`random.Random(seed)`, so a single-threaded client sees the same faults on every run:

- `rate_limited`: fraction of requests answered HTTP 429 with `Retry-After: retry_after` (seconds);
- `bad_gateway`: fraction answered HTTP 502; `burst(502, n)` / `burst(429, n)` answers the next n so;
- `lost_answers`: fraction forwarded to the node (so executed) whose answer is lost: HTTP 502 (a load
  balancer timing out on its upstream); `burst("lost", n)` does so to the next n;
- `hang`: fraction that never get an answer (the handler holds the connection until the client gives up,
  `hang_seconds`, or the proxy closes);
- `down()` / `up()`: the node is gone (the listening socket and its open connections are closed, so a new
  connection is refused), then back on the same port;
- `stale_blocks`: the node lags N blocks: `eth_blockNumber` answers head - N, the "latest" tag of block and
  state reads is rewritten to head - N (a later block is not found), and a receipt mined above head - N is
  not known yet (null); "pending" reads (the nonce) are left alone;
- `tip_floor` (wei): `eth_sendRawTransaction` of a transaction whose priority fee (type 1/legacy: gas price)
  is under the floor gets the JSON-RPC error Polygon's bor nodes give (`UNDERPRICED_MESSAGE`, code -32000);
  `tip_floor_style="legacy"` gives the older bor/geth wording "transaction underpriced".

`methods` (a set of names, or None for all) limits which calls the random faults hit (a batch is hit if any of
its calls is). `counts` counts what the proxy did: requests, forwarded, calls, "429", "502", hang, stale,
underpriced, lost, upstream_unreachable (the node behind failed), refused_while_down (requests that arrived on
a connection opened before `down()`), and "method:<name>" per JSON-RPC method.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import requests
import rlp
from eth_utils import big_endian_to_int

__all__ = ["UNDERPRICED_LEGACY_MESSAGE", "UNDERPRICED_MESSAGE", "FaultProxy", "priority_fee"]

# bor (Polygon PoS) since its geth 1.13 base refuses a tip under txpool.pricelimit with geth's
# ErrTxGasPriceTooLow wrapped as "%w: gas tip cap %v, minimum needed %v"; older bor and geth said
# ErrUnderpriced, "transaction underpriced". Both are JSON-RPC error code -32000.
UNDERPRICED_MESSAGE = "transaction gas price below minimum: gas tip cap {tip}, minimum needed {floor}"
UNDERPRICED_LEGACY_MESSAGE = "transaction underpriced"

# Calls that carry a block tag, and where: rewritten to the lagging head when `stale_blocks` is set.
_TAG_POSITION = {
    "eth_getBlockByNumber": 0,
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getTransactionCount": 1,
    "eth_getCode": 1,
    "eth_getStorageAt": 2,
    "eth_estimateGas": 1,
}


def priority_fee(raw: bytes) -> int:
    """The tip a node's pool compares to its floor: maxPriorityFeePerGas (type 2+), else the gas price."""
    if raw and raw[0] < 0x7F:  # typed transaction: type byte, then an RLP list
        fields = rlp.decode(raw[1:])
        return big_endian_to_int(fields[2])  # type 1: gasPrice; type 2, 3, 4: maxPriorityFeePerGas
    return big_endian_to_int(rlp.decode(raw)[1])  # legacy: [nonce, gasPrice, ...]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use it
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)

    def do_POST(self) -> None:  # http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, headers, payload = self.server.proxy._handle(body)
        if status is None:  # no answer: the connection is dropped
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FaultProxy:
    """A JSON-RPC proxy to `upstream_url` with faults set at run time; a context manager giving `.url`."""

    def __init__(self, upstream_url: str, *, seed: int = 0, port: int = 0, timeout: float = 30.0):
        self.upstream_url = upstream_url
        self.timeout = timeout
        self.rate_limited = 0.0
        self.retry_after: float | int = 1
        self.bad_gateway = 0.0
        self.lost_answers = 0.0
        self.hang = 0.0
        self.hang_seconds = 60.0
        self.stale_blocks = 0
        self.tip_floor: int | None = None
        self.tip_floor_style = "bor"
        self.methods: set[str] | None = None
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._bursts: list[int | str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._connections: set[socket.socket] = set()
        self._local = threading.local()
        self._down = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self.url = ""

    # ---- lifecycle
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.proxy = self
        self._port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self._port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-proxy-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._release.set()
        self._stop_server()

    def down(self) -> None:
        """The node goes away: new connections are refused, open ones are closed."""
        self._down = True
        self._stop_server()

    def up(self) -> None:
        """The node is back on the same port."""
        if self._server is None:
            self._down = False
            deadline = time.monotonic() + 5
            while True:
                try:
                    self.start()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    @property
    def is_down(self) -> bool:
        return self._down

    # ---- faults
    def set(self, **faults: Any) -> FaultProxy:
        """Set fault attributes (rate_limited, retry_after, bad_gateway, hang, hang_seconds, stale_blocks,
        tip_floor, tip_floor_style, methods); unknown names raise."""
        for name, value in faults.items():
            if name.startswith("_") or not hasattr(self, name) or name in ("counts", "url", "upstream_url"):
                raise AttributeError(f"FaultProxy has no fault {name!r}")
            setattr(self, name, value)
        return self

    def clear(self) -> FaultProxy:
        """No faults any more (the counters are kept)."""
        self.rate_limited = self.bad_gateway = self.hang = self.lost_answers = 0.0
        self.stale_blocks = 0
        self.tip_floor = None
        self.methods = None
        with self._lock:
            self._bursts.clear()
        return self

    def burst(self, status: int | str, count: int) -> FaultProxy:
        """Answer the next `count` requests (those `methods` selects) with HTTP `status` (429 or 5xx), or
        "lost" (forward, then answer 502), or "hang"."""
        with self._lock:
            self._bursts.extend([status] * count)
        return self

    # ---- internals
    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _upstream(self, payload: Any) -> Any:
        response = self._session().post(self.upstream_url, json=payload, timeout=self.timeout)
        return response.json()

    def _selected(self, methods: Iterable[str]) -> bool:
        return self.methods is None or any(m in self.methods for m in methods)

    def _draw(self, methods: list[str]) -> str | int | None:
        """The fault for this request: an HTTP status, "hang", "lost", or None (drawn in arrival order)."""
        if not self._selected(methods):
            return None
        with self._lock:
            if self._bursts:
                return self._bursts.pop(0)
            roll = self._random.random()
        edge = 0.0
        for fault, share in (
            (429, self.rate_limited),
            (502, self.bad_gateway),
            ("hang", self.hang),
            ("lost", self.lost_answers),
        ):
            edge += share
            if roll < edge:
                return fault
        return None

    def _handle(self, body: bytes) -> tuple[int | None, dict[str, str], bytes]:
        with self._lock:
            self.counts["requests"] += 1
        if self._down:
            with self._lock:
                self.counts["refused_while_down"] += 1
            return None, {}, b""
        try:
            request = json.loads(body)
        except ValueError:
            return (
                400,
                {},
                json.dumps(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
                ).encode(),
            )
        calls = request if isinstance(request, list) else [request]
        methods = [str(c.get("method")) for c in calls if isinstance(c, dict)]
        with self._lock:
            self.counts["calls"] += len(methods)
            self.counts.update(f"method:{m}" for m in methods)
        fault = self._draw(methods)
        if fault == "hang":
            with self._lock:
                self.counts["hang"] += 1
            self._release.wait(self.hang_seconds)
            return None, {}, b""
        if fault is not None and fault != "lost":
            with self._lock:
                self.counts[str(fault)] += 1
            headers = {"Retry-After": str(self.retry_after)} if fault == 429 else {}
            text = "Too Many Requests" if fault == 429 else "Bad Gateway"
            return int(fault), headers, json.dumps({"error": text}).encode()
        answers = self._forward(calls, batch=isinstance(request, list))
        if answers is None:
            with self._lock:
                self.counts["upstream_unreachable"] += 1
            return 502, {}, json.dumps({"error": "upstream unreachable"}).encode()
        payload = answers if isinstance(request, list) else answers[0]
        with self._lock:
            self.counts["forwarded"] += 1
        if fault == "lost":
            with self._lock:
                self.counts["lost"] += 1
            return 502, {}, json.dumps({"error": "upstream timed out"}).encode()
        return 200, {}, json.dumps(payload).encode()

    def _forward(self, calls: list[Any], *, batch: bool) -> list[Any] | None:
        """Answer each call: refused here (tip floor), or forwarded (rewritten when the node lags)."""
        answers: dict[int, Any] = {}
        forward: list[tuple[int, Any]] = []
        lag = self.stale_blocks
        head: int | None = None
        for index, call in enumerate(calls):
            refusal = self._refuse(call)
            if refusal is not None:
                answers[index] = refusal
                continue
            if lag and isinstance(call, dict):
                if head is None:
                    try:
                        head = int(
                            self._upstream(
                                {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
                            )["result"],
                            16,
                        )
                    except (requests.RequestException, ValueError, KeyError):
                        return None
                lagged = max(head - lag, 0)
                call, answer = self._lagging(call, lagged)
                if answer is not None:
                    answers[index] = answer
                    continue
            forward.append((index, call))
        if forward:
            try:
                if not batch:
                    results = [self._upstream(forward[0][1])]
                else:
                    results = self._upstream([c for _, c in forward])
                    by_id = {r.get("id"): r for r in results}
                    results = [
                        by_id.get(
                            c.get("id"),
                            {
                                "jsonrpc": "2.0",
                                "id": c.get("id"),
                                "error": {"code": -32603, "message": "no answer"},
                            },
                        )
                        for _, c in forward
                    ]
            except (requests.RequestException, ValueError):
                return None
            for (index, call), result in zip(forward, results):
                if lag and isinstance(call, dict) and call.get("method") == "eth_getTransactionReceipt":
                    receipt = result.get("result")
                    if receipt and int(receipt["blockNumber"], 16) > lagged:
                        result = {**result, "result": None}
                        with self._lock:
                            self.counts["stale"] += 1
                answers[index] = result
        return [answers[i] for i in range(len(calls))]

    def _lagging(self, call: dict[str, Any], lagged: int) -> tuple[dict[str, Any], Any]:
        """The call as a node `stale_blocks` behind would see it, or its answer."""
        method = call.get("method")
        if method == "eth_blockNumber":
            with self._lock:
                self.counts["stale"] += 1
            return call, {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(lagged)}
        position = _TAG_POSITION.get(str(method))
        params = list(call.get("params") or [])
        if position is not None:
            tag = params[position] if len(params) > position else "latest"
            future = isinstance(tag, str) and tag.startswith("0x") and int(tag, 16) > lagged
            if tag in ("latest", "safe", "finalized") or future:
                with self._lock:
                    self.counts["stale"] += 1
                if future:  # a block this node has not seen yet
                    if method == "eth_getBlockByNumber":
                        return call, {"jsonrpc": "2.0", "id": call.get("id"), "result": None}
                    return call, {
                        "jsonrpc": "2.0",
                        "id": call.get("id"),
                        "error": {"code": -32000, "message": "header not found"},
                    }
                while len(params) <= position:
                    params.append("latest")
                params[position] = hex(lagged)
                return {**call, "params": params}, None
        return call, None

    def _refuse(self, call: Any) -> Any:
        """The tip-floor refusal of an eth_sendRawTransaction, or None."""
        floor = self.tip_floor
        if floor is None or not isinstance(call, dict) or call.get("method") != "eth_sendRawTransaction":
            return None
        raw_hex = (call.get("params") or [""])[0]
        try:
            tip = priority_fee(bytes.fromhex(raw_hex.removeprefix("0x")))
        except Exception:  # noqa: BLE001  # leave malformed input to the node
            return None
        if tip >= floor:
            return None
        with self._lock:
            self.counts["underpriced"] += 1
        message = (
            UNDERPRICED_LEGACY_MESSAGE
            if self.tip_floor_style == "legacy"
            else UNDERPRICED_MESSAGE.format(tip=tip, floor=floor)
        )
        return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32000, "message": message}}
