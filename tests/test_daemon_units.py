"""Unit tests for daemon parts that need no running daemon: the settle check, the rate
limiter and the job queue policy over a real SQLite library."""

from __future__ import annotations

import os
import time

import pytest

from djml import db
from djml import protocol as p
from djml.daemon import jobs as jobs_module
from djml.daemon.jobs import JobQueue
from djml.daemon.server import _Connection
from djml.daemon.watcher import EARLY_LOOK_SECONDS, MIN_CHECK_SECONDS, Settler
from djml.library import Library
from djml.pipeline import FileResult, FileStat


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_settler_waits_until_size_and_mtime_stand_still(tmp_path):
    clock = Clock()
    settler = Settler(2.0, clock)
    f = tmp_path / "a.wav"
    f.write_bytes(b"x")
    settler.touch(str(f))
    assert settler.due() == []           # first look: remember the stat
    clock.now += 1.5
    with open(f, "ab") as out:           # still growing
        out.write(b"more")
    assert settler.due() == []
    clock.now += 1.9
    assert settler.due() == []           # still for 1.9 s < 2.0 s
    clock.now += 0.2
    assert settler.due() == [str(f)]
    assert len(settler) == 0


def test_settler_waits_longer_for_files_written_but_not_closed(tmp_path):
    clock = Clock()
    settler = Settler(1.0, clock)
    f = tmp_path / "b.wav"
    f.write_bytes(b"x")
    settler.touch(str(f), writing=True)
    settler.due()
    clock.now += 1.5
    assert settler.due() == []
    settler.closed(str(f))               # the writer closed it: normal settle applies again
    clock.now += 1.01
    assert settler.due() == [str(f)]


def test_settler_forgets_vanished_and_follows_renames(tmp_path):
    clock = Clock()
    settler = Settler(0.0, clock)
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "c.wav"
    f.write_bytes(b"x")
    settler.touch(str(f))
    settler.touch(str(tmp_path / "gone.wav"))
    os.rename(tmp_path / "d", tmp_path / "e")
    settler.rename(str(tmp_path / "d"), str(tmp_path / "e"))
    ready = settler.due()
    clock.now += 0.1
    ready += settler.due()
    assert ready == [str(tmp_path / "e" / "c.wav")]


def test_settle_time_counts_from_the_event_not_from_the_first_check(tmp_path):
    clock = Clock()
    settler = Settler(2.0, clock)
    f = tmp_path / "a.wav"
    f.write_bytes(b"x")
    settler.touch(str(f))
    clock.now += 2.1                     # the first check comes late: the file is already due
    assert settler.due() == [str(f)]


def test_settler_checks_again_when_the_first_file_can_have_settled(tmp_path):
    """The next check comes when the earliest pending file's settle time is over (not a
    whole interval later), never later than the interval, never in a tight loop."""
    clock = Clock()
    settler = Settler(2.0, clock)
    assert settler.next_check() == settler.interval() == 0.5
    f, g = tmp_path / "a.wav", tmp_path / "b.wav"
    f.write_bytes(b"x")
    g.write_bytes(b"x")
    settler.touch(str(f))
    assert abs(settler.next_check() - EARLY_LOOK_SECONDS) < 1e-9   # closed: a look for early analysis
    clock.now += EARLY_LOOK_SECONDS
    assert settler.due() == []                  # unchanged: seen still once
    assert settler.next_check() == 0.5          # 1.8 s to go: the interval bounds the wait
    clock.now += 1.8 - EARLY_LOOK_SECONDS
    settler.touch(str(g), writing=True)         # written, not closed: 8 s to go
    assert abs(settler.next_check() - 0.2) < 1e-9
    clock.now += 0.2
    assert settler.due() == [str(f)]
    assert settler.next_check() == 0.5
    clock.now += 7.75                           # g was touched at +1.8 s and needs 8 s
    assert abs(settler.next_check() - 0.05) < 1e-9
    clock.now += 0.05
    assert settler.next_check() == MIN_CHECK_SECONDS   # due now: soon, but not at once
    assert settler.due() == [str(g)]


