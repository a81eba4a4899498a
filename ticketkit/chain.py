"""Connecting to a node, local anvil chains, and sending transactions with decoded errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import requests
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import RPCEndpoint

if TYPE_CHECKING:
    from web3.types import TxParams

from . import _artifacts, tx
from .errors import (
    ChainError,
    ContractRevert,
    FeeCeilingExceeded,
    NonceError,
    NonceTaken,
    RPCUnavailable,
    TransactionFailed,
    error_class,
)
from .rpc import ResilientProvider, RpcPolicy

__all__ = ["ANVIL_KEYS", "Chain", "connect", "decode_revert", "local_chain", "translate_error"]

# anvil's development accounts come from this public mnemonic: for local chains only.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _anvil_keys(count: int = 10) -> list[str]:
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.to_0x_hex()
        for i in range(count)
    ]


ANVIL_KEYS = _anvil_keys()


def _error_selectors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for entry in _artifacts.all_abis():
        if entry["type"] != "error":
            continue
        types = [i["type"] for i in entry["inputs"]]
        names = [i["name"] for i in entry["inputs"]]
        selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
        table[selector] = (entry["name"], types, names)
    return table


_SELECTORS = _error_selectors()


def decode_revert(data: str | bytes | None) -> ContractRevert | None:
    """Turn revert data into the matching ContractRevert subclass (None if not a known error)."""
    if data is None:
        return None
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    known = _SELECTORS.get(raw[:4])
    if known is None:
        return None
    name, types, names = known
    values = abi_decode(types, raw[4:]) if types else ()
    fields = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values)]
    return error_class(name)(**dict(zip(names, fields)))


def translate_error(error: Exception) -> Exception:
    """Map a web3 exception to ticketkit's tree."""
    if isinstance(error, (ContractCustomError, ContractLogicError)):
        decoded = decode_revert(getattr(error, "data", None))
        if decoded is not None:
            return decoded
        return TransactionFailed(f"reverted: {error.args[0] if error.args else 'no reason'}")
    if isinstance(error, Web3RPCError):
        message = str(error).lower()
        if "nonce" in message:
            return NonceError(str(error))
        return TransactionFailed(str(error))
    if isinstance(error, (requests.ConnectionError, requests.Timeout, ConnectionError)):
        return RPCUnavailable(f"the node does not answer: {type(error).__name__}")
    if isinstance(error, TimeExhausted):
        return TransactionFailed("no receipt in time: the transaction may be pending or dropped")
    return error


