"""bench/gate_load.py's handling of the kernel's session autogroups (the load itself runs in `make bench`
only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import gate_load


@pytest.fixture
def setting(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "sched_autogroup_enabled"
    monkeypatch.setattr(gate_load, "AUTOGROUP", path)
    return path


def test_autogroups_are_off_during_the_run_and_restored_after(setting):
    setting.write_text("1\n")
    with gate_load._autogroups_off() as during:
        assert during == 0 and setting.read_text() == "0"
    assert setting.read_text() == "1"


def test_autogroups_are_restored_when_the_run_fails(setting):
    setting.write_text("1\n")
    with pytest.raises(RuntimeError), gate_load._autogroups_off():
        raise RuntimeError("wrk failed")
    assert setting.read_text() == "1"


def test_a_setting_that_is_off_or_missing_is_left_alone(setting):
    setting.write_text("0\n")
    with gate_load._autogroups_off() as during:
        assert during == 0
    assert setting.read_text() == "0\n"
    setting.unlink()
    with gate_load._autogroups_off() as during:
        assert during is None
    assert not setting.exists()


class _NotWritable(type(Path())):
    def write_text(self, *args, **kwargs):  # as /proc refuses a user who is not root
        raise PermissionError(13, "Permission denied", str(self))


def test_without_permission_the_run_keeps_autogroups_and_says_so(setting, monkeypatch, capsys):
    setting.write_text("1\n")
    monkeypatch.setattr(gate_load, "AUTOGROUP", _NotWritable(setting))
    with gate_load._autogroups_off() as during:
        assert during == 1
    assert setting.read_text() == "1\n"
    assert "autogroup" in capsys.readouterr().err
