"""Chromium for the page tests: where it is, the page's errors as they happen, QR codes on screen and in a
fake camera's video, and axe-core's accessibility check."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import qrcode
import zxingcpp
from PIL import Image

from gateway.core import codes

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # pinned in package.json
CODE = re.compile(r"^TK1\.[A-Za-z0-9_-]{112}$")
GREEN, RED = "rgb(21, 128, 61)", "rgb(185, 28, 28)"  # app.css --admit, --refuse


def watch_errors(page) -> list[str]:
    """Uncaught errors, console errors and failed requests (as "status path") of the page, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {urlsplit(response.url).path}")
            if response.status >= 400
            else None
        ),
    )
    return errors


def read_qr(png: bytes) -> str:
    """The text of the one QR code in a screenshot."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode], found
    return found[0].text


def y4m(path: Path, text: str, size: int = 720, frames: int = 3) -> Path:
    """A Y4M video (4:2:0, full range) of `text` as a QR code, black on white, filling the frame."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    modules = np.array(qr.get_matrix(), dtype=bool)
    scale = size // len(modules)
    image = np.repeat(np.repeat(np.where(modules, 0, 255).astype(np.uint8), scale, 0), scale, 1)
    luma = np.full((size, size), 255, np.uint8)
    offset = (size - image.shape[0]) // 2
    luma[offset : offset + image.shape[0], offset : offset + image.shape[1]] = image
    chroma = np.full((size // 2) * (size // 2), 128, np.uint8).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma.tobytes() + chroma + chroma)
    return path


def code_for(key, ticket_id) -> str:
    """A code signed for the next window: valid by the gate's clock for 30 to 45 seconds from now."""
    return codes.sign_code(key, ticket_id, codes.window_of(time.time()) + 1)


def axe_violations(page, *, above: str = "minor") -> list[dict]:
    """axe-core's violations on the page more severe than `above` (as {id, impact, help, nodes})."""
    page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => (await axe.run(document)).violations")
    order = ["minor", "moderate", "serious", "critical"]
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results
        if order.index(v["impact"] or "minor") > order.index(above)
    ]
