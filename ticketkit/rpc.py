"""What every JSON-RPC call of ticketkit and the gateway goes through: timeouts, retries, failover, stale
nodes.

`ResilientProvider(urls, policy)` is a web3.py provider over one or several HTTP JSON-RPC nodes of one chain:

- every attempt has a timeout (`RpcPolicy.timeout`, connect and read);
- an attempt that fails for the node's reason (HTTP 429, 5xx, a timeout, a refused or dropped connection, a
  rate-limit JSON-RPC error) is retried, up to `retries` more attempts, after an exponential backoff with full
  jitter; a 429's (or 503's) `Retry-After` is honoured (capped at `max_retry_after`). Only idempotent calls
  are retried after a timeout or a 5xx (the request may have been executed): reads, `eth_estimateGas`, and
  `eth_sendRawTransaction` (the same signed bytes twice are one transaction: "already known", or a retry
  that finds the transaction at the node, counts as success). A 429 or a refused connection never reached
  the node, so any call is retried;
- several nodes: they are tried in the order given; a node that fails sits out (`cooldown` for a dead,
  hanging or lagging node; the `Retry-After` or the backoff for a 429 or 5xx) while the next one serves; after
  its cooldown it is probed (`eth_blockNumber`) and, if it answers and is not behind, it serves again: the
  first URL is the primary and traffic returns to it;
- stale nodes: the highest block number any node reported is remembered; an answer that shows an older head
  (`eth_blockNumber`, a "latest" block, or no block at a number already seen) is not trusted: another node is
  asked, and the lagging node sits out. If every node answers behind the mark, the chain itself went back
  (a reorg, a rollback, a test's snapshot revert): the highest of their answers is the new mark;
- when every attempt fails, `RPCUnavailable` says what failed where (node URLs shown without path or
  credentials: an API key in a provider URL never reaches a log).

web3.py's own `HTTPProvider(exception_retry_configuration=...)` retries one URL on a fixed schedule without
jitter, ignores Retry-After and cannot fail over or judge staleness, so it is not used.

`stats()` counts per node what happened (calls, ok, retries, failovers, rate_limited, server_errors,
timeouts, refused, stale, probes): the chaos tests and the gateway's health read it.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from eth_utils.crypto import keccak
from web3.exceptions import ProviderConnectionError
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from .errors import ChainIdMismatch, InvalidInput, RPCUnavailable

__all__ = ["IDEMPOTENT_METHODS", "ResilientProvider", "RpcPolicy", "parse_urls", "redact"]

log = logging.getLogger("ticketkit.rpc")

# Calls that change nothing on the node (or, for eth_sendRawTransaction, change it the same way twice):
# retried after a timeout or a 5xx, when the first attempt may have been executed.
IDEMPOTENT_METHODS = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "net_listening",
        "eth_chainId",
        "eth_syncing",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_feeHistory",
        "eth_blockNumber",
        "eth_getBalance",
        "eth_getStorageAt",
        "eth_getCode",
        "eth_getProof",
        "eth_getTransactionCount",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockReceipts",
        "eth_getBlockTransactionCountByNumber",
        "eth_getBlockTransactionCountByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionReceipt",
        "eth_getRawTransactionByHash",
        "eth_call",
        "eth_estimateGas",
        "eth_createAccessList",
        "eth_getLogs",
        "eth_sendRawTransaction",
        "txpool_content",
        "txpool_status",
        "txpool_inspect",
    }
)
# Calls after which the chain may legitimately be lower (local nodes): the stale mark starts again.
_RESETS_HEAD = frozenset(
    {"evm_revert", "anvil_revert", "anvil_rollback", "anvil_reset", "anvil_reorg", "hardhat_reset"}
)
_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown", "already exists")
_RATE_LIMIT_TEXT = ("rate limit", "too many requests", "limit exceeded", "exceeded the quota")


def parse_urls(urls: str | Sequence[str]) -> list[str]:
    """One or several node URLs (a list, or one string with commas) → a list; InvalidInput if none."""
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    found = [u.strip() for u in items if u and u.strip()]
    for url in found:
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidInput(f"not an http(s) JSON-RPC URL: {redact(url)!r}", where="rpc")
    if not found:
        raise InvalidInput("no JSON-RPC node URL given", where="rpc")
    return found


def redact(url: str) -> str:
    """scheme://host[:port] of `url`: providers put API keys in the path, query or user part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    more = "/…" if (parts.path not in ("", "/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{more}"


