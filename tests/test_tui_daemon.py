"""The TUI against a REAL daemon (`djml daemon run` on a temporary library of generated
audio): label twelve items with keystrokes and find them in the library, retrain, browse,
and reconnect by itself after the daemon restarts. Every daemon is stopped by pid."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from pathlib import Path

import pytest

from daemon_support import DaemonProcess
from djml import config as djml_config
from djml import synth
from djml.tui.app import DjmlApp
from djml.tui.offline import OfflineScreen

pytestmark = pytest.mark.timeout(240)

KINDS = ["kick", "snare", "hihat", "clap", "tom", "cymbal", "perc", "bass", "synth", "fx"]


def sync(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return wrapper


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One daemon for the module (analysing the library is the slow part); the tests run
    in file order: labels first (clean queue), the restart last."""
    root = tmp_path_factory.mktemp("tui-daemon")
    home = root / "home"
    home.mkdir()
    d = DaemonProcess(home, root / "music")
    d.write_config(settle=0.2)
    with open(home / "config.toml", "a") as f:  # the TUI loads this file without DJML_HOME
        f.write(f'data_dir = "{home / "data"}"\n')
        # queue every prediction short of certainty: the test needs ten items to label however
        # sure the shipped model is of the generated one-shots (it tags most of them right)
        f.write("review_threshold = 1.0\n")
    for i, kind in enumerate(KINDS * 2):
        synth.write_wav(d.samples / f"s{i:02d}_{kind}.wav", synth.one_shot(kind, seed=i))
    for i, (bpm, key) in enumerate([(124, 9), (126, 21), (128, 0)]):
        synth.write_wav(d.tracks / f"t{i}.wav", synth.drum_track(bpm, key, 12, seed=i))
    d.start()
    try:
        with d.client() as c:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                st = c.call("status")
                if st["library"]["samples"] + st["library"]["tracks"] >= 23 and not st["queue"]["queued"] \
                        and not st["queue"]["running"]:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError(f"library not analysed in time: {st}")
        yield d
    finally:
        d.stop()


def remote_config(d: DaemonProcess) -> djml_config.Config:
    """The TUI's side as on a laptop with the server's socket forwarded: a socket path and
    nothing else — no config file, no data dir, no database."""
    nowhere = d.home.parent / "laptop"
    return djml_config.Config(config_path=nowhere / "config.toml", data_dir=nowhere / "data",
                              runtime_dir=d.socket.parent)


def make_app(d: DaemonProcess, start: str = "review", task: str | None = None) -> DjmlApp:
    config = remote_config(d)
    assert config.socket_path == d.socket and not config.data_dir.exists()
    return DjmlApp(config, start=start, task=task)


