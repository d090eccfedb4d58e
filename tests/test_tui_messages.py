"""Daemon news reaches the TUI's screens as Textual messages: the link posts to the app,
the app publishes, and every mounted screen (also those of modes not shown) handles its
own copy in its own message queue; a screen mounted later is told the link's state."""

from __future__ import annotations


import pytest
from textual.app import App
from textual.signal import Signal

from djml.tui.daemon_screen import DaemonScreen
from djml.tui.messages import DaemonConnected, DaemonEvent, DaemonLost
from tui_fakes import FakeLink, make_app, sync

pytestmark = pytest.mark.timeout(60)



def event_log(status) -> str:
    return "\n".join(line.text for line in status.query_one("#events").lines)


@sync
async def test_an_event_reaches_every_mounted_screen_also_of_modes_not_shown(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link, start="status")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        status = app.screen
        app.switch_mode("review")           # the status screen stays mounted behind
        await pilot.pause(0.3)
        reviews_before = sum(1 for method, _ in link.calls if method == "review.list")
        app.post_message(DaemonEvent("review.changed", {"task": "sample_type", "item_ids": [6]}))
        app.post_message(DaemonEvent("item.failed", {"path": "/music/x.wav", "error": "boom"}))
        await pilot.pause(0.6)               # the review screen debounces its reload 0.3 s
        assert sum(1 for method, _ in link.calls if method == "review.list") == reviews_before + 1
        log = event_log(status)
        assert "review.changed task=sample_type" in log and "item.failed path=/music/x.wav" in log


@sync
async def test_losing_and_regaining_the_daemon_reach_the_screens(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link, start="status")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        status = app.screen
        assert "connected" not in event_log(status)     # the state at mount is not news
        link.connected = False
        app.post_message(DaemonLost("the daemon went away"))
        await pilot.pause(0.3)
        assert "disconnected reason=the daemon went away" in event_log(status)
        link.connected = True
        app.post_message(DaemonConnected({"pid": 4343}))
        await pilot.pause(0.3)
        assert "connected pid=4242" in event_log(status)   # the screen shows the link's server


class Recorder(DaemonScreen):
    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.got: list = []

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        self.got.append(message)

    def on_daemon_lost(self, message: DaemonLost) -> None:
        self.got.append(message)

    def on_daemon_event(self, message: DaemonEvent) -> None:
        self.got.append(message)


class Bare(App[None]):
    """The least an app gives a DaemonScreen: a link and the signal; counts what it handles."""

    def __init__(self, link: FakeLink) -> None:
        super().__init__()
        self.link = link
        self.daemon_messages = Signal(self, "daemon-messages")
        self.handled = 0

    def on_daemon_event(self, message: DaemonEvent) -> None:
        self.handled += 1
        self.daemon_messages.publish(message)


@sync
async def test_each_screen_gets_its_own_copy_and_a_removed_screen_none():
    app = Bare(FakeLink(connected=False))
    async with app.run_test() as pilot:
        first, second = Recorder("first"), Recorder("second")
        await app.push_screen(first)
        await app.push_screen(second)
        await pilot.pause()
        assert [type(m) for m in first.got] == [DaemonLost] and first.got[0].initial   # the link is down
        sent = DaemonEvent("item.added", {"item_id": 1})
        app.post_message(sent)
        await pilot.pause()
        a, b = first.got[-1], second.got[-1]
        assert (a.name, a.data, b.name, b.data) == ("item.added", {"item_id": 1}, "item.added", {"item_id": 1})
        assert a is not b and sent not in (a, b)
        assert app.handled == 1                       # a screen's copy does not bubble back up
        app.pop_screen()                              # `second` is removed
        await pilot.pause()
        app.post_message(DaemonEvent("item.missing", {"paths": []}))
        await pilot.pause()
        assert first.got[-1].name == "item.missing"
        assert second.got[-1].name == "item.added"
        assert app.handled == 2