@dataclass(frozen=True)
class RpcPolicy:
    """How hard to try. A call takes at most about (retries + 1) × timeout + the backoffs (or `deadline`)."""

    timeout: float = 10.0  # seconds per attempt (connect and read)
    retries: int = 4  # attempts after the first, over all nodes
    backoff: float = 0.25  # the first backoff's ceiling (s); doubled each retry, full jitter
    max_backoff: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After is cut to this
    cooldown: float = 30.0  # a dead, hanging or lagging node sits out this long, then is probed
    stale_tolerance: int = 0  # blocks a node may be behind the highest head seen and still be trusted
    deadline: float | None = None  # a bound on one call's total time (s), retries included
    seed: int | None = None  # the jitter's random source (tests)

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.retries < 0 or self.backoff < 0 or self.cooldown < 0:
            raise InvalidInput("timeout must be > 0; retries, backoff and cooldown >= 0", where="rpc policy")


@dataclass
class _Node:
    url: str
    session: requests.Session
    name: str
    avoid_until: float = 0.0  # preferably not used before then (another node serves meanwhile)
    not_before: float = 0.0  # never used before then (its Retry-After)
    probe: bool = False  # must answer eth_blockNumber (and not be behind) before it serves again
    head: int = -1
    chain_id: int | None = None  # as the node answered it (None: not asked yet)
    stats: Counter[str] = field(default_factory=Counter)


