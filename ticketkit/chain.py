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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError

from . import _artifacts
from .errors import (
    ChainError,
    ContractRevert,
    NonceError,
    RPCUnavailable,
    TransactionFailed,
    error_class,
)
from .rpc import ResilientProvider, RpcPolicy

__all__ = ["Chain", "connect", "local_chain", "ANVIL_KEYS", "decode_revert", "translate_error"]

# anvil's development accounts come from this public mnemonic: for local chains only.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _anvil_keys(count: int = 10) -> list[str]:
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.to_0x_hex()
            for i in range(count)]


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
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
    known = _SELECTORS.get(raw[:4])
    if known is None:
        return None
    name, types, names = known
    values = abi_decode(types, raw[4:]) if types else ()
    values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values)]
    return error_class(name)(**dict(zip(names, values)))


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
    """A connection to one chain. Sends transactions signed locally, keeps nonces per sender.

    Errors come out as ticketkit exceptions: a contract's custom error as its own class.
    """

    w3: Web3
    chain_id: int
    accounts: tuple[LocalAccount, ...] = ()
    _lock: threading.Lock = threading.Lock()

    def __post_init__(self) -> None:
        self._nonces: dict[str, int] = {}
        self._contracts: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # ---- accounts
    def account(self, index: int) -> LocalAccount:
        """A funded development account (local chains only)."""
        return self.accounts[index]

    def balance(self, address: str) -> int:
        return self.w3.eth.get_balance(to_checksum_address(address))

    # ---- transactions
    def _next_nonce(self, address: str) -> int:
        with self._lock:
            if address not in self._nonces:
                self._nonces[address] = self.w3.eth.get_transaction_count(address, "pending")
            nonce = self._nonces[address]
            self._nonces[address] = nonce + 1
            return nonce

    def reset_nonce(self, address: str) -> None:
        """Forget the cached nonce of `address` (after a failure that did not use it)."""
        with self._lock:
            self._nonces.pop(address, None)

    def send(self, call: Any, sender: LocalAccount, *, value: int = 0, gas: int | None = None,
             wait: bool = True) -> Any:
        """Estimate, sign and send a contract call; returns the receipt (or the hash if not `wait`).

        A revert found while estimating raises before anything is sent.
        """
        tx = {"from": sender.address, "value": value, "chainId": self.chain_id}
        try:
            if gas is None:
                gas = int(call.estimate_gas(tx) * 1.2) + 10_000
            tx = call.build_transaction({**tx, "gas": gas, "nonce": self._next_nonce(sender.address)})
        except Exception as error:  # noqa: BLE001 - translated or re-raised
            raise translate_error(error) from None
        return self.send_raw(tx, sender, wait=wait)

    def send_raw(self, tx: dict[str, Any], sender: LocalAccount, *, wait: bool = True) -> Any:
        """Sign and send a prepared transaction."""
        if "nonce" not in tx:
            tx = {**tx, "nonce": self._next_nonce(sender.address)}
        tx.setdefault("chainId", self.chain_id)
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
        signed = sender.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as error:  # noqa: BLE001
            self.reset_nonce(sender.address)
            raise translate_error(error) from None
        if not wait:
            return tx_hash
        return self.wait(tx_hash, tx)

    def wait(self, tx_hash: bytes, tx: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        """The receipt of `tx_hash`; a failed transaction raises with its decoded reason."""
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
        except Exception as error:  # noqa: BLE001
            raise translate_error(error) from None
        if receipt["status"] != 1:
            raise self._revert_reason(receipt, tx)
        return receipt

    def wait_for_pending(self, address: str, timeout: float = 120, poll: float = 0.5) -> None:
        """Wait until none of `address`'s transactions is pending, so the chain shows all it sent (a node
        answers a send before it mines it); then this process's nonce for it is read again from the node."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pending = self.w3.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
                mined = self.w3.eth.get_transaction_count(address, "latest")  # type: ignore[arg-type]
            except Exception as error:  # noqa: BLE001
                raise translate_error(error) from None
            if pending <= mined:
                break
            if time.monotonic() > deadline:
                raise ChainError(f"{pending - mined} transaction(s) from {address} are still pending: wait "
                                 "for them to be mined (or replace them), then rerun")
            time.sleep(poll)
        self.reset_nonce(address)

    def _revert_reason(self, receipt: Any, tx: dict[str, Any] | None) -> Exception:
        if tx is not None:
            replay = {k: tx[k] for k in ("from", "to", "value", "data") if k in tx}
            try:
                self.w3.eth.call(replay, receipt["blockNumber"] - 1)
            except Exception as error:  # noqa: BLE001
                translated = translate_error(error)
                if isinstance(translated, ContractRevert):
                    return translated
        return TransactionFailed(f"transaction {receipt['transactionHash'].hex()} reverted "
                                 f"(gas used {receipt['gasUsed']})")

    def deploy(self, name: str, sender: LocalAccount, *args: Any) -> str:
        """Deploy the shipped contract `name`; returns its address."""
        artifact = _artifacts.load(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.send(factory.constructor(*args), sender)
        return receipt["contractAddress"]

    def contract(self, name: str, address: str) -> Any:
        """A web3 contract object for the shipped contract `name` at `address`, made once per chain (they are
        stateless; a long-running gateway builds handles per request and would otherwise grow)."""
        key = (name, address.lower())
        found = self._contracts.get(key)
        if found is None:
            found = self.w3.eth.contract(address=to_checksum_address(address), abi=_artifacts.load(name)["abi"])
            self._contracts[key] = found
        return found

    def call(self, fn: Any) -> Any:
        """Call a view function, with errors translated."""
        try:
            return fn.call()
        except Exception as error:  # noqa: BLE001
            raise translate_error(error) from None

    # ---- local-chain helpers (anvil)
    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise TransactionFailed(f"{method}: {response['error']}")
        return response.get("result")

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at `timestamp` (anvil)."""
        self.rpc("evm_mine", [timestamp])

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert_to(self, snapshot_id: str) -> None:
        self.rpc("evm_revert", [snapshot_id])
        self._nonces.clear()


def connect(url: str | Sequence[str], *, chain_id: int | None = None, timeout: float = 10.0,
            policy: RpcPolicy | None = None) -> Chain:
    """Connect to one JSON-RPC node or several of one chain (a list, or URLs separated by commas: the first is
    the primary, the others take over when it fails; ticketkit/rpc.py). Every call has `timeout` seconds per
    attempt and is retried (`policy`, default RpcPolicy(timeout=timeout)). Raises RPCUnavailable when no node
    answers, ChainIdMismatch when one serves another chain than `chain_id`, InvalidInput for a bad URL."""
    provider = ResilientProvider(url, policy or RpcPolicy(timeout=timeout))
    actual = provider.check_chain_id(chain_id)
    return Chain(w3=Web3(provider), chain_id=actual)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
def local_chain(*, port: int | None = None, chain_id: int = 31337, block_time: float | None = None,
                extra_args: Sequence[str] = (), on_start: Callable[[str], None] | None = None) -> Iterator[Chain]:
    """Start anvil on a free port, yield a Chain with its ten funded dev accounts, stop it after."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    args = [anvil_binary(), "--port", str(port), "--chain-id", str(chain_id), "--silent",
            "--gas-limit", "30000000", "--code-size-limit", "24576", *extra_args]
    if block_time:
        args += ["--block-time", str(block_time)]
    main_thread = threading.current_thread() is threading.main_thread()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "NO_COLOR": "1"},
                               preexec_fn=_die_with_parent() if main_thread else None)
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
        chain.url = url  # type: ignore[attr-defined]
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


def _end_on_stop_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP kill Python without unwinding, which would leave anvil running (re-parented to
    PID 1); while a local chain runs they raise StopSignal instead, so every `finally` runs. Handlers that
    someone else installed are left alone (uvicorn installs its own while it serves, then restores these
    and re-raises the signal). Returns the handlers to restore."""
    def stop(signum: int, _frame: Any) -> None:
        raise StopSignal(128 + signum)

    replaced = {}
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
