"""`make serve` starts, prints how to reach it, serves the API and stops on its own with --seconds."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def test_serve_prints_the_url_and_serves_the_api(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.serve", "--seconds", "8", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        for line in process.stdout:  # type: ignore[union-attr]  # stdout=PIPE: never None
            lines.append(line)
            if line.startswith("fan token:"):
                break
        printed = "".join(lines)
        found = re.search(r"gateway:\s+(http://\S+)", printed)
        assert found, printed
        url = found.group(1)
        assert re.search(r"organiser key:\s+tko_", printed) and re.search(r"fan token:\s+tkf_", printed), (
            printed
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, printed
                time.sleep(0.1)
        assert response.status_code == 200 and "/listings/{listing_id}/buy" in response.json()["paths"]
        assert httpx.get(f"{url}/docs", timeout=2).status_code == 200
        assert (tmp_path / "serve.db").exists()
        assert process.wait(timeout=30) == 0  # --seconds ends it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