async def until(pilot, predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


def review_queue(d: DaemonProcess, need: int) -> list[dict]:
    """The daemon's review queue once it holds ``need`` items (all predictions below
    certainty are queued, see the fixture)."""
    deadline = time.monotonic() + 60
    with d.client() as c:
        while True:
            queue = c.call("review.list", task="sample_type", limit=100)
            if len(queue) >= need:
                return queue
            assert time.monotonic() < deadline, f"the review queue has only {len(queue)} item(s), need {need}"
            time.sleep(0.5)


def current_labels(db: Path) -> dict[tuple[int, str], str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT item_id, task, label FROM labels WHERE undone_at IS NULL AND source = 'user'"
                            " ORDER BY id").fetchall()
    finally:
        conn.close()
    return {(i, t): label for i, t, label in rows}


@sync
async def test_label_twelve_items_with_keystrokes_then_retrain(daemon):
    review_queue(daemon, 12)
    app = make_app(daemon, task="sample_type")  # as `djml review --task samples`
    expected: dict[tuple[int, str], str] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await until(pilot, lambda: len(screen.queue) >= 12, what="the review queue")
        for n in range(12):   # keys 1-3: four labels in each of three classes (a class needs 3)
            item = screen.current
            key = str(n % 3 + 1)
            expected[(item["item_id"], item["task"])] = screen.choices(item)[int(key) - 1]
            await pilot.press(key)
            await pilot.pause(0.05)
        await until(pilot, lambda: len(current_labels(daemon.db)) >= 12, what="twelve labels in the library")
        assert current_labels(daemon.db) == expected
        await until(pilot, lambda: "12 labelled today" in str(screen.query_one("#review-header").render()),
                    what="the count of labels made today")
        # Retrain the task of the next item; model.trained ends the progress indicator.
        task = screen.current["task"] if screen.current else next(iter(expected))[1]
        before = daemon.count("SELECT COUNT(*) FROM models WHERE task = ?", task)
        await pilot.press("t")
        await pilot.pause(0.1)
        try:
            await until(pilot, lambda: not screen.training, timeout=180, what="the retrain")
        finally:
            notes = [n.message for n in app._notifications]
        after = daemon.count("SELECT COUNT(*) FROM models WHERE task = ?", task)
        assert after == before + 1, notes  # 12 labels in 3 classes: enough for a new version


@sync
async def test_undo_accept_choices_and_counts_come_over_the_socket(daemon):
    with daemon.client() as c:
        tracks = {Path(r["path"]).name: r["id"] for r in c.call("query", kind="track")["items"]}
        c.call("label.set", item_id=tracks["t0.wav"], task="genre", label="deep house")
        accepted_before = daemon.count("SELECT COUNT(*) FROM feedback WHERE event = 'recommend_accepted'")
    app = make_app(daemon, task="sample_type")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await until(pilot, lambda: bool(screen.queue) and "genre" in screen.task_labels, what="the queue")
        header = lambda: str(screen.query_one("#review-header").render())  # noqa: E731
        today = int(header().split(" labelled today")[0].rsplit("· ", 1)[1])
        item = screen.current
        await pilot.press("2")   # the second sample class
        key = (item["item_id"], item["task"])
        await until(pilot, lambda: current_labels(daemon.db).get(key) == screen.choices(item)[1],
                    what="the label in the library")
        await until(pilot, lambda: f"{today + 1} labelled today" in header(), what="the count")
        await pilot.press("u")
        await until(pilot, lambda: key not in current_labels(daemon.db), what="the undo")
        # genre keys offer the genres in use (labels.choices), buckets the daemon's buckets
        assert "deep house" in screen.choices({"item_id": tracks["t1.wav"], "task": "genre", "top": []})
        assert screen.choices({"item_id": tracks["t1.wav"], "task": "bucket", "top": []})[:3] == \
            ["warm-up", "peak-time", "closing"]

        seed = await app.request("show", ref=tracks["t0.wav"])
        app.open_recommendations(seed)
        await until(pilot, lambda: getattr(app.screen, "seed", None) is not None, what="the mix screen")
        app.screen.accept(app.screen.seed, {"id": tracks["t1.wav"]})
        await until(pilot, lambda: daemon.count("SELECT COUNT(*) FROM feedback WHERE event = 'recommend_accepted'")
                    == accepted_before + 1, what="the accepted recommendation")
    assert not remote_config(daemon).data_dir.parent.exists()   # the TUI made no local state


@sync
async def test_library_and_status_screens_read_the_daemon(daemon):
    app = make_app(daemon, start="library")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await until(pilot, lambda: len(screen.rows) == 23, what="23 library rows")
        await pilot.press("slash", *"kind:track", "enter")
        await until(pilot, lambda: len(screen.rows) == 3 and all(r["kind"] == "track" for r in screen.rows),
                    what="the track filter")
        await pilot.press("S")
        await pilot.pause(0.5)
        status = app.screen
        await until(pilot, lambda: f"pid {daemon.proc.pid}" in str(status.query_one("#status-summary").render()),
                    what="the daemon's pid on the status screen")


@sync
async def test_reconnects_by_itself_after_a_daemon_restart(daemon):
    app = make_app(daemon, start="status")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.link.connected, what="the first connection")
        first = app.link.server["pid"]
        daemon.stop()
        await until(pilot, lambda: isinstance(app.screen, OfflineScreen), timeout=15, what="the offline screen")
        daemon.start()
        await until(pilot, lambda: app.link.connected and app.link.server["pid"] != first, timeout=30,
                    what="the reconnection")
        await until(pilot, lambda: not isinstance(app.screen, OfflineScreen), what="the offline screen to close")
        # Requests work again through a fresh request connection.
        info = await app.request("status")
        assert info["pid"] == daemon.proc.pid != first
