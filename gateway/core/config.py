"""All gateway settings in one place, from the environment (prefix GATEWAY_) or a .env file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ticketkit.rpc import parse_urls


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./gateway.db"
    rpc_url: str = "http://127.0.0.1:8545"
    # Several nodes of the chain, comma-separated (GATEWAY_RPC_URLS): the first is the primary, the next take
    # over while it fails (ticketkit/rpc.py, docs/chains.md). Unset: rpc_url alone.
    rpc_urls: str | None = None
    # Every JSON-RPC call: seconds per attempt, attempts after the first (over all nodes), and a bound on the
    # whole call, retries included (past it: 503 rpc_unavailable, never a request hung on a hanging node).
    rpc_timeout_seconds: float = Field(default=10.0, gt=0)
    rpc_retries: int = Field(default=4, ge=0)
    rpc_deadline_seconds: float = Field(default=20.0, gt=0)
    chain_id: int = 31337
    # The gateway's own account: sends mintBatch (MINTER_ROLE) and gatewayTransfer (GATEWAY_ROLE).
    operator_key: SecretStr | None = None
    # Encrypts fans' custodial keys at rest. Required: there is no safe default.
    key_encryption_secret: SecretStr
    max_body_bytes: int = 64 * 1024
    # How long a holder's signed gateway-transfer authorization stays valid (seconds).
    transfer_deadline_seconds: int = 600
    run_migrations: bool = True
    # Follow the chain in a background thread of this process (in several: one indexes, the others stand by).
    indexer_enabled: bool = False
    indexer_confirmations: int = 12
    indexer_poll_seconds: float = 2.0
    # The gate (docs/gate.md): a rotating code's window; the snapshot key (hex of a P-256 private scalar;
    # unset: derived from key_encryption_secret with HKDF, so every process signs with the same key); how long
    # a process may reuse what it read about an event's cancellation (seconds).
    gate_window_seconds: int = 15
    gate_signing_key: SecretStr | None = None
    gate_cache_seconds: float = 2.0
    # Carry gate admissions to the chain (checkIn batches, which mint the badges) in a background thread of
    # this process. The operator needs the collection's GATE_ROLE. Several processes may run it.
    checkin_queue_enabled: bool = False
    checkin_batch_size: int = 100
    checkin_poll_seconds: float = 1.0
    # The one transaction pipeline (ticketkit.tx, services/sending.py, docs/chains.md). Every operator
    # transaction (issuances, gifts, resale settlements, check-in batches) is done once its receipt is
    # `confirmations` blocks deep (unset: the chain's default, ticketkit.tx.PROFILES; a reorganisation above
    # it is redone); a transaction not mined within `stuck_blocks` blocks is replaced with fees 12.5 % higher.
    # The tip is at least `tip_floor_gwei` (unset: the chain's floor); `max_fee_gwei` is the most the operator
    # ever pays per gas (unset: no ceiling): above it transactions wait, and /readyz says why.
    confirmations: int | None = Field(default=None, ge=0)
    stuck_blocks: int | None = Field(default=None, ge=1)
    tip_floor_gwei: float | None = Field(default=None, ge=0)
    max_fee_gwei: float | None = Field(default=None, gt=0)
    # The sending worker (one per chain and operator across processes, by lease): how often it looks.
    sender_enabled: bool = True
    sender_poll_seconds: float = Field(default=0.5, gt=0)
    # A write (issue, gift, buy) answers at once with status `pending` (0), or waits up to this many seconds
    # for its transaction to be final, holding no database connection while it waits.
    send_wait_seconds: float = Field(default=0, ge=0)
    # Under a crowd (docs/gateway.md, "Under a crowd"): per process, each lane runs at most `limit` requests
    # at once and queues at most `queue` more, each for at most `lane_wait_seconds`; beyond that, 503
    # `overloaded` at once. The gate's lane (/gate/*) is its own: a fan flood never queues in front of the
    # doors. The engines' pools hold a connection for every request that may run (db.pool_sizes), so nothing
    # waits for one.
    lane_api_limit: int = Field(default=6, ge=1, le=64)
    lane_api_queue: int = Field(default=2000, ge=0)
    lane_gate_limit: int = Field(default=6, ge=1, le=64)
    lane_gate_queue: int = Field(default=1000, ge=0)
    # While the doors' lane has work, the other lane runs at most this many requests at once (the doors
    # first).
    lane_api_limit_while_doors_busy: int = Field(default=2, ge=1, le=64)
    # ... and the doors count as busy for this long after their last request came or went (scans a second
    # apart).
    lane_doors_busy_linger_seconds: float = Field(default=2.0, ge=0, le=60)
    lane_wait_seconds: float = Field(default=5.0, gt=0)  # under common client timeouts (10 s+), with the hold
    # Python's thread switch interval (sys.setswitchinterval), in ms: how long a thread back from the database
    # may wait for the interpreter lock. Unset: 1 where gate scans share the process with fans' requests
    # (their several round trips each pay that wait), and Python's default, 5, for the workers beside a doors'
    # server (`ticketkit-gateway --doors-port` sets it for them: fewer forced switches among the lane's
    # threads, ~8 % less CPU a read). The doors' server itself always runs at 1.
    switch_interval_ms: float | None = Field(default=None, gt=0, le=100)
    # A connection answered 503 `overloaded` is not read again for this long (its answer arrives at once; the
    # server holds the response open, so a client that ignores Retry-After cannot turn refusals into a storm
    # that takes the CPU from the requests admitted, the doors' included). 0: off.
    shed_hold_seconds: float = Field(default=1.0, ge=0, le=10)
    # Database timeouts: waiting for a pooled connection (should never happen: see above), connecting, and one
    # statement on PostgreSQL (SQLite: its lock wait, 5 s). Past them: 503 with a code, never a hang.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_statement_timeout_seconds: float = Field(default=15.0, gt=0)
    # The fans' read-only hot paths (GET /fans/me, /fans/me/tickets, /tickets/{id}) reuse a session token's
    # authentication in this process for this long (a revoked session reads for at most this long; writes
    # always authenticate afresh).
    fan_auth_cache_seconds: float = Field(default=2.0, ge=0)
    # GET /readyz: how long it waits for the RPC node, and the lags past which the gateway says it is not
    # ready.
    ready_rpc_timeout_seconds: float = Field(default=2.0, gt=0)
    ready_max_checkin_lag_seconds: float = Field(default=300.0, gt=0)
    ready_max_indexer_lag_blocks: int = Field(default=50, ge=0)
    # A fan session unused for this many days expires (401 session_expired; the fan signs in again with the
    # account's recovery code). 0: sessions never expire.
    fan_session_idle_days: float = Field(default=180, ge=0)
    # The gateway's own log lines (gateway.* loggers) on standard error: from this level, as text or as one
    # JSON object per line (which also turns uvicorn's lines into JSON).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    # The gateway's public URL (https://tickets.example): token metadata links its images there, and
    # `ticketkit deploy --gateway-url` sets contracts' base URI to `{public_url}/metadata/{chain}/{address}/`.
    # Unset: links use the address each request came in on.
    public_url: str | None = None
    # How long this process reuses what the chain said about a token for its metadata (seconds; wallets
    # fetch metadata at volume). 0: read the chain on every request.
    metadata_cache_seconds: float = Field(default=5.0, ge=0)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("GATEWAY_PUBLIC_URL must start with https:// (or http:// for a local test)")
        return value.rstrip("/")

    @property
    def rpc_endpoints(self) -> list[str]:
        """The node URLs, primary first."""
        return parse_urls(self.rpc_urls or self.rpc_url)

    @field_validator("rpc_urls")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_urls(value)  # InvalidInput (a ValueError): the settings refuse it
            return value
        return None

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