@dataclass
class Chain:
    """A connection to one chain. Sends transactions signed locally through the one pipeline (ticketkit.tx):
    fees from the node under the chain's tip floor and the operator's ceiling, one nonce manager per sender,
    stuck or dropped transactions replaced, a receipt final once `confirmations` blocks are above it.

    Errors come out as ticketkit exceptions: a contract's custom error as its own class.
    """

    w3: Web3
    chain_id: int
    accounts: tuple[LocalAccount, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The primary node's JSON-RPC URL (a local chain's: its anvil)."""
        uri: str = getattr(self.w3.provider, "endpoint_uri", "")
        return uri

    def __post_init__(self) -> None:
        chain_profile = tx.profile(self.chain_id)
        self._contracts: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.fee_policy = tx.FeePolicy.for_chain(self.chain_id)
        self.confirmations = chain_profile.confirmations
        self.stuck_blocks = chain_profile.stuck_blocks
        self.poll_seconds = min(max(chain_profile.block_seconds / 4, 0.05), 1.0)
        # How long a send waits for fees to fall under the ceiling before it gives up (nothing signed).
        self.fee_wait_seconds = 300.0
        self.store: tx.Store = tx.MemoryStore()
        self._nonces = tx.NonceManager(
            lambda a: self.w3.eth.get_transaction_count(to_checksum_address(a), "pending")
        )
        self._pipelines: dict[str, tx.Pipeline] = {}

    # ---- accounts
    def account(self, index: int) -> LocalAccount:
        """A funded development account (local chains only)."""
        return self.accounts[index]

    def balance(self, address: str) -> int:
        return self.w3.eth.get_balance(to_checksum_address(address))

    # ---- the pipeline
    def request(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        """One JSON-RPC call through the node(s), answered as the node answered it (`result` or `error`): the
        transport a Pipeline is built on."""
        try:
            return dict(self.w3.provider.make_request(RPCEndpoint(method), list(params)))
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None

    def pipeline(self, sender: LocalAccount) -> tx.Pipeline:
        """The one pipeline of `sender` on this chain (made on first use; it owns the sender's nonces)."""
        key = sender.address.lower()
        with self._lock:
            found = self._pipelines.get(key)
            if found is None:
                found = tx.Pipeline(
                    self.request,
                    self.chain_id,
                    sender,
                    policy=self.fee_policy,
                    confirmations=self.confirmations,
                    stuck_blocks=self.stuck_blocks,
                    store=self.store,
                    nonces=self._nonces,
                )
                unfinished = getattr(self.store, "unfinished", None)
                if (
                    unfinished is not None
                ):  # a journal: what an interrupted run left in flight is tracked again
                    found.resume(unfinished(sender.address))
                self._pipelines[key] = found
            return found

    def _record_of(self, tx_hash: bytes | str) -> tuple[tx.Pipeline, tx.TxRecord] | None:
        key = (tx_hash if isinstance(tx_hash, str) else "0x" + bytes(tx_hash).hex()).lower()
        for pipeline in list(self._pipelines.values()):
            rec = pipeline.by_hash.get(key)
            if rec is not None:
                return pipeline, rec
        return None

    def _next_nonce(self, address: str) -> int:
        return self._nonces.take(address)

    def reset_nonce(self, address: str) -> None:
        """Read `address`'s nonce from the node again (another process sent from it)."""
        self._nonces.forget(address)

    # ---- transactions
    def send(
        self, call: Any, sender: LocalAccount, *, value: int = 0, gas: int | None = None, wait: bool = True
    ) -> Any:
        """Estimate, then send a contract call through the pipeline; returns the receipt once final (or the
        first version's hash if not `wait`: `wait(hash)` follows the record whichever version is mined).

        A revert found while estimating raises before anything is recorded or sent.
        """
        fields = {"from": sender.address, "value": value, "chainId": self.chain_id}
        try:
            if gas is None:
                gas = int(call.estimate_gas(fields) * 1.2) + 10_000
            built = call.build_transaction(
                {**fields, "gas": gas, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1}
            )
        except Exception as error:  # noqa: BLE001  # translated or re-raised
            raise translate_error(error) from None
        return self.send_raw(
            {k: built[k] for k in ("to", "data", "value", "gas") if k in built}, sender, wait=wait
        )

    def send_raw(self, tx_fields: dict[str, Any], sender: LocalAccount, *, wait: bool = True) -> Any:
        """Send a prepared transaction ({to, data, value, gas}) through the pipeline.

        With an explicit `nonce` it is signed and sent once as given, outside the pipeline (no tracking).
        """
        if "nonce" in tx_fields:
            return self._send_once(tx_fields, sender, wait=wait)
        data = tx_fields.get("data", "0x")
        if isinstance(data, (bytes, bytearray)):
            data = "0x" + bytes(data).hex()
        to = tx_fields.get("to")
        pipeline = self.pipeline(sender)
        rec = pipeline.submit(
            to=to_checksum_address(to) if to else None,
            data=data,
            value=int(tx_fields.get("value", 0)),
            gas=int(tx_fields["gas"]),
        )
        if not rec.attempts:  # the fees needed are above the ceiling: wait for them to fall, or give up
            try:
                pipeline.wait_until_sent(rec, timeout=self.fee_wait_seconds, poll=self.poll_seconds)
            except FeeCeilingExceeded:
                pipeline.abandon(rec)  # nothing was signed: the caller may try again later
                raise
        tx_hash = HexBytes(rec.attempts[0].tx_hash)
        if not wait:
            return tx_hash
        return self.wait(tx_hash, {"from": sender.address, **tx_fields})

    def _send_once(self, tx_fields: dict[str, Any], sender: LocalAccount, *, wait: bool) -> Any:
        fields = {**tx_fields, "chainId": self.chain_id}
        if "gasPrice" not in fields and "maxFeePerGas" not in fields:
            fields.update(self.fee_policy.suggest(self.pipeline(sender).rpc).fields())
        signed = sender.sign_transaction(fields)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None
        return self.wait(tx_hash, fields) if wait else tx_hash

    def wait(
        self, tx_hash: bytes | str, tx_fields: dict[str, Any] | None = None, timeout: float = 120
    ) -> Any:
        """The receipt of the transaction sent as `tx_hash` once final (whichever version of it was mined); a
        failed transaction raises with its decoded reason."""
        found = self._record_of(tx_hash)
        if found is not None:
            pipeline, rec = found
            pipeline.wait(rec, timeout=timeout, poll=self.poll_seconds)
            if rec.status == tx.TxStatus.failed:
                raise NonceTaken(rec.error or "the nonce was used by another transaction")
            assert rec.mined_hash is not None  # final or reverted: mined
            tx_hash = rec.mined_hash
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=timeout, poll_latency=0.05
            )
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None
        if receipt["status"] != 1:
            raise self.revert_reason(receipt, tx_fields)
        return receipt

    def wait_all(self, sender: LocalAccount | None = None, *, timeout: float = 120) -> None:
        """Tick the pipelines (of `sender`, or all) until none of their records is unfinished."""
        pipelines = [self.pipeline(sender)] if sender is not None else list(self._pipelines.values())
        deadline = time.monotonic() + timeout
        for pipeline in pipelines:
            for rec in pipeline.unfinished():
                pipeline.wait(rec, timeout=max(deadline - time.monotonic(), 0), poll=self.poll_seconds)

    def wait_for_pending(self, address: str, timeout: float = 120, poll: float = 0.5) -> None:
        """Wait until none of `address`'s transactions is pending, so the chain shows all it sent (a node
        answers a send before it mines it); then this process's nonce for it is read again from the node.
        The pipeline's own records of `address` are driven to final first (replaced if stuck)."""
        deadline = time.monotonic() + timeout
        pipeline = self._pipelines.get(address.lower())
        if pipeline is not None:
            for rec in pipeline.unfinished():
                pipeline.wait(rec, timeout=max(deadline - time.monotonic(), 0), poll=self.poll_seconds)
        while True:
            try:
                pending = self.w3.eth.get_transaction_count(to_checksum_address(address), "pending")
                mined = self.w3.eth.get_transaction_count(to_checksum_address(address), "latest")
            except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
                raise translate_error(error) from None
            if pending <= mined:
                break
            if time.monotonic() > deadline:
                raise ChainError(
                    f"{pending - mined} transaction(s) from {address} are still pending: wait "
                    "for them to be mined (or replace them), then rerun"
                )
            time.sleep(poll)
        self.reset_nonce(address)

    def revert_reason(self, receipt: Any, tx: dict[str, Any] | None) -> Exception:
        """The typed error of a reverted transaction (re-run at its block to read the reason)."""
        if tx is not None:
            replay = {k: tx[k] for k in ("from", "to", "value", "data") if k in tx}
            try:
                self.w3.eth.call(cast("TxParams", replay), receipt["blockNumber"] - 1)
            except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
                translated = translate_error(error)
                if isinstance(translated, ContractRevert):
                    return translated
        return TransactionFailed(
            f"transaction {receipt['transactionHash'].hex()} reverted (gas used {receipt['gasUsed']})"
        )

    def deploy(self, name: str, sender: LocalAccount, *args: Any) -> str:
        """Deploy the shipped contract `name`; returns its address."""
        artifact = _artifacts.load(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.send(factory.constructor(*args), sender)
        address: str = receipt["contractAddress"]
        return address

    def contract(self, name: str, address: str) -> Any:
        """A web3 contract object for the shipped contract `name` at `address`, made once per chain (they are
        stateless; a long-running gateway builds handles per request and would otherwise grow)."""
        key = (name, address.lower())
        found = self._contracts.get(key)
        if found is None:
            found = self.w3.eth.contract(
                address=to_checksum_address(address), abi=_artifacts.load(name)["abi"]
            )
            self._contracts[key] = found
        return found

    def call(self, fn: Any) -> Any:
        """Call a view function, with errors translated."""
        try:
            return fn.call()
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None

    # ---- local-chain helpers (anvil)
    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        if "error" in response:
            raise TransactionFailed(f"{method}: {response['error']}")
        return response.get("result")

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at `timestamp` (anvil)."""
        self.rpc("evm_mine", [timestamp])

    def snapshot(self) -> str:
        snapshot_id: str = self.rpc("evm_snapshot")
        return snapshot_id

    def revert_to(self, snapshot_id: str) -> None:
        self.rpc("evm_revert", [snapshot_id])
        self._nonces.forget()
        with self._lock:
            self._pipelines.clear()


def connect(
    url: str | Sequence[str],
    *,
    chain_id: int | None = None,
    timeout: float = 10.0,
    policy: RpcPolicy | None = None,
) -> Chain:
    """Connect to one JSON-RPC node or several of one chain (a list, or URLs separated by commas: the first is
    the primary, the others take over when it fails; ticketkit/rpc.py). Every call has `timeout` seconds per
    attempt and is retried (`policy`, default RpcPolicy(timeout=timeout)). Raises RPCUnavailable when no node
    answers, ChainIdMismatch when one serves another chain than `chain_id`, InvalidInput for a bad URL."""
    provider = ResilientProvider(url, policy or RpcPolicy(timeout=timeout))
    actual = provider.check_chain_id(chain_id)
    return Chain(w3=Web3(provider), chain_id=actual)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def anvil_binary() -> str:
    """anvil from PATH, or from the project's node_modules (npm @foundry-rs/anvil-linux-amd64)."""
    found = shutil.which("anvil")
    if found:
        return found
    here = Path(__file__).resolve().parent.parent
    local = here / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if local.exists():
        return str(local)
    raise RPCUnavailable("anvil not found: `npm install @foundry-rs/anvil-linux-amd64` or put anvil on PATH")


@contextmanager
def local_chain(
    *,
    port: int | None = None,
    chain_id: int = 31337,
    block_time: float | None = None,
    extra_args: Sequence[str] = (),
    on_start: Callable[[str], None] | None = None,
) -> Iterator[Chain]:
    """Start anvil on a free port, yield a Chain with its ten funded dev accounts, stop it after."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        anvil_binary(),
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--silent",
        "--gas-limit",
        "30000000",
        "--code-size-limit",
        "24576",
        *extra_args,
    ]
    if block_time:
        args += ["--block-time", str(block_time)]
    main_thread = threading.current_thread() is threading.main_thread()
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=_die_with_parent() if main_thread else None,  # noqa: PLW1509  # child: prctl only
    )
    restore = _end_on_stop_signals() if main_thread else {}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                connect(url, chain_id=chain_id, policy=RpcPolicy(timeout=2, retries=0))
                chain = connect(url, chain_id=chain_id)
                break
            except RPCUnavailable:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RPCUnavailable(f"anvil did not start on {url}: {err[-500:]}") from None
                time.sleep(0.05)
        chain.accounts = tuple(Account.from_key(k) for k in ANVIL_KEYS)
        if on_start:
            on_start(url)
        yield chain
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        for signum, handler in restore.items():
            signal.signal(signum, handler)


class StopSignal(SystemExit):
    """A stop signal (SIGTERM, SIGHUP) ended the process: raised so `local_chain` stops anvil on the way
    out."""


def _end_on_stop_signals() -> dict[signal.Signals, Any]:
    """SIGTERM and SIGHUP kill Python without unwinding, which would leave anvil running (re-parented to
    PID 1); while a local chain runs they raise StopSignal instead, so every `finally` runs. Handlers that
    someone else installed are left alone (uvicorn installs its own while it serves, then restores these
    and re-raises the signal). Returns the handlers to restore."""

    def stop(signum: int, _frame: Any) -> None:
        raise StopSignal(128 + signum)

    replaced: dict[signal.Signals, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            replaced[signum] = signal.signal(signum, stop)
    return replaced


def _die_with_parent() -> Callable[[], None] | None:
    """In the child before exec: ask Linux to SIGTERM anvil if its parent dies (even by SIGKILL)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the signal handlers above still apply
        return None
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return set_death_signal
