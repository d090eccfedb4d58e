"""Snapshots of every screen at 80×24 with fixed data (tests/tui_fakes.py), no clock.
Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest

from djml.config import from_dict
from djml.tui.app import DjmlApp
from tui_fakes import FakeLink

SIZE = (80, 24)


def app_for(start: str, connected: bool = True) -> DjmlApp:
    # A data dir that never exists: labelled-today and bucket names come out empty.
    config = from_dict({"data_dir": "/nonexistent/djml-snapshot"}, Path("/nonexistent/config.toml"))
    return DjmlApp(config, link=FakeLink(connected=connected), start=start)


async def wait(pilot) -> None:
    await pilot.pause(0.4)


@pytest.mark.parametrize("start", ["review", "library", "status"])
def test_screen(snap_compare, start):
    assert snap_compare(app_for(start), terminal_size=SIZE, run_before=wait)


def test_recommendations(snap_compare):
    async def pick(pilot):
        await wait(pilot)
        await pilot.press("enter")
        await wait(pilot)

    assert snap_compare(app_for("library"), terminal_size=SIZE, run_before=pick)


def test_help_overlay(snap_compare):
    assert snap_compare(app_for("review"), terminal_size=SIZE, press=["question_mark"], run_before=wait)


def test_no_daemon(snap_compare):
    async def offline(pilot):
        await pilot.pause(1.0)

    assert snap_compare(app_for("review", connected=False), terminal_size=SIZE, run_before=offline)
