"""Browser libraries copied from node_modules, so the gateway serves them with no Node at run time.

`python -m gateway.static.vendor` (or `make vendor`) copies them; `stale()` lists the copies that differ from
node_modules (tests/gateway/live/test_pages.py fails on any). The versions are pinned in package.json.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
NODE_MODULES = ROOT / "node_modules"

# served name -> file in node_modules
FILES: dict[str, str] = {
    "jsQR.js": "jsqr/dist/jsQR.js",  # QR decoder (scanner page), Apache-2.0, a classic script: window.jsQR
    "jsQR.LICENSE.txt": "jsqr/LICENSE",
    "qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",  # QR generator (ticket page), MIT (licence in the file)
    # Time-series charts (the organiser's dashboard), MIT, 51 KB minified, no dependencies; a classic script:
    # window.uPlot. Chosen over Chart.js (which needs a separate date adapter for time axes) for its size and
    # its time zone support (uPlot.tzDate).
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
    "uPlot.LICENSE.txt": "uplot/LICENSE",
}


def stale() -> list[str]:
    """The vendored files missing or different from their node_modules source (empty when up to date)."""
    return [
        name
        for name, source in FILES.items()
        if not (HERE / name).is_file() or (HERE / name).read_bytes() != (NODE_MODULES / source).read_bytes()
    ]


def copy() -> list[str]:
    """Copy every file whose vendored copy is stale; return their names."""
    changed = stale()
    for name in changed:
        shutil.copyfile(NODE_MODULES / FILES[name], HERE / name)
    return changed