def test_rate_limiter_token_bucket(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    conn = _Connection(writer=None)
    allowed = sum(conn.allow() for _ in range(p.RATE_BURST + 100))
    assert allowed == p.RATE_BURST
    clock.now += 10.5 / p.RATE_PER_SECOND
    assert sum(conn.allow() for _ in range(100)) == 10


@pytest.fixture
def queue(tmp_path):
    conn = db.connect(tmp_path / "lib.db")
    yield JobQueue(Library(conn))
    conn.close()


def test_queue_claims_once_retries_with_backoff_then_fails(queue, tmp_path, monkeypatch):
    f = tmp_path / "bad.wav"
    f.write_bytes(b"junk")
    assert queue.enqueue([str(f), str(f)]) == 1
    assert queue.enqueue([str(f)]) == 0            # already queued: not duplicated
    for attempt in range(1, jobs_module.MAX_ATTEMPTS + 1):
        monkeypatch.setattr(time, "time", lambda: 10**10 + attempt * 1000)
        ready, _ = queue.claim(5)
        assert [j.attempts for j in ready] == [attempt]
        assert queue.claim(5) == ([], [])          # running: not handed out twice
        events, ids = queue.complete(ready[0], FileResult(str(f), FileStat.of(f), error="not audio"))
        assert events[0][0] == "item.failed" and ids == []
        assert events[0][1]["final"] is (attempt == jobs_module.MAX_ATTEMPTS)
    assert queue.counts() == {"queued": 0, "running": 0, "failed": 1}
    row = queue.library.location(str(f))
    assert row is not None and row.status == "failed"
    assert queue.enqueue([str(f)]) == 1             # retry: a fresh job replaces the failed one


def test_queue_requeues_running_jobs_after_a_crash(queue, tmp_path):
    f = tmp_path / "x.wav"
    f.write_bytes(b"junk")
    queue.enqueue([str(f)])
    ready, _ = queue.claim(1)
    assert queue.counts()["running"] == 1
    assert queue.library.requeue_running() == 1
    again, _ = queue.claim(1)
    assert again[0].attempts == 1                   # the interrupted attempt did not count


def test_queue_drops_jobs_for_vanished_files(queue, tmp_path):
    f = tmp_path / "y.wav"
    f.write_bytes(b"junk")
    queue.enqueue([str(f)])
    f.unlink()
    assert queue.claim(5) == ([], [])
    assert queue.counts() == {"queued": 0, "running": 0, "failed": 0}


def test_status_counts_only_jobs_a_worker_is_analysing_as_running(tmp_path):
    """One worker keeps a second job waiting behind the one it analyses; `djml status`
    said "2 running" with 1 worker. The waiting one is queued."""
    from djml import db
    from djml.config import Config
    from djml.daemon.service import Service

    config = Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data", workers=1)
    service = Service(config)
    conn = db.connect(config.db_path)
    conn.executemany("INSERT INTO jobs (path, state, created_at, updated_at) VALUES (?, ?, 'x', 'x')",
                     [("/a.wav", "running"), ("/b.wav", "running"), ("/c.wav", "queued")])
    service.read_conn = conn
    service.workers.in_flight = 2
    snapshot = service.queue_snapshot()
    assert (snapshot["running"], snapshot["queued"]) == (1, 2)


def test_an_exited_daemon_not_yet_reaped_counts_as_stopped():
    """In a container init reaps late: `daemon stop` waited for a zombie."""
    import subprocess
    import time

    from djml.daemon.main import _alive

    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    try:
        assert not _alive(child.pid)
    finally:
        child.wait()
    assert _alive(os.getpid())


def test_workers_warm_up_when_files_arrive_and_stop_when_none_come(tmp_path):
    """Settling files start the pool (its imports overlap the settle time); a warm pool
    that never gets a job stops after the idle period."""
    import asyncio

    from djml.config import Config
    from djml.daemon.workers import Workers

    async def scenario() -> tuple[bool, int, bool]:
        workers = Workers(Config(tmp_path / "config.toml", tmp_path / "data", workers=1), idle_seconds=0.5)
        workers.warm()
        started = workers.running
        processes = len(getattr(workers._pool, "_processes", None) or {})
        await asyncio.sleep(1.5)
        stopped = not workers.running
        workers.terminate()
        return started, processes, stopped

    started, processes, stopped = asyncio.run(scenario())
    assert started and processes == 1 and stopped


def test_warm_up_loads_what_a_worker_analyses_with():
    """Importing djml.analysis itself is light (results unpickle through it), so the
    warm-up has to load the analysis pipelines and decoders explicitly, in a fresh
    process as a spawned worker is."""
    import subprocess
    import sys

    code = ("import sys\nfrom djml.pipeline import warm_up\nwarm_up()\n"
            "print(all(m in sys.modules for m in ('djml.analysis.track', 'djml.analysis.sample', 'soundfile', 'soxr')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "True", proc.stdout + proc.stderr


# -- early analysis while files settle (djml.daemon.early) ----------------------------------


def _analysed(path, kind: str = "kick", seed: int = 0) -> FileResult:
    """A real worker result for a real one-shot at ``path``."""
    from djml import synth
    from djml.pipeline import Settings, process_file

    synth.write_wav(path, synth.one_shot(kind, seed=seed))
    result = process_file(str(path), "sample", Settings())
    assert result.error is None
    return result


def test_settler_offers_closed_still_files_once_per_stat(tmp_path):
    clock = Clock()
    settler = Settler(2.0, clock)
    closed, open_, empty = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    closed.write_bytes(b"xx")
    open_.write_bytes(b"xx")
    empty.write_bytes(b"")
    settler.touch(str(closed), writing=False)
    settler.touch(str(open_), writing=True)      # written, never closed: never early
    settler.touch(str(empty))
    assert settler.early() == []                 # no check yet: nothing seen still
    clock.now += EARLY_LOOK_SECONDS
    settler.due()
    assert settler.early() == [(str(closed), FileStat.of(closed))]
    assert settler.early() == []                 # once per stat
    with open(closed, "ab") as out:              # rewritten while settling
        out.write(b"more")
    settler.touch(str(closed), writing=True)
    settler.closed(str(closed))
    clock.now += EARLY_LOOK_SECONDS
    settler.due()                                # the stat moved: not still yet
    assert settler.early() == []
    clock.now += EARLY_LOOK_SECONDS
    settler.due()
    assert settler.early() == [(str(closed), FileStat.of(closed))]   # the new bytes, offered again
    clock.now += 10
    assert sorted(settler.due()) == sorted(map(str, (closed, open_, empty)))
    assert settler.early() == []


def test_early_work_decides_store_wait_or_queue(tmp_path):
    from djml.daemon.early import EarlyWork

    f = tmp_path / "a.wav"
    result = _analysed(f)
    st = FileStat.of(f)
    early = EarlyWork(limit=2)
    assert early.settled(str(f)) == ("queue", None)          # never offered
    assert early.offer(str(f), st) and early.offer("/b.wav", st)
    assert not early.offer("/c.wav", st)                       # the limit
    assert early.start(1) == [(str(f), st)]
    assert early.settled("/b.wav") == ("queue", None)          # not started: the job queue has it
    assert early.finished(str(f), st, result) == (None, None)  # held until it settles
    assert early.status() == {"used": 0, "redone": 0, "pending": 0, "held": 1}
    assert early.settled(str(f)) == ("store", result)
    assert len(early) == 0

    early.offer(str(f), st)
    early.start(5)
    assert early.settled(str(f)) == ("wait", None)             # settled while analysing
    assert early.finished(str(f), st, result) == ("store", result)
    early.offer(str(f), st)
    early.start(5)
    assert early.settled(str(f)) == ("wait", None)
    assert early.finished(str(f), st, None) == ("queue", None)  # no worker: the ordinary way

    early.offer(str(f), st)
    early.start(5)
    newer = FileStat(st.size + 1, st.mtime_ns + 1, st.inode, st.device)
    early.offer(str(f), newer)                                  # changed while its analysis ran
    assert early.finished(str(f), st, result) == (None, None)
    assert early.redone == 1
    early.forget(str(f))
    early.offer("/d.wav", st)
    early.prune(lambda path: False)                             # stopped settling unsettled
    assert len(early) == 0


def test_an_early_result_is_usable_only_for_the_bytes_it_read(tmp_path):
    from djml.daemon.early import usable

    f = tmp_path / "a.wav"
    result = _analysed(f)
    assert usable(result, FileStat.of(f))
    _analysed(f, "snare", seed=3)                              # rewritten after the analysis
    assert not usable(result, FileStat.of(f))
    assert not usable(result, None)
    failed = FileResult(str(f), FileStat.of(f), error="not audio")
    assert not usable(failed, FileStat.of(f))


def test_store_early_stores_unchanged_files_and_queues_changed_ones(queue, tmp_path):
    same, changed = tmp_path / "same.wav", tmp_path / "changed.wav"
    kept, stale = _analysed(same, seed=1), _analysed(changed, seed=2)
    new_bytes = _analysed(tmp_path / "other.wav", "clap", seed=9)
    os.replace(tmp_path / "other.wav", changed)                # renamed over it: another inode
    events, ids, stored, queued = queue.store_early([kept, stale])
    assert (stored, queued) == (1, 1)
    assert [name for name, _ in events] == ["item.added"] and len(ids) == 1
    assert queue.library.location(str(changed)) is None        # nothing stored for it
    ready, _ = queue.claim(5)
    assert [job.path for job in ready] == [str(changed)]       # analysed again, the ordinary way
    row = queue.library.conn.execute("SELECT audio_hash FROM items").fetchall()
    assert [r[0] for r in row] == [kept.analysis.audio_hash]
    assert new_bytes.analysis.audio_hash != stale.analysis.audio_hash


def test_store_early_skips_a_file_the_library_already_holds_as_it_is(queue, tmp_path):
    f = tmp_path / "a.wav"
    result = _analysed(f, seed=4)
    assert queue.store_early([result])[2:] == (1, 0)
    assert queue.store_early([result]) == ([], [], 0, 0)    # a job stored it first: no second event
    assert queue.claim(5) == ([], [])


def test_derived_retries_are_bounded_and_reset_by_a_success():
    from djml.daemon.derived import RETRY_SECONDS, DerivedWork

    work = DerivedWork()
    work.failed(["predicting 3 item(s) failed: OSError: model file is being replaced"])
    assert work.retry_wanted
    delays = [work.next_retry() for _ in RETRY_SECONDS]
    assert delays == list(RETRY_SECONDS) and not work.retry_wanted
    assert work.next_retry() is None          # spent: the next start's back-fill tries again
    work.failed([])                            # a batch without errors
    assert work.status()["errors"] == [] and work.next_retry() == RETRY_SECONDS[0]


def test_items_whose_predictions_failed_are_back_filled_again_without_a_restart(tmp_path, monkeypatch):
    """A model that did not load (e.g. replaced mid-read) used to leave its items without
    predictions until the daemon restarted."""
    import asyncio
    from types import SimpleNamespace

    from djml.config import Config
    from djml.daemon import derived, service as service_module
    from djml.daemon.service import Service

    calls: list[list[int]] = []

    def after_store(library, config, item_ids, embed_text=False):  # noqa: ANN001, ANN202
        calls.append(list(item_ids))
        errors = ["predicting 2 item(s) failed: OSError: truncated model"] if len(calls) < 3 else []
        return SimpleNamespace(errors=errors, predictions=[])

    monkeypatch.setattr(service_module, "after_store", after_store)
    monkeypatch.setattr(service_module, "pending", lambda library, embed_text=False: [] if len(calls) >= 3 else [1, 2])
    monkeypatch.setattr(service_module, "HOOK_BATCH_DELAY", 0.01)
    monkeypatch.setattr(derived, "RETRY_SECONDS", (0.05, 0.05, 0.05, 0.05))
    service = Service(Config(config_path=tmp_path / "c.toml", data_dir=tmp_path / "data", workers=1))
    service.library = object()

    async def run() -> None:
        loop_task = asyncio.create_task(service._hook_loop())
        service.derived.add([1, 2])
        service._hook_wake.set()
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)                # no retry after the success
        loop_task.cancel()

    asyncio.run(run())
    assert calls == [[1, 2], [1, 2], [1, 2]]
    assert service.derived.status()["errors"] == [] and service.derived.retries == 0
