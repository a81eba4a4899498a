"""Chain-level failures come out as their own exception classes."""

import pytest

import ticketkit as tk


def test_reused_nonce_is_a_nonce_error(chain, fans):
    alice, bob = fans[0], fans[1]
    receipt = chain.send_raw({"to": bob.address, "value": 1, "gas": 21_000}, alice)
    used = chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"]
    with pytest.raises(tk.NonceError) as info:
        chain.send_raw({"to": bob.address, "value": 1, "gas": 21_000, "nonce": used}, alice)
    assert info.value.code == "nonce_error"


def test_unknown_rpc_is_rpc_unavailable():
    with pytest.raises(tk.RPCUnavailable):
        tk.connect("http://127.0.0.1:9", policy=tk.RpcPolicy(timeout=1, retries=1))


def test_wrong_chain_id(chain):
    with pytest.raises(tk.ChainIdMismatch) as info:
        tk.connect(chain.url, chain_id=1)
    assert (info.value.expected, info.value.actual) == (1, chain.chain_id)


# ---- stop signals end the anvil children (`ticketkit chain`, `python -m gateway.serve`)

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _start(args: list[str], ready: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    for line in process.stdout:  # type: ignore[union-attr]  # stdout=PIPE: never None
        if re.search(ready, line):
            break
    [anvil] = [c for c in _children(process.pid) if "anvil" in Path(f"/proc/{c}/cmdline").read_text()]
    return process, anvil


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_any_stop_signal_ends_the_chain_commands_anvil(how):
    process, anvil = _start(["-m", "ticketkit", "chain", "--port", "0"], r"Ctrl-C to stop")
    try:
        process.send_signal(how)
        process.wait(timeout=15)
        assert _gone(anvil), f"anvil {anvil} survived {how.name}"
    finally:
        if process.poll() is None:
            process.kill()
        if not _gone(anvil, 0):
            os.kill(anvil, signal.SIGKILL)


def test_sigkill_of_the_parent_still_ends_anvil():
    process, anvil = _start(["-m", "ticketkit", "chain", "--port", "0"], r"Ctrl-C to stop")
    process.kill()
    process.wait(timeout=15)
    assert _gone(anvil), "anvil survived its parent's SIGKILL (PR_SET_PDEATHSIG)"


def test_sigterm_ends_the_gateway_servers_anvil(tmp_path):
    process, anvil = _start(
        ["-m", "gateway.serve", "--data-dir", str(tmp_path), "--seconds", "60"], r"^scanner page:"
    )
    try:
        time.sleep(0.5)  # uvicorn is serving (its own handlers are installed)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        assert _gone(anvil), "anvil survived the gateway's SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
        if not _gone(anvil, 0):
            os.kill(anvil, signal.SIGKILL)