class _Retry(Exception):
    """One attempt failed for the node's reason."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        sit_out: float | None = None,
        probe: bool = False,
        executed: bool = True,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.kind, self.sit_out, self.probe, self.executed = kind, sit_out, probe, executed
        self.retry_after = retry_after


class _Stale(Exception):
    def __init__(self, head: int, response: Any):
        super().__init__(f"behind: head {head}")
        self.head, self.response = head, response


class ResilientProvider(JSONBaseProvider):
    """A web3 provider over several JSON-RPC nodes of one chain (see the module's docstring)."""

    def __init__(self, urls: str | Sequence[str], policy: RpcPolicy | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.policy = policy or RpcPolicy()
        self.nodes: list[_Node] = []
        for url in parse_urls(urls):
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self.nodes.append(_Node(url=url, session=session, name=redact(url)))
        self._lock = threading.RLock()
        self._highest = -1
        self._chain_id: int | None = None
        self._random = random.Random(self.policy.seed)
        self._ids = itertools.count()

    def __str__(self) -> str:
        return f"RPC nodes {', '.join(n.name for n in self.nodes)}"

    @property
    def endpoint_uri(self) -> str:
        """The primary node's URL (what single-node code and logs expect)."""
        return self.nodes[0].url

    # ---- what web3 calls
    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        body = self.encode_rpc_request(method, params)
        response: RPCResponse = self._call(str(method), body, params=params, batch=False)
        if method in _RESETS_HEAD and "error" not in response:
            with self._lock:
                self._highest = -1
        return response

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        body = self.encode_batch_rpc_request(batch_requests)
        methods = {str(m) for m, _ in batch_requests}
        idempotent = methods <= IDEMPOTENT_METHODS
        response = self._call(
            " + ".join(sorted(methods)), body, params=None, batch=True, idempotent=idempotent
        )
        if isinstance(response, list):
            return sorted(response, key=lambda r: r.get("id", 0))
        return response

    def is_connected(self, show_traceback: bool = False) -> bool:
        """Whether a node answers (web3's check: `web3_clientVersion`, with the usual retries)."""
        try:
            response = self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except RPCUnavailable as error:
            if show_traceback:
                raise ProviderConnectionError(str(error)) from None
            return False
        return "error" not in response

    # ---- health and counters
    def stats(self) -> dict[str, dict[str, int]]:
        """Per node (by redacted URL, in order): what happened to the calls sent to it."""
        with self._lock:
            return {n.name: dict(n.stats) for n in self.nodes}

    def totals(self) -> Counter[str]:
        with self._lock:
            total: Counter[str] = Counter()
            for node in self.nodes:
                total.update(node.stats)
            return total

    @property
    def highest_block(self) -> int:
        return self._highest

    def check_chain_id(self, expected: int | None) -> int:
        """Every node that answers serves one chain (and `expected`, if given); the nodes that do not answer
        sit out. Raises ChainIdMismatch, or RPCUnavailable if none answers."""
        seen: int | None = None
        failures: list[str] = []
        answered: list[_Node] = []
        for node in self.nodes:
            body = json.dumps(
                {"jsonrpc": "2.0", "id": next(self._ids), "method": "eth_chainId", "params": []}
            ).encode()
            try:
                response = self._attempt(node, "eth_chainId", body, timeout=self.policy.timeout)
                chain_id = int(response["result"], 16)
            except (_Retry, KeyError, TypeError, ValueError) as error:
                failures.append(f"{node.name}: {error}")
                continue
            if expected is not None and chain_id != expected:
                raise ChainIdMismatch(expected, chain_id)
            if seen is not None and chain_id != seen:
                raise InvalidInput(
                    f"the nodes serve different chains ({seen} and {chain_id} at {node.name})", where="rpc"
                )
            seen = node.chain_id = chain_id
            answered.append(node)
        if seen is None:  # none answered at once: the usual retries
            response = self.make_request(RPCEndpoint("eth_chainId"), [])
            if "result" not in response:
                raise RPCUnavailable(f"eth_chainId: {response.get('error')}")
            seen = int(response["result"], 16)
            if expected is not None and seen != expected:
                raise ChainIdMismatch(expected, seen)
            self._chain_id = seen
            return seen
        for node in self.nodes:
            if node not in answered:  # down now: it serves again once a probe finds it back (on this chain)
                self._sit_out(node, self.policy.cooldown, probe=True)
        self._chain_id = seen
        return seen

    # ---- the loop
    def _call(
        self, method: str, body: bytes, *, params: Any, batch: bool, idempotent: bool | None = None
    ) -> Any:
        policy = self.policy
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        started = time.monotonic()
        deadline = started + policy.deadline if policy.deadline else None
        tried: list[_Node] = []
        stale: list[tuple[_Node, _Stale]] = []
        failures: list[str] = []
        attempt = free_probes = 0
        previous: _Node | None = None
        while True:
            node, wait = self._choose(tried, attempt)
            if wait > 0:
                if deadline is not None and time.monotonic() + wait > deadline:
                    break
                time.sleep(wait)
            limit = (
                policy.timeout
                if deadline is None
                else min(policy.timeout, max(deadline - time.monotonic(), 0.001))
            )
            refused, cheap = self._probe(node, limit) if node.probe else (None, False)
            if refused is not None:
                tried.append(node)
                failures.append(f"{node.name}: {refused}")
                if (
                    cheap
                    and free_probes < len(self.nodes) * (policy.retries + 1)
                    and any(not n.probe for n in self.nodes)
                ):
                    free_probes += (
                        1  # while another node serves, one still refusing connections costs no attempt
                    )
                    continue
            else:
                timeout = limit
                with self._lock:
                    node.stats["calls"] += 1
                    if attempt:
                        node.stats["retries"] += 1
                    if previous is not None and previous is not node:
                        node.stats["failovers"] += 1
                previous = node
                try:
                    response = self._attempt(node, method, body, timeout=timeout)
                    if not batch:
                        response = self._judge(node, method, params, response, attempt)
                    with self._lock:
                        node.stats["ok"] += 1
                    return response
                except _Stale as behind:
                    log.debug("%s at %s: %s, asking another node", method, node.name, behind)
                    stale.append((node, behind))
                    tried.append(node)
                    self._sit_out(node, policy.cooldown, probe=True)
                    failures.append(f"{node.name}: {behind}")
                    if {id(n) for n, _ in stale} == {id(n) for n in self.nodes}:
                        return self._accept_lower(stale)  # every node is behind the mark: the chain went back
                    if any(n not in tried for n in self.nodes):
                        continue  # asking another node is not a retry
                except _Retry as error:
                    log.debug("%s attempt %d at %s failed: %s", method, attempt + 1, node.name, error)
                    failures.append(f"{node.name}: {error}")
                    tried.append(node)
                    sit_out = error.sit_out if error.sit_out is not None else self._backoff(attempt)
                    self._sit_out(node, sit_out, probe=error.probe, hard=error.retry_after or 0.0)
                    if error.executed and not idempotent:
                        raise RPCUnavailable(
                            f"{method} failed at {node.name} and is not safe to repeat: {error}"
                        ) from None
            attempt += 1
            if attempt > policy.retries or (deadline is not None and time.monotonic() >= deadline):
                break
        elapsed = time.monotonic() - started
        log.info("%s: no node answered after %d attempt(s): %s", method, attempt, "; ".join(failures[-4:]))
        shown = "; ".join(failures[-4:])
        raise RPCUnavailable(
            f"{method}: no node answered after {attempt} attempt(s) in {elapsed:.1f} s over "
            f"{len(self.nodes)} node(s) ({shown})"
        )

    def _choose(self, tried: list[_Node], attempt: int) -> tuple[_Node, float]:
        """The next node and how long to wait first: the first in order that is not sitting out and not yet
        tried in this call; else the untried one allowed soonest (a cooldown is a preference: with every node
        sitting out, one is tried at once); else, all tried, the one allowed soonest after a backoff."""
        now = time.monotonic()
        with self._lock:
            fresh = [n for n in self.nodes if n not in tried]
            for node in fresh:
                if node.avoid_until <= now and node.not_before <= now:
                    return node, 0.0
            pool = fresh or self.nodes
            # allowed soonest; of those, one that only answered an error before one that was down, hung or
            # behind
            node = min(pool, key=lambda n: (max(n.not_before, now), n.probe, n.avoid_until))
            wait = max(node.not_before - now, 0.0)
            if not fresh:  # a round over every node failed: back off before the next round
                wait = max(wait, self._backoff(max(attempt - 1, 0)))
            return node, wait

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_backoff, self.policy.backoff * (2**attempt))
        with self._lock:
            return self._random.uniform(0, ceiling)

    def _sit_out(self, node: _Node, seconds: float, *, probe: bool, hard: float = 0.0) -> None:
        """`node` is avoided for `seconds` (never used for `hard` seconds); with `probe` (and other nodes to
        serve meanwhile) it must answer a probe before it serves again."""
        with self._lock:
            now = time.monotonic()
            several = len(self.nodes) > 1
            if several:
                node.avoid_until = max(node.avoid_until, now + seconds)
            node.not_before = max(node.not_before, now + hard)
            node.probe = node.probe or (probe and several)

    def _probe(self, node: _Node, timeout: float) -> tuple[str | None, bool]:
        """A node back from its cooldown serves again if it answers eth_blockNumber and is not behind: (None,
        False), else (why not, whether that cost nothing: the connection was refused)."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": "eth_blockNumber", "params": []}
        ).encode()
        with self._lock:
            node.stats["probes"] += 1
        try:
            if node.chain_id is None and self._chain_id is not None:  # never asked: it was down at connection
                ask = json.dumps(
                    {"jsonrpc": "2.0", "id": next(self._ids), "method": "eth_chainId", "params": []}
                ).encode()
                node.chain_id = int(self._attempt(node, "eth_chainId", ask, timeout=timeout)["result"], 16)
            if node.chain_id is not None and self._chain_id is not None and node.chain_id != self._chain_id:
                with self._lock:
                    node.stats["wrong_chain"] += 1
                    node.avoid_until = float("inf")
                log.warning(
                    "RPC node %s serves chain %d, not %d: it is not used",
                    node.name,
                    node.chain_id,
                    self._chain_id,
                )
                return f"serves chain {node.chain_id}, not {self._chain_id}", False
            response = self._attempt(node, "eth_blockNumber", body, timeout=timeout)
            head = int(response["result"], 16)
        except (_Retry, KeyError, TypeError, ValueError) as error:
            hard = error.retry_after or 0.0 if isinstance(error, _Retry) else 0.0
            self._sit_out(node, self.policy.cooldown, probe=True, hard=hard)
            cheap = isinstance(error, _Retry) and error.kind == "refused" and not error.executed
            return f"still down ({error})", cheap
        with self._lock:
            node.head = head
            if head + self.policy.stale_tolerance < self._highest:
                node.stats["stale"] += 1
                node.avoid_until = time.monotonic() + self.policy.cooldown
                return f"still behind (head {head}, highest seen {self._highest})", False
            self._highest = max(self._highest, head)
            node.probe = False
            node.avoid_until = 0.0
        log.info("RPC node %s serves again (head %d)", node.name, head)
        return None, False

    def _attempt(self, node: _Node, method: str, body: bytes, *, timeout: float) -> Any:
        """One HTTP round trip; _Retry for whatever is the node's fault, else the decoded JSON."""
        try:
            reply = node.session.post(
                node.url,
                data=body,
                timeout=(min(timeout, 5.0), timeout),
                headers={"Content-Type": "application/json"},
            )
        except requests.ConnectTimeout:
            self._count(node, "timeouts")
            raise _Retry(
                "timeout",
                f"no connection within {timeout:g} s",
                sit_out=self.policy.cooldown,
                probe=True,
                executed=False,
            ) from None
        except requests.Timeout:
            self._count(node, "timeouts")
            raise _Retry(
                "timeout", f"no answer within {timeout:g} s", sit_out=self.policy.cooldown, probe=True
            ) from None
        except requests.RequestException as error:
            self._count(node, "refused")
            refused = "NewConnectionError" in repr(error) or "Connection refused" in str(error)
            raise _Retry(
                "refused",
                "connection refused" if refused else "connection dropped",
                sit_out=self.policy.cooldown,
                probe=True,
                executed=not refused,
            ) from None
        status = reply.status_code
        if status == 429 or (status == 503 and reply.headers.get("Retry-After")):
            self._count(node, "rate_limited")
            wait = _retry_after(reply.headers.get("Retry-After"), self.policy.max_retry_after)
            raise _Retry("rate_limited", f"HTTP {status}", sit_out=wait, executed=False, retry_after=wait)
        if status >= 500:
            self._count(node, "server_errors")
            raise _Retry("server_error", f"HTTP {status}")
        if status >= 400:
            self._count(node, "refused")
            raise _Retry(
                "http_error",
                f"HTTP {status} (check the URL and its API key)",
                sit_out=self.policy.cooldown,
                executed=False,
            )
        try:
            response = reply.json()
        except ValueError:
            self._count(node, "server_errors")
            raise _Retry("bad_answer", f"HTTP {status} with no JSON body") from None
        rpc_error = response.get("error") if isinstance(response, dict) else None
        if isinstance(rpc_error, dict) and (
            rpc_error.get("code") == -32005
            or any(text in str(rpc_error.get("message", "")).lower() for text in _RATE_LIMIT_TEXT)
        ):
            self._count(node, "rate_limited")
            raise _Retry(
                "rate_limited",
                f"JSON-RPC {rpc_error.get('code')}: {rpc_error.get('message')}",
                executed=False,
            )
        return response

    def _count(self, node: _Node, key: str) -> None:
        with self._lock:
            node.stats[key] += 1

    def _judge(self, node: _Node, method: str, params: Any, response: Any, attempt: int) -> Any:
        """Stale answers raise _Stale; a re-sent transaction the node already has is a success."""
        if not isinstance(response, dict):
            return response
        if method == "eth_sendRawTransaction" and "error" in response:
            return self._resent(node, params, response, retried=attempt > 0)
        head: int | None = None
        result = response.get("result")
        if method == "eth_blockNumber" and isinstance(result, str):
            head = int(result, 16)
        elif method == "eth_getBlockByNumber" and params:
            tag = params[0]
            if isinstance(result, dict) and tag == "latest" and result.get("number"):
                head = int(result["number"], 16)
            elif result is None and isinstance(tag, str) and tag.startswith("0x") and len(self.nodes) > 1:
                with self._lock:
                    behind = int(tag, 16) <= self._highest
                if behind:  # another node has shown this block: this one is behind
                    self._count(node, "stale")
                    raise _Stale(node.head, response)
        if head is None:
            return response
        with self._lock:
            node.head = head
            if head + self.policy.stale_tolerance < self._highest:
                node.stats["stale"] += 1
                raise _Stale(head, response)
            self._highest = max(self._highest, head)
        return response

    def _accept_lower(self, stale: list[tuple[_Node, _Stale]]) -> Any:
        """Every node answered behind the mark: the chain went back; the highest answer is the new mark."""
        _node, best = max(stale, key=lambda item: item[1].head)
        with self._lock:
            self._highest = best.head
            for other, answer in stale:
                if answer.head >= best.head - self.policy.stale_tolerance:
                    other.avoid_until, other.probe = 0.0, False
        return best.response

    def _resent(self, node: _Node, params: Any, response: dict[str, Any], *, retried: bool) -> Any:
        message = str(response["error"].get("message", "")).lower()
        raw = params[0] if params else None
        if not isinstance(raw, (str, bytes)):
            return response
        raw_bytes = bytes.fromhex(raw.removeprefix("0x")) if isinstance(raw, str) else raw
        tx_hash = "0x" + keccak(raw_bytes).hex()
        known = any(text in message for text in _ALREADY_KNOWN)
        if not known and retried and "nonce" in message:
            # an earlier attempt of this call may have landed (its answer lost): then the nonce is used; if
            # the node has exactly this transaction, the send succeeded
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": next(self._ids),
                    "method": "eth_getTransactionByHash",
                    "params": [tx_hash],
                }
            ).encode()
            try:
                known = bool(
                    self._attempt(node, "eth_getTransactionByHash", body, timeout=self.policy.timeout).get(
                        "result"
                    )
                )
            except _Retry as error:  # cannot tell yet: send the same bytes again (safe), which asks again
                raise _Retry(
                    error.kind,
                    f"re-sent transaction not confirmed known: {error}",
                    sit_out=error.sit_out,
                    probe=error.probe,
                    retry_after=error.retry_after,
                ) from None
        if known:
            self._count(node, "already_known")
            return {"jsonrpc": "2.0", "id": response.get("id"), "result": tx_hash}
        return response


def _retry_after(value: str | None, cap: float) -> float:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is taken as 1 s), capped."""
    if value is None:
        return 0.0
    try:
        return min(max(float(value), 0.0), cap)
    except ValueError:
        return min(1.0, cap)
