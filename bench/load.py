"""wrk as a load client in a process of its own (bench/wrk/crowd.lua): start it, then read its figures.

Each request takes the next line of a file, `<bearer token> <JSON body or ->`; answers are counted by kind:
2xx (`ok`), 503 (`shed_503`: admission control's deliberate refusals), anything else (`other_status`).
Used by bench/crowd.py and tests/gateway/test_crowd.py.
"""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk" / "crowd.lua"


def lines(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """Write the request lines (token, body) wrk reads; returns `path`."""
    path.write_text("".join(f"{token} {body}\n" for token, body in pairs))
    return path


def raise_open_files_limit() -> int:
    """wrk and the servers it loads need a file descriptor per connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start(
    url: str,
    requests: Path,
    *,
    method: str = "GET",
    connections: int,
    seconds: float,
    threads: int = 2,
    timeout: float = 10.0,
    pause_ms: int = 0,
    lockstep: bool = False,
) -> subprocess.Popen:
    """wrk on `url` (closed loop, keep-alive connections; each waits `pause_ms` after an answer) for
    `seconds`; `figures` waits for it. With a pause, the connections' first requests are spread over one pause
    (scanners do not start in the same millisecond) unless `lockstep`: all at once, a burst."""
    raise_open_files_limit()  # inherited by wrk
    staggered = 0 if lockstep else -(-connections // threads)  # a thread's connections
    return subprocess.Popen(
        [
            "wrk",
            f"-t{threads}",
            f"-c{max(connections, threads)}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            f"{timeout:g}s",
            "-s",
            str(SCRIPT),
            url,
            "--",
            str(requests),
            method,
            str(pause_ms),
            str(staggered),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def figures(run: subprocess.Popen) -> dict[str, float]:
    """rps (2xx answers per second), p50_ms/p99_ms, ok, shed_503, errors (any other status, connection errors,
    client timeouts), timeouts, and the raw counters."""
    output, _ = run.communicate()
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed: {output}")
    raw = json.loads(output.strip().splitlines()[-1])
    seconds = raw["duration_us"] / 1e6
    errors = raw["other_status"] + sum(
        raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "rps": round(raw["ok"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "ok": raw["ok"],
        "shed_503": raw["shed_503"],
        "errors": errors,
        "timeouts": raw["timeouts"],
        "raw": raw,
    }
