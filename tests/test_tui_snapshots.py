"""Snapshots of every screen at 80×24, 120×40 and 200×50 with fixed data
(tests/tui_fakes.py), no clock: each must read well at 80×24 and use the width when there
is more. Update after an intended change with
`pytest tests/test_tui_snapshots.py --snapshot-update`, and look at the SVGs you accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from djml.config import from_dict
from djml.tui.app import DjmlApp
from tui_fakes import FakeLink

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])


def app_for(start: str, connected: bool = True) -> DjmlApp:
    # A data dir that never exists: labelled-today and bucket names come out empty.
    config = from_dict({"data_dir": "/nonexistent/djml-snapshot"}, Path("/nonexistent/config.toml"))
    return DjmlApp(config, link=FakeLink(connected=connected), start=start)


async def wait(pilot) -> None:
    await pilot.pause(0.4)


@pytest.fixture(autouse=True)
def no_status_polling(monkeypatch):
    """The status screen asks for fresh figures every 2 s; a slow start (the app took
    1.9 s to come up on a busy machine) let one poll in and drew one more sparkline bar.
    A snapshot shows what the first answers draw."""
    monkeypatch.setattr("djml.tui.status.POLL_SECONDS", 3600.0)


@SIZES
@pytest.mark.parametrize("start", ["review", "library", "status"])
def test_screen(snap_compare, start, size):
    assert snap_compare(app_for(start), terminal_size=size, run_before=wait)


@SIZES
def test_recommendations(snap_compare, size):
    async def pick(pilot):
        await wait(pilot)
        await pilot.press("enter")
        await wait(pilot)

    assert snap_compare(app_for("library"), terminal_size=size, run_before=pick)


@SIZES
def test_help_overlay(snap_compare, size):
    assert snap_compare(app_for("review"), terminal_size=size, press=["question_mark"], run_before=wait)


@SIZES
def test_no_daemon(snap_compare, size):
    async def offline(pilot):
        await pilot.pause(1.0)

    assert snap_compare(app_for("review", connected=False), terminal_size=size, run_before=offline)


def test_no_daemon_after_escape(snap_compare):
    """Esc on the offline screen used to leave an empty screen with no word of what to do."""
    async def offline(pilot):
        await pilot.pause(1.0)
        await pilot.press("escape")
        await wait(pilot)

    assert snap_compare(app_for("review", connected=False), terminal_size=(80, 24), run_before=offline)
