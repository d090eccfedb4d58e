"""The TUI's behaviour with an in-process fake daemon: keystrokes → protocol calls,
optimistic labels with rollback, undo, skip, filter, recommendations chain → M3U8."""

from __future__ import annotations


import pytest

from djml.config import from_dict
from djml.tui.app import DjmlApp
from djml.tui.offline import OfflineScreen
from tui_fakes import FakeLink, make_app, sync

pytestmark = pytest.mark.timeout(60)



def queue_ids(app) -> list[int]:
    return [i["item_id"] for i in app.screen.visible]


async def settle(pilot, seconds: float = 0.3):
    await pilot.pause(seconds)


@sync
async def test_number_keys_label_and_move_on(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert queue_ids(app) == [6, 2, 7]
        await pilot.press("2")            # item 6 is a sample: 2 = snare
        await settle(pilot)
        assert link.labels == [(6, "sample_type", "snare")]
        assert queue_ids(app) == [2, 7] and app.screen.current["item_id"] == 2
        await pilot.press("enter")        # accept the top prediction of the bucket item
        await settle(pilot)
        assert link.labels[-1] == (2, "bucket", "peak-time")
        assert "2 labelled today" in str(app.screen.query_one("#review-header").render())


@sync
async def test_label_rolls_back_when_the_daemon_refuses(tmp_path):
    link = FakeLink(fail={"label.set"})
    app = make_app(tmp_path, link)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert queue_ids(app) == [6, 2, 7]          # back where it was
        assert app.screen.current["item_id"] == 6
        assert any("label not saved" in n.message for n in app._notifications)


@sync
async def test_undo_skip_new_label_and_filter(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")                      # skip 6: to the end
        assert queue_ids(app) == [2, 7, 6]
        await pilot.press("e")
        await pilot.press(*"deep", "enter")         # a new bucket for item 2
        await settle(pilot)
        assert link.labels == [(2, "bucket", "deep")]
        assert "deep" in app.screen.choices({"task": "bucket", "top": []})
        await pilot.press("u")
        await settle(pilot)
        assert ("label.undo", {"item_id": 2, "task": "bucket"}) in link.calls
        assert queue_ids(app)[0] == 2 and link.labels == []
        await pilot.press("slash", *"hat", "enter")
        assert queue_ids(app) == [7]
        await pilot.press("slash", "ctrl+u", "enter")   # the input opens with the filter: clear it
        assert len(queue_ids(app)) == 3


@sync
async def test_library_pages_and_filters_through_query(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link, start="library")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("DataTable").row_count == 7
        assert all(c[1].get("limit") for c in link.calls if c[0] == "query")
        await pilot.press("slash", *"kind:sample", "enter")
        await settle(pilot)
        assert [r["id"] for r in app.screen.rows] == [5, 6, 7]
        await pilot.press("slash", *"key:8A~ kind:track", "enter")
        await settle(pilot)
        assert sorted(r["id"] for r in app.screen.rows) == [1, 2, 3, 4]   # 8A and its neighbours
        await pilot.press("slash", *"bpm:fast", "enter")
        assert any("range like 120-128" in n.message for n in app._notifications)


@sync
async def test_recommend_accept_builds_a_chain_and_exports_m3u8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    link = FakeLink()
    app = make_app(tmp_path, link, start="library")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")                  # library row 1 → recommendations
        await settle(pilot)
        assert app.screen.seed["id"] == 1 and [r["id"] for r in app.screen.rows] == [2, 4]
        await pilot.press("enter")                  # accept #2
        await settle(pilot, 0.5)
        assert ("recommend.accept", {"ref": 1, "item_id": 2,
                                     "options": {"bpm_tolerance": 6.0, "key_mode": "relaxed", "energy": None}}) in link.calls
        assert link.accepted == [(1, 2)]            # the daemon records it (the TUI never writes)
        assert [t["id"] for t in app.screen.chain] == [1, 2] and app.screen.seed["id"] == 2
        await pilot.press("w", *"myset", "enter")
        await settle(pilot)
    text = (tmp_path / "myset.m3u8").read_text()
    assert text.splitlines()[0] == "#EXTM3U"
    assert "/music/tracks/Anna Lee - Night Drive.wav" in text and "#EXTINF:300,Bo Marsh - Lantern" in text


@sync
async def test_status_retry_and_model_accuracy(tmp_path):
    link = FakeLink()
    app = make_app(tmp_path, link, start="status")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        summary = str(app.screen.query_one("#status-summary").render())
        assert "up 1h02m" in summary and "3 queued" in summary
        assert "latest 66% on 12 (39–86%)" in str(app.screen.query_one("#accuracy").render())
        await pilot.press("enter")
        await settle(pilot)
        assert ("retry", {"path": "/music/tracks/broken.mp3"}) in link.calls


@sync
async def test_offline_screen_when_no_daemon(tmp_path):
    app = make_app(tmp_path, FakeLink(connected=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 1.0)
        assert isinstance(app.screen, OfflineScreen)
        assert "No djml daemon is running" in str(app.screen.query_one("#offline-title").render())


@pytest.mark.parametrize("start", ["review", "library", "recommend", "status"])
@pytest.mark.parametrize("close_key", ["escape", "q", "down"])
@sync
async def test_help_overlay_opens_and_closes_on_every_screen(tmp_path, start, close_key):
    """`?` then any key used to crash the app: the help screen's constructor overwrote
    Textual's own ``_bindings``, so the next key lookup raised AttributeError."""
    from djml.tui.widgets.help import HelpScreen

    app = make_app(tmp_path, FakeLink(), start=start)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = type(app.screen)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press(close_key)
        await settle(pilot)
        assert app.is_running
        if close_key != "down":
            assert type(app.screen) is home


def test_a_crash_exits_non_zero_with_a_readable_message(tmp_path, capsys):
    """A crash of the app used to end `djml tui` with exit code 0."""
    import click

    from djml.commands.tui import exit_if_crashed

    class CrashingLink(FakeLink):
        def start(self) -> None:
            raise RuntimeError("boom on mount")

    config = from_dict({"data_dir": str(tmp_path / "data")}, tmp_path / "config.toml")
    (tmp_path / "data").mkdir()
    app = DjmlApp(config, link=CrashingLink())
    app.run(headless=True, size=(80, 24))
    with pytest.raises(click.exceptions.Exit) as stop:
        exit_if_crashed(app, config)
    assert stop.value.exit_code == 1
    err = capsys.readouterr().err
    assert "djml tui stopped because of an error: RuntimeError: boom on mount" in err
    assert "boom on mount" in (tmp_path / "data" / "tui-crash.log").read_text()


@sync
async def test_the_queue_shows_the_task_and_what_a_sample_folder_says(tmp_path):
    app = make_app(tmp_path, FakeLink())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = [str(o.prompt) for o in app.screen.query_one("#queue").options]
        assert lines[0].splitlines() == ["snare_tight_02.wav", "sample: snare 0.41 · folder: clap"]
        assert lines[1].splitlines()[1].startswith("bucket: peak-time")
        detail = str(app.screen.query_one("#detail-text").render())
        assert "Your folder says clap (Claps/)" in detail
