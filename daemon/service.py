"""The daemon's orchestration: folder events → job queue → workers → library → events.

What clients ask is answered by the handlers in :mod:`djml.daemon.handlers` (one table,
method → handler); this module owns the running state they work on and the loops that keep
the library current.

Threads, and why: the event loop never touches SQLite. All writes run on ONE writer thread
(the only writer of the library while the daemon runs, via :class:`djml.library.Library`),
so writes happen in a single order and a slow hook (a model loading) never stalls the
socket. Reads for clients run on a reader thread with a read-only connection (WAL lets it
read while the writer writes). Training gets its own thread and connection, because it
may take minutes and must not hold up storing analysed files.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from djml import db, tagtemps
from djml import protocol as p
from djml.config import Config
from djml.confine import data_dir_refusal
from djml.library import Library
from djml.models.embedder import EMBEDDER
from djml.models.enrich import after_store, pending
from djml.pipeline import FileResult, FileStat
from djml.scan import plan, record_problems, walk

from .derived import DerivedWork
from .early import EarlyWork
from .jobs import MAX_ATTEMPTS, Event, Job, JobQueue
from .listing import new_cache
from .resources import Backoff, reason_in_text, resource_reason
from .roots import CHECK_SECONDS as ROOT_CHECK_SECONDS
from .roots import RootWatch, identities
from .monitor import Monitor
from .readcache import ANSWERS_KEPT, ReadCache
from .watcher import FsEvent, Settler, Watcher, is_audio, under
from .workers import CRASHED, SUSPECT, make_workers

log = logging.getLogger(__name__)

HOOK_BATCH_DELAY = 0.3      # gather analysed items this long before one predict/index call
HOOK_RETRY_SECONDS = 5.0   # after a failed predict/index batch (disk full …)
HOOK_DEFER_MAX = 2.0        # while a burst is analysed, predictions wait at most this long
PROGRESS_INTERVAL = 0.5     # at most this many seconds between queue.progress events
SHUTDOWN_GRACE = 3.0        # SIGTERM: wait this long for running analyses, then re-queue them
THROUGHPUT_WINDOW = 60.0
RECENT_EVENTS = 200         # events.recent: what a client that just connected missed
EARLY_STORE_BATCH = 8       # early results stored per writer call


class Service:
    def __init__(self, config: Config, emit: Callable[[str, dict[str, Any]], None] | None = None):
        self.config = config
        self.emit = emit or (lambda name, data: None)
        self.started = time.time()
        self._t0 = time.monotonic()
        self.settler = Settler(config.settle_seconds)
        self.workers = make_workers(config)
        EMBEDDER.idle_seconds = config.text_model_idle_seconds
        self.watched: list[Path] = []
        self.processed = 0
        self.failed = 0
        self.closing = False
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="djml-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="djml-reader")
        self._trainer = ThreadPoolExecutor(1, thread_name_prefix="djml-trainer")
        self.library: Library | None = None
        self.queue: JobQueue | None = None
        self.read_conn = None
        self._watcher: Watcher | None = None
        self._wake = asyncio.Event()
        self._settle_wake = asyncio.Event()
        self._hook_wake = asyncio.Event()
        self.derived = DerivedWork()
        self._derived_retry: asyncio.Task | None = None
        self.early = EarlyWork()
        self._early_tasks: set[asyncio.Task] = set()
        self._early_storing = 0           # _store_early calls under way
        self.backoff = Backoff()
        self._held: list[Job] = []        # claimed jobs a resource error sent back
        self.roots = RootWatch({})
        self._done_times: deque[float] = deque()
        self._jobs: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()
        self._progress_due = False
        self.training: set[str] = set()   # tasks being retrained now
        self._allowed = [os.path.realpath(r) for r in (*config.roots, config.data_dir)]
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.monitor = Monitor(self)        # drift checks and scheduled retraining
        self.lines = new_cache()            # rendered `djml ls` listings (djml.daemon.listing)
        self.answers = ReadCache(ANSWERS_KEPT)   # recommendations (djml.daemon.handlers.recommend)
        self.fingerprints = ReadCache(1)         # what the similarity indexes must hold, ditto

    def remember(self, name: str, data: dict[str, Any]) -> None:
        """Keep an event for ``events.recent`` (not the twice-a-second queue counts)."""
        if name != "queue.progress":
            self.recent.append({"event": name, "data": data, "at": time.time()})

    # -- threads ---------------------------------------------------------------------------

    def write(self, fn: Callable, *args: Any) -> asyncio.Future:
        """Run ``fn`` on the writer thread. Submission order is execution order."""
        return asyncio.get_running_loop().run_in_executor(self._writer, functools.partial(fn, *args))

    def read(self, fn: Callable, *args: Any) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(self._reader, functools.partial(fn, *args))

    def spawn(self, coro: Coroutine, into: set[asyncio.Task] | None = None) -> asyncio.Task:
        bucket = self._background if into is None else into
        task = asyncio.get_running_loop().create_task(coro)
        bucket.add(task)
        task.add_done_callback(self._task_done(bucket))
        return task

    @staticmethod
    def _task_done(bucket: set[asyncio.Task]) -> Callable[[asyncio.Task], None]:
        def done(task: asyncio.Task) -> None:
            bucket.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("background task failed", exc_info=task.exception())
        return done

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        requeued = await self.write(self._open_writer)
        if requeued:
            log.info("re-queued %d job(s) interrupted by the last shutdown or crash", requeued)
        if leftovers := await self.write(tagtemps.sweep, self.config.data_dir):
            log.info("deleted %d copy(ies) a killed `tags write` left behind", len(leftovers))
        self.read_conn = await self.read(db.connect_readonly, self.config.db_path)
        loop = asyncio.get_running_loop()
        # Watch first, then reconcile: a file changed in between is seen by both, never by neither.
        self._watcher = Watcher(self.config.roots, self.config.polling, loop, self.on_fs_event)
        self.watched = await loop.run_in_executor(None, self._watcher.start)
        self.roots.seen = await loop.run_in_executor(None, identities, list(self.config.roots))
        for loop_coro in (self._dispatch(), self._settle_loop(), self._hook_loop(), self._progress_loop(),
                          self._roots_loop()):
            self.spawn(loop_coro)
        self.spawn(self._reconcile_at_start())
        self.spawn(self.backfill_derived())
        self.spawn(self._warm_recommender())
        self.spawn(self.monitor.run())

    async def _warm_recommender(self) -> None:
        """Import the ranker and load the similarity indexes once at start-up, so the first
        `djml recommend` answers as fast as the rest (cold, it costs ~0.25 s)."""

        def warm() -> None:
            from djml.models.recommend import load_indexes

            load_indexes(self.read_conn, self.config)

        try:
            await self.read(warm)
        except Exception:  # only a warm-up: the first request will load what it needs
            log.exception("warming the recommender failed")

    async def _preload_models(self) -> None:
        """Load the active models on the reader thread while files settle, so the first
        predictions after a burst do not load them on the writer (stores would wait)."""
        from djml.models import registry

        try:
            await self.read(registry.preload, self.read_conn)
        except Exception:   # only a warm-up: the first prediction loads what it needs, and says why not
            log.exception("preloading the models failed")

    def _open_writer(self) -> int:
        conn = db.connect(self.config.db_path)
        try:
            db.check_integrity(conn, self.config.db_path)   # refuse to start on a damaged file
        except Exception:
            conn.close()
            raise
        self.library = Library(conn)
        self.queue = JobQueue(self.library, backoff_seconds=max(0.5, 2 * self.config.settle_seconds))
        return self.library.requeue_running()

    async def stop(self) -> None:
        """Stop watching, give running analyses SHUTDOWN_GRACE seconds, re-queue the rest."""
        self.closing = True
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
        self._wake.set()
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=SHUTDOWN_GRACE)
        self.workers.terminate()
        for task in [*self._jobs, *self._early_tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._jobs, *self._early_tasks, *self._background, return_exceptions=True)
        requeued = await self.write(self._close_writer)
        if requeued:
            log.info("re-queued %d unfinished job(s) for the next start", requeued)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=False, cancel_futures=True)
        self._trainer.shutdown(wait=False, cancel_futures=True)

    def _close_writer(self) -> int:
        assert self.library is not None
        requeued = self.library.requeue_running()
        self.library.conn.close()
        return requeued

    # -- folders → queue -------------------------------------------------------------------

    async def _roots_loop(self) -> None:
        """Watch again a folder that was deleted and re-created, or a drive mounted on
        its mount point (see :mod:`djml.daemon.roots`), and scan what came back."""
        loop = asyncio.get_running_loop()
        while not self.closing:
            await asyncio.sleep(ROOT_CHECK_SECONDS)
            now = await loop.run_in_executor(None, identities, list(self.config.roots))
            moved = self.roots.poll(now)
            if not moved or self.closing:
                continue
            log.info("folder(s) %s appeared, vanished or were replaced: watching again",
                     ", ".join(map(str, moved)))
            try:
                await self.rewatch()
                back = [root for root in moved if now[root] is not None]
                if back:
                    await self.scan(back)
            except Exception as exc:
                log.warning("re-watching %s failed: %s", ", ".join(map(str, moved)), exc)

    async def _reconcile_after_pause(self) -> None:
        """Folder events and predictions that arrived while the disk was full may not have
        been stored: compare the folders with the library once more (stat only, as at
        start) and compute missing derived data."""
        try:
            await self.scan(list(self.watched))
            await self.backfill_derived()   # predictions a full disk refused
        except Exception as exc:
            log.warning("re-checking the folders after a pause failed: %s", exc)

    async def _reconcile_at_start(self) -> None:
        """What changed while the daemon was down, judged by stat data only."""
        t0 = time.monotonic()
        events, young, summary = await self.write(self._reconcile, list(self.watched))
        self._emit_all(events)
        for path in young:
            self.settler.touch(path)
        self._settle_wake.set()
        self._wake.set()
        log.info("start-up reconcile in %.1f s: %s", time.monotonic() - t0, summary)

    def _reconcile(self, roots: list[Path], guard: bool = True) -> tuple[list[Event], list[str], dict[str, Any]]:
        library, queue = self.library, self.queue
        assert library is not None and queue is not None
        work = plan(library, roots, self.workers.settings.allowed_roots, guard_roots=guard)
        self.roots.note(roots, work.paused)
        record_problems(library, work)
        events: list[Event] = []
        for path in work.reactivated:
            library.record_move(path, path, work.found[path])
        for old, new in work.renamed:
            item_id = library.record_move(old, new, work.found[new])
            events.append(("item.updated", {"item_id": item_id, "path": new, "old_path": old, "outcome": "moved"}))
        vanished = [path for path, loc in work.vanished.items() if loc.status == "ok" and not os.path.exists(path)]
        events += self._gone(vanished)
        library.forget_failed(path for path, loc in work.vanished.items() if loc.status == "failed")
        # Files older than the settle time are finished; younger ones may still be copying.
        cutoff = time.time_ns() - int(self.config.settle_seconds * 1e9)
        old_enough = [path for path in work.candidates if work.found[path].mtime_ns <= cutoff]
        young = [path for path in work.candidates if work.found[path].mtime_ns > cutoff]
        queue.enqueue(old_enough)
        for path, reason in work.problems:
            log.warning("cannot read %s: %s", path, reason)
        summary = {"unchanged": len(work.unchanged) + len(work.reactivated), "moved": len(work.renamed),
                   "missing": len(vanished), "queued": len(old_enough), "settling": len(young),
                   "stale": len(work.stale), "paused": sorted(work.paused)}
        return events, young, summary

    def on_fs_event(self, event: FsEvent) -> None:
        """A watchdog event, on the loop. Library changes are submitted to the writer at
        once, so they apply in the order the file system reported them."""
        if self.closing:
            return
        kind, src, dest, is_dir = event
        if kind in ("created", "modified", "closed"):
            if is_dir:
                self.spawn(self._touch_tree(src))  # a folder moved in or copied in
            elif is_audio(src):
                self.settler.touch(src, writing={"created": None, "modified": True, "closed": False}[kind])
                self._settle_wake.set()
        elif kind == "deleted":
            self.early.forget(src)
            if is_dir and src.rstrip("/") in {str(r).rstrip("/") for r in self.config.roots}:
                self.roots.lost(src.rstrip("/"))   # a whole configured folder (or its drive) went away
            elif is_dir:
                self.settler.discard_under(src)
                self.early.prune(self.settler.__contains__)
                self._after_write(self.write(self._gone_folder, src))
            elif is_audio(src):
                self.settler.discard(src)
                self._after_write(self.write(self._gone_files, [src]))
        elif kind == "moved":
            self.early.forget(src)
            inside = bool(dest) and self.allowed_root(dest)
            if is_dir:
                if inside:
                    self.settler.rename(src, dest)
                else:
                    self.settler.discard_under(src)
                self.early.prune(self.settler.__contains__)
                self._after_write(self.write(self._moved_folder, src, dest if inside else None))
            else:
                was_pending = self.settler.discard(src)
                if inside and is_audio(dest):
                    self._after_write(self.write(self._moved_file, src, dest, was_pending))
                elif is_audio(src):
                    self._after_write(self.write(self._gone_files, [src]))

    def _after_write(self, future: asyncio.Future) -> None:
        async def finish() -> None:
            events, touch = await future
            self._emit_all(events)
            for path in touch:
                self.settler.touch(path)
            if touch:
                self._settle_wake.set()
        self.spawn(finish())

    async def _touch_tree(self, folder: str) -> None:
        loop = asyncio.get_running_loop()
        paths = await loop.run_in_executor(None, lambda: [x for x in walk([Path(folder)]) if isinstance(x, str)])
        for path in paths:
            self.settler.touch(path)
        self._settle_wake.set()

    # The _gone/_moved helpers run on the writer thread and return (events, paths to settle).

    def _gone(self, paths: list[str]) -> list[Event]:
        library = self.library
        assert library is not None
        library.drop_jobs(paths)
        known = [loc for loc in map(library.location, paths) if loc is not None]
        present = [loc for loc in known if loc.status == "ok"]
        library.forget_failed(loc.path for loc in known if loc.status == "failed")
        if not present:
            return []
        library.mark_missing(loc.path for loc in present)
        item_ids = sorted({loc.item_id for loc in present if loc.item_id is not None})
        orphans = [
            i for i in item_ids
            if not library.conn.execute(
                "SELECT 1 FROM locations WHERE item_id = ? AND status = 'ok'", (i,)).fetchone()
        ]
        if orphans:
            from djml import index

            try:
                index.remove_items(library.conn, self.config, orphans)
            except Exception:  # the index is a rebuildable cache: never fail the store for it
                log.exception("index remove_items failed")
        return [("item.missing", {"paths": [loc.path for loc in present], "item_ids": item_ids})]

    def _gone_files(self, paths: list[str]) -> tuple[list[Event], list[str]]:
        return self._gone([path for path in paths if not os.path.lexists(path)]), []

    def jobs_under(self, folder: str) -> list[str]:
        assert self.library is not None
        prefix = folder.rstrip("/") + "/"
        rows = self.library.conn.execute(
            "SELECT path FROM jobs WHERE state = 'queued' AND substr(path, 1, ?) = ?", (len(prefix), prefix))
        return [row[0] for row in rows]

    def _gone_folder(self, folder: str) -> tuple[list[Event], list[str]]:
        assert self.library is not None
        known = list(self.library.locations_under([Path(folder)]))
        return self._gone_files(sorted({*known, *self.jobs_under(folder)}))

    def _moved_file(self, src: str, dest: str, was_pending: bool) -> tuple[list[Event], list[str]]:
        library = self.library
        assert library is not None
        try:
            st = FileStat.of(dest)
        except OSError:
            return self._gone_files([src])
        had_job = library.drop_jobs([src]) > 0
        loc = library.location(src)
        if loc is None or loc.item_id is None or loc.status == "failed":
            if loc is not None:
                library.forget_failed([src])
            return [], [dest]  # e.g. a download renamed from .part: analyse it
        item_id = library.record_move(src, dest, st)
        events = [("item.updated", {"item_id": item_id, "path": dest, "old_path": src, "outcome": "moved"})]
        return events, [dest] if had_job or was_pending else []

    def _moved_folder(self, src: str, dest: str | None) -> tuple[list[Event], list[str]]:
        assert self.library is not None
        paths = sorted({*self.library.locations_under([Path(src)]), *self.jobs_under(src)})
        if dest is None:
            return self._gone_files(paths)
        events: list[Event] = []
        touch: list[str] = []
        for path in paths:
            more_events, more_touch = self._moved_file(path, dest + path[len(src):], False)
            events += more_events
            touch += more_touch
        return events, touch

    async def _settle_loop(self) -> None:
        while True:
            if not len(self.settler):
                self._settle_wake.clear()
                await self._settle_wake.wait()
                continue
            if not self.closing:   # files are settling: have workers (and models) ready when they are due
                if not self.workers.running:
                    self.spawn(self._preload_models())
                self.workers.warm()
            await asyncio.sleep(self.settler.next_check())
            ready = self.settler.due()
            if self.closing:
                continue
            to_queue = self._settled_early(ready)   # before the offers: they forget what left the settler
            self._offer_early()
            if to_queue:
                await self._queue_settled(to_queue)
            if ready:
                self._progress_due = True

    async def _queue_settled(self, paths: list[str]) -> None:
        """Queue settled files for analysis; on a resource error (disk full) they settle
        again later, and one bad batch never stops the loop."""
        assert self.queue is not None
        try:
            await self.write(self.queue.enqueue, paths)
            if self.backoff.clear():
                self.spawn(self._reconcile_after_pause())
        except Exception as exc:
            if reason := resource_reason(exc):
                self.backoff.hit(reason)
                for path in paths:
                    self.settler.touch(path)
                self._settle_wake.set()
                await asyncio.sleep(self.backoff.wait())
                return
            log.exception("queueing %d settled file(s) failed; trying them one by one", len(paths))
            for path in paths:
                try:
                    await self.write(self.queue.enqueue, [path])
                except Exception as exc:
                    log.error("cannot queue %s: %s", path, exc)
        self._wake.set()

    # -- early analysis while files settle (djml.daemon.early) ------------------------------

    def _offer_early(self) -> None:
        offered = [self.early.offer(path, st) for path, st in self.settler.early()]
        if any(offered):
            self._wake.set()   # the dispatcher starts them on free workers
        self.early.prune(self.settler.__contains__)

    def _settled_early(self, ready: list[str]) -> list[str]:
        """Split settled files: held early results are stored (spawned), files whose early
        analysis still runs wait for it; returns the files to queue the ordinary way."""
        to_queue, to_store = [], []
        for path in ready:
            what, result = self.early.settled(path)
            if what == "store":
                assert result is not None
                to_store.append(result)
            elif what == "queue":
                to_queue.append(path)
        if to_store:
            self.spawn(self._store_early(to_store))
        return to_queue

    def _start_early(self, free: int) -> None:
        for path, st in self.early.start(free):
            self.spawn(self._run_early(path, st), self._early_tasks)

    async def _run_early(self, path: str, stat: FileStat) -> None:
        result: FileResult | None = None
        try:
            # a file the library holds as it is (moved while a job waited, touched without
            # a change) is settled without reading audio, by the job queue (JobQueue.claim)
            if not await self.read(self._stored_as_is, path, stat):
                result = await self.workers.analyse(path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # no worker could start (EMFILE …): the ordinary way says why
            log.debug("early analysis of %s not run: %s", path, exc)
        self._wake.set()           # a worker is free again
        what, held = self.early.finished(path, stat, result)
        if what == "store":
            assert held is not None
            await self._store_early([held])
        elif what == "queue":
            await self._queue_settled([path])

    def _stored_as_is(self, path: str, stat: FileStat) -> bool:
        """On the reader thread: the library already holds ``path`` with this stat."""
        row = self.read_conn.execute(
            "SELECT size, mtime_ns, inode, item_id, status FROM locations WHERE path = ?", (path,)).fetchone()
        return (row is not None and row["item_id"] is not None and row["status"] == "ok"
                and (row["size"], row["mtime_ns"], row["inode"]) == (stat.size, stat.mtime_ns, stat.inode))

    async def _store_early(self, results: list[FileResult]) -> None:
        """Store settled files' early results through the writer, a few per call so their
        events go out as they are stored and other writes (claims) are not held up. The
        writer checks each file's stat once more (:meth:`JobQueue.store_early`)."""
        assert self.queue is not None
        self._early_storing += 1
        try:
            await self._store_early_batches(results)
        finally:
            self._early_storing -= 1

    async def _store_early_batches(self, results: list[FileResult]) -> None:
        assert self.queue is not None
        for start in range(0, len(results), EARLY_STORE_BATCH):
            batch = results[start:start + EARLY_STORE_BATCH]
            try:
                events, item_ids, used, queued = await self.write(self.queue.store_early, batch)
            except Exception as exc:   # e.g. disk full: settle them again (then analysed the ordinary way)
                self._resource_error(exc, "storing early analyses")
                for result in results[start:]:
                    self.settler.touch(result.path)
                self._settle_wake.set()
                return
            self.early.used += used
            self.early.redone += queued
            self.processed += used
            now = time.monotonic()
            self._done_times.extend([now] * used)
            self._emit_all(events)
            if item_ids:
                self.derived.add(item_ids)
                self._hook_wake.set()
            if queued:
                self._wake.set()
            self._progress_due = True

    # -- queue → workers → library ---------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self.closing:
            self._wake.clear()
            timeout = self.backoff.wait() or None
            if timeout is None:
                try:
                    timeout = await self._claim_and_start()
                except Exception as exc:   # e.g. disk full while claiming: pause, never stop
                    self._resource_error(exc, "claiming jobs")
                    timeout = self.backoff.wait()
            if self.closing:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _claim_and_start(self) -> float | None:
        """Start due jobs on free workers; returns how long to wait for the next due one."""
        queue = self.queue
        assert queue is not None
        if self._held:
            held, self._held = self._held, []
            try:
                await self.write(self.library.release_jobs, [job.id for job in held])
            except Exception:
                self._held = held + self._held
                raise
        free = self.workers.capacity - self.workers.in_flight
        if free <= 0:
            return None  # woken when a job completes
        jobs, events = await self.write(queue.claim, free)
        self._emit_all(events)
        if not jobs and not self._jobs and self.backoff.clear():
            self.spawn(self._reconcile_after_pause())   # nothing waits on the resource any more
        for job in jobs:
            self.spawn(self._run(job), self._jobs)
        self._start_early(free - len(jobs))   # what the queue leaves free: files still settling
        if len(jobs) < free:
            next_due = await self.write(queue.next_due)
            if next_due is not None:
                return max(0.05, next_due - time.time())
        return None

    def _resource_error(self, exc: BaseException, doing: str) -> None:
        reason = resource_reason(exc)
        if reason is None:
            reason = f"{type(exc).__name__}: {exc}"
            if self.backoff.reason != reason:
                log.error("%s failed unexpectedly; pausing and retrying", doing, exc_info=exc)
        self.backoff.hit(reason)

    async def _analyse(self, job: Job) -> tuple[Job, Any]:
        """The worker result for ``job``; a file that was in flight when a worker died is
        analysed again alone, and only a crash alone fails it (at once: a crash is no
        file still being copied)."""
        result = await self.workers.analyse(job.path)
        if result.error == SUSPECT:
            result = await self.workers.alone(job.path)
            if result.error == CRASHED:
                job = Job(job.id, job.path, max(job.attempts, MAX_ATTEMPTS))
        return job, result

    async def _run(self, job: Job) -> None:
        assert self.queue is not None
        try:
            job, result = await self._analyse(job)
            reason = reason_in_text(result.error)
            if reason is not None:   # the machine, not the file: pause, keep the job
                self.backoff.hit(reason)
                self._held.append(job)
                self._wake.set()
                return
            events, item_ids = await self.write(self.queue.complete, job, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._resource_error(exc, f"analysing {job.path}")
            self._held.append(job)
            self._wake.set()
            return
        if self.backoff.clear():
            self.spawn(self._reconcile_after_pause())
        now = time.monotonic()
        self._done_times.append(now)
        while self._done_times and now - self._done_times[0] > THROUGHPUT_WINDOW:
            self._done_times.popleft()
        if result.error is None:
            self.processed += 1
        elif any(data.get("final") for _, data in events):
            self.failed += 1
        self._emit_all(events)
        if item_ids:
            self.derived.add(item_ids)
            self._hook_wake.set()
        self._progress_due = True
        self._wake.set()

    # -- models and index after each store -------------------------------------------------

    async def backfill_derived(self) -> None:
        """Every item an earlier run left without predictions or text vector (a kill
        between storing and predicting, or between activating a model and re-predicting),
        and, after a model change, every item that model has not predicted yet."""
        ids = await self.write(lambda: pending(self.library, embed_text=self.config.embed_text))
        if ids:
            log.info("computing missing predictions/vectors of %d item(s)", len(ids))
            self.derived.add(ids)
            self._hook_wake.set()

    async def _hook_loop(self) -> None:
        while True:
            await self._hook_wake.wait()
            await asyncio.sleep(HOOK_BATCH_DELAY)
            deadline = time.monotonic() + HOOK_DEFER_MAX
            while self._burst_running() and time.monotonic() < deadline:
                await asyncio.sleep(HOOK_BATCH_DELAY / 4)
            self._hook_wake.clear()
            while ids := self.derived.take():
                try:
                    self._emit_all(await self.write(self._run_hooks, ids))
                except Exception as exc:   # e.g. disk full: keep the ids, try again later
                    self.derived.add(ids)
                    self.derived.failed([resource_reason(exc) or f"{type(exc).__name__}: {exc}"])
                    await asyncio.sleep(HOOK_RETRY_SECONDS)
            if self.derived.retry_wanted:
                self._retry_derived_later()

    def _retry_derived_later(self) -> None:
        """Items whose predictions, text vector or index entry failed (their errors are in
        ``status``) are back-filled again after a while, a few times, rather than only at
        the next start: a model that failed to load because it was being replaced loads
        on the next try."""
        if self._derived_retry is not None and not self._derived_retry.done():
            self.derived.retry_wanted = False
            return
        delay = self.derived.next_retry()
        if delay is None:
            log.warning("derived data still failing after %d retries: the next start tries again",
                        self.derived.retries)
            return
        log.info("retrying the failed predictions/vectors in %.0f s", delay)
        self._derived_retry = self.spawn(self._backfill_after(delay))

    async def _backfill_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.backfill_derived()

    def _burst_running(self) -> bool:
        """Files held for early analysis or being analysed: predictions wait for them (up to
        HOOK_DEFER_MAX), because they run on the writer and every store and claim of the
        burst would wait behind them; afterwards one batch predicts them all."""
        return bool(len(self.early) or self._jobs or self._early_storing)

    def _run_hooks(self, item_ids: list[int]) -> list[Event]:
        library = self.library
        assert library is not None
        events: list[Event] = []
        done = after_store(library, self.config, item_ids, embed_text=self.config.embed_text)
        self.derived.failed(done.errors)
        unsure = sorted({pr["item_id"] for pr in done.predictions if pr.get("unsure")})
        if unsure:
            events.append(("review.changed", {"item_ids": unsure}))
        return events

    # -- events ----------------------------------------------------------------------------

    def _emit_all(self, events: list[Event]) -> None:
        for name, data in events:
            self.emit(name, data)

    async def _progress_loop(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            if self._progress_due:
                self._progress_due = False
                self.emit("queue.progress", await self.read(self.queue_snapshot))

    def queue_snapshot(self) -> dict[str, Any]:
        rows = self.read_conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = {"queued": 0, "running": 0, "failed": 0}
        counts.update({state: n for state, n in rows if state in counts})
        # A worker keeps one job waiting behind the one it analyses (Workers.capacity), and
        # both are 'running' in the jobs table; only as many as there are workers really run.
        analysing = min(counts["running"], self.workers.in_flight, self.workers.size)
        counts["queued"] += counts["running"] - analysing
        counts["running"] = analysing
        return {**counts, "settling": len(self.settler), "in_flight": self.workers.in_flight,
                "early": self.early.status(),
                "done": self.processed, "failures": self.failed,
                "files_per_second": round(self.throughput(), 3)}

    def throughput(self) -> float:
        now = time.monotonic()
        recent = [t for t in self._done_times if now - t <= THROUGHPUT_WINDOW]
        span = min(THROUGHPUT_WINDOW, max(now - self._t0, 1e-3))
        return len(recent) / span

    # -- paths from clients ----------------------------------------------------------------

    def allowed_root(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(under(real, root) for root in self._allowed)

    def checked_path(self, path: str) -> str:
        """An absolute client path of music to scan or retry: inside the configured
        folders, never in the data dir, else forbidden."""
        if not os.path.isabs(path):
            raise p.ProtocolError(p.INVALID_PARAMS, f"path must be absolute: {path!r}")
        if reason := data_dir_refusal(path, self.config.data_dir):
            raise p.ProtocolError(p.FORBIDDEN, reason)
        if not self.allowed_root(path):
            raise p.ProtocolError(p.FORBIDDEN, f"{path} is outside the configured folders")
        return os.path.abspath(path)

    # -- status ----------------------------------------------------------------------------

    def warnings(self) -> list[str]:
        """What `djml status` must tell the user: work that is held up, and why."""
        found = [f"derived data: {error}" for error in self.derived.status()["errors"]]
        if paused := self.backoff.warning():
            found.insert(0, paused)
        return found + self.roots.warnings()

    # -- what request handlers ask of the running service ----------------------------------

    async def scan(self, targets: list[Path], guard: bool = True) -> dict[str, Any]:
        """Compare ``targets`` with the library now (stat only) and queue what changed."""
        events, young, summary = await self.write(self._reconcile, targets, guard)
        self._emit_all(events)
        for path in young:
            self.settler.touch(path)
        self._settle_wake.set()
        self._wake.set()
        self._progress_due = True
        return summary

    async def enqueue(self, paths: list[str]) -> int:
        """Queue ``paths`` for analysis now (no settling); returns how many were added."""
        assert self.queue is not None
        added = await self.write(self.queue.enqueue, paths)
        self._wake.set()
        return added

    async def rewatch(self) -> None:
        """The configured folders changed (djml folders add/remove): watch the new set."""
        from djml.pipeline import Settings

        loop = asyncio.get_running_loop()
        self._allowed = [os.path.realpath(r) for r in (*self.config.roots, self.config.data_dir)]
        self.workers.settings = Settings.from_config(self.config)   # what a worker may read
        if self._watcher is not None:
            await loop.run_in_executor(None, self._watcher.stop)
        self._watcher = Watcher(self.config.roots, self.config.polling, loop, self.on_fs_event)
        self.watched = await loop.run_in_executor(None, self._watcher.start)

    async def forget_folder(self, folder: str) -> int:
        """A folder left the configuration: stop settling its files and drop its queued
        jobs; returns how many jobs were dropped."""
        self.settler.discard_under(folder)
        self.early.prune(self.settler.__contains__)
        return await self.write(lambda: self.library.drop_jobs(self.jobs_under(folder)))

    def start_training(self, task: str) -> None:
        """Retrain ``task`` in the background (after `retrain_after` new labels), once."""
        if task not in self.training:
            self.training.add(task)  # at once: two quick labels must not start two trainings
            self.spawn(self._auto_train(task))

    async def _auto_train(self, task: str) -> None:
        """Retraining after `retrain_after` new labels; failures are logged, not raised."""
        await self.monitor.train(task, f"labels: at least {self.config.retrain_after} new")

    async def run_long(self, run: Callable[[Library], Any]) -> Any:
        """A long action (training) on the trainer thread with a connection of its own, so
        storing analysed files goes on meanwhile (WAL: one commit at a time, in order)."""
        def on_own_connection() -> Any:
            conn = db.connect(self.config.db_path)
            try:
                return run(Library(conn))
            finally:
                conn.close()
        return await asyncio.get_running_loop().run_in_executor(self._trainer, on_own_connection)
