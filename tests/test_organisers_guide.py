"""docs/organisers.md: every `$` command of its `console` blocks runs, in order, and prints what the guide
shows.

The commands run in a temporary directory holding copies of examples/event.toml and examples/recipients.csv,
against the session's anvil: `ticketkit …` in process (typer's CliRunner), `python scripts/NAME.py …` through
the script's main(), anything else (the `echo` that edits the CSV) in bash. A command whose shown output
starts with `error [` must fail with exit status 2. The shown output must appear in what the command printed,
fragment by fragment: addresses are abbreviated in the guide (`0x16E6…c41c`), so each line is compared in the
pieces between them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from typer.testing import CliRunner

import ticketkit as tk
from ticketkit.cli import app

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "organisers.md"
ABBREVIATED = re.compile(r"0x[0-9a-fA-F]{4}…[0-9a-fA-F]{4}")


def _steps(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
    return steps


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"guide_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]  # a file location always has a loader
    return module


def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    argv = shlex.split(command)
    if argv[0] == "ticketkit":
        result = CliRunner().invoke(app, argv[1:], env=env, catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr
    if argv[0] == "python" and argv[1].startswith("scripts/"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _script(Path(argv[1]).stem).main(argv[2:])
        return code, out.getvalue() + err.getvalue()
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    return done.returncode, done.stdout + done.stderr


def test_the_guides_commands_run_and_print_what_it_shows(chain, tmp_path, monkeypatch):
    steps = _steps(GUIDE.read_text(encoding="utf-8"))
    assert len(steps) >= 15, "the guide's walkthrough lost its commands"
    for name in ("event.toml", "recipients.csv"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    env = {
        "TICKETKIT_RPC": chain.url,
        "TICKETKIT_PRIVATE_KEY": tk.ANVIL_KEYS[0],
        "GATE_KEY": tk.ANVIL_KEYS[1],
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "PATH": "/usr/bin:/bin",
    }
    for name in (
        "TICKETKIT_KEYSTORE",
        "TICKETKIT_FACTORY",
        "TICKETKIT_CHAIN_ID",
        "TICKETKIT_COLLECTION",
        "TICKETKIT_CSV",
        "TICKETKIT_EVENT_FILE",
        "TICKETKIT_DEPLOYMENTS",
        "TICKETKIT_DRY_RUN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for command, shown in steps:
        code, printed = _run(command, env)
        chain.reset_nonce(chain.account(0).address)
        expected = 2 if shown and shown[0].startswith("error [") else 0
        assert code == expected, f"$ {command}\n{printed}"
        flat = " ".join(printed.split())
        for line in shown:
            for piece in ABBREVIATED.split(line):
                piece = " ".join(piece.split())
                assert piece in flat, (
                    f"$ {command}: the guide shows {line!r}, the command printed:\n{printed}"
                )
