"""Shared argument parsing for the scripts: a front end over ticketkit.commands, as the CLI is.

Every option falls back to an environment variable, so each script's `main()` also runs with no
arguments (e.g. under `ape run`), configured by the environment:

    TICKETKIT_RPC              JSON-RPC URL (default http://127.0.0.1:8545)
    TICKETKIT_CHAIN_ID         refuse to run unless the node serves this chain id
    TICKETKIT_PRIVATE_KEY      the organiser's hex key (or the variable named by --key-env)
    TICKETKIT_KEYSTORE         an encrypted keystore JSON instead (password: TICKETKIT_KEYSTORE_PASSWORD)
    TICKETKIT_COLLECTION       the event's collection address

Under `ape run <script> --network ...`, unset TICKETKIT_RPC and TICKETKIT_PRIVATE_KEY fall back to
ape's connected provider and its first test account (see docs/toolchain.md, "ape run").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import ticketkit as tk
from ticketkit import commands
from ticketkit.keys import DEFAULT_KEY_ENV, load_signer, signer_from_key

DEFAULT_RPC = "http://127.0.0.1:8545"

__all__ = [
    "DEFAULT_RPC",
    "ROOT",
    "add_collection",
    "ape_provider",
    "collection",
    "connect",
    "env_int",
    "parser",
    "rpc_url",
    "run",
    "signer",
]


def env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise tk.InvalidInput(f"{value!r} is not an integer", where=f"env:{name}") from None


def parser(description: str) -> argparse.ArgumentParser:
    """An ArgumentParser with the node and key options, each defaulting to its environment variable."""
    p = argparse.ArgumentParser(
        description=description,
        epilog="Options fall back to environment variables: TICKETKIT_RPC, "
        "TICKETKIT_CHAIN_ID, TICKETKIT_PRIVATE_KEY, TICKETKIT_KEYSTORE, "
        "TICKETKIT_KEYSTORE_PASSWORD, TICKETKIT_COLLECTION.",
    )
    p.add_argument(
        "--rpc",
        default=os.environ.get("TICKETKIT_RPC") or None,
        help=f"JSON-RPC URL, or several comma-separated, the primary first (env TICKETKIT_RPC; "
        f"under `ape run` ape's provider; else {DEFAULT_RPC})",
    )
    p.add_argument("--chain-id", type=int, default=None, help="expected chain id (env TICKETKIT_CHAIN_ID)")
    p.add_argument(
        "--key-env",
        default=DEFAULT_KEY_ENV,
        help=f"environment variable with the organiser's hex key (default {DEFAULT_KEY_ENV})",
    )
    p.add_argument(
        "--keystore",
        default=os.environ.get("TICKETKIT_KEYSTORE"),
        help="encrypted keystore JSON (password from TICKETKIT_KEYSTORE_PASSWORD)",
    )
    return p


def add_collection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "collection",
        nargs="?",
        default=os.environ.get("TICKETKIT_COLLECTION"),
        help="the collection's address (env TICKETKIT_COLLECTION)",
    )


def ape_provider() -> Any | None:
    """ape's connected provider when running under `ape run --network ...`, else None.

    Only looks if ape is already imported (never imports it: that takes seconds)."""
    if "ape" not in sys.modules:
        return None
    try:
        from ape import networks

        provider = networks.active_provider
        return provider if provider is not None and provider.is_connected else None
    except Exception:  # noqa: BLE001  # any ape trouble means "not under ape"
        return None


def _ape_rpc_url(provider: Any) -> str | None:
    for get in (lambda: provider.uri, lambda: provider.http_uri, lambda: provider.web3.provider.endpoint_uri):
        url = None
        with contextlib.suppress(Exception):  # this kind of provider has no such attribute, or it fails
            url = get()
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return None


def rpc_url(args: argparse.Namespace) -> str:
    """--rpc / TICKETKIT_RPC, else ape's provider (under `ape run`), else DEFAULT_RPC."""
    if args.rpc:
        return args.rpc
    provider = ape_provider()
    url = _ape_rpc_url(provider) if provider is not None else None
    return url or DEFAULT_RPC


def connect(args: argparse.Namespace) -> tk.Chain:
    """The chain as the CLI connects (ticketkit.commands.connect: the operator's fee settings from the
    environment), without the CLI's journal: a script's run stands alone (`ape run` restarts its anvil)."""
    chain_id = args.chain_id if args.chain_id is not None else env_int("TICKETKIT_CHAIN_ID")
    return commands.connect(rpc_url(args), chain_id, journal=False)


def signer(args: argparse.Namespace) -> Any:
    """The keystore, or the key in --key-env; under `ape run` with neither, ape's first test account."""
    if args.keystore is None and not os.environ.get(args.key_env or DEFAULT_KEY_ENV) and ape_provider():
        try:
            from ape import accounts

            key = accounts.test_accounts[0].private_key
        except Exception:  # noqa: BLE001  # fall through to the usual "not set" error
            key = None
        if key:
            return signer_from_key(key if isinstance(key, str) else bytes(key), source="ape:test_accounts[0]")
    return load_signer(keystore=args.keystore, env=args.key_env)


def collection(chain: tk.Chain, address: str | None) -> tk.Collection:
    return commands.collection(chain, address, where="collection")


def required(value: Any, what: str, env: str) -> Any:
    if value in (None, ""):
        raise tk.InvalidInput(f"give {what} (or set {env})", where=what)
    return value


def run(
    body: Callable[[argparse.Namespace], Any], p: argparse.ArgumentParser, argv: Sequence[str] | None
) -> int:
    """Parse `argv` ([] when None: environment only), run `body`; errors print as one line, exit code 2."""
    args = p.parse_args(list(argv) if argv is not None else [])
    code = 0
    try:
        body(args)
    except tk.ContractRevert as error:
        print(f"error [{error.code}]: {error.explain(getattr(args, 'collection', None))}", file=sys.stderr)
        code = 2
    except tk.TicketkitError as error:
        print(f"error [{error.code}]: {error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("error [interrupted]: stopped; rerun the same command to resume", file=sys.stderr)
        code = 130
    if code and argv is None and ape_provider() is not None:
        raise SystemExit(code)  # `ape run` ignores main()'s return value; an exit status it does not
    return code
