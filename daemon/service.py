"""The daemon's brain: folder events → job queue → workers → library → events, and the
handlers behind every protocol method.

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

import djml
from djml import db, query, tagtemps
from djml import protocol as p
from djml.models.actions import ACTIONS
from djml.config import Config
from djml.confine import data_dir_refusal
from djml.errors import ActionError
from djml.library import Library
from djml.models.embedder import EMBEDDER
from djml.models.enrich import after_store, pending
from djml.pipeline import FileStat
from djml.procs import rss_mb
from djml.scan import plan, record_problems, walk

from .derived import DerivedWork
from .jobs import MAX_ATTEMPTS, Event, Job, JobQueue
from .resources import Backoff, reason_in_text, resource_reason
from .roots import CHECK_SECONDS as ROOT_CHECK_SECONDS
from .roots import RootWatch, identities
from .monitor import Monitor
from .watcher import FsEvent, Settler, Watcher, is_audio, under
from .workers import CRASHED, SUSPECT, make_workers

log = logging.getLogger(__name__)

HOOK_BATCH_DELAY = 0.3      # gather analysed items this long before one predict/index call
HOOK_RETRY_SECONDS = 5.0   # after a failed predict/index batch (disk full …)
PROGRESS_INTERVAL = 0.5     # at most this many seconds between queue.progress events
SHUTDOWN_GRACE = 3.0        # SIGTERM: wait this long for running analyses, then re-queue them
THROUGHPUT_WINDOW = 60.0
QUERY_DEFAULT_LIMIT, QUERY_MAX_LIMIT = 100, 5000
RECENT_EVENTS = 200         # events.recent: what a client that just connected missed
# Methods that change the library (or the files, or the config): each one is logged, so
# the log shows that the daemon did every write while it ran.
WRITES = frozenset({name for name, action in ACTIONS.items() if action.writes} | {"scan", "retry"})


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
        self._library: Library | None = None
        self._queue: JobQueue | None = None
        self._read_conn = None
        self._watcher: Watcher | None = None
        self._wake = asyncio.Event()
        self._settle_wake = asyncio.Event()
        self._hook_wake = asyncio.Event()
        self.derived = DerivedWork()
        self.backoff = Backoff()
        self._held: list[Job] = []        # claimed jobs a resource error sent back
        self.roots = RootWatch({})
        self._done_times: deque[float] = deque()
        self._jobs: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()
        self._progress_due = False
        self._training: set[str] = set()   # tasks being retrained now
        self._allowed = [os.path.realpath(r) for r in (*config.roots, config.data_dir)]
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.monitor = Monitor(self)        # drift checks and scheduled retraining

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

    def _spawn(self, coro: Coroutine, into: set[asyncio.Task] | None = None) -> asyncio.Task:
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
        self._read_conn = await self.read(db.connect_readonly, self.config.db_path)
        loop = asyncio.get_running_loop()
        # Watch first, then reconcile: a file changed in between is seen by both, never by neither.
        self._watcher = Watcher(self.config.roots, self.config.polling, loop, self.on_fs_event)
        self.watched = await loop.run_in_executor(None, self._watcher.start)
        self.roots.seen = await loop.run_in_executor(None, identities, list(self.config.roots))
        for loop_coro in (self._dispatch(), self._settle_loop(), self._hook_loop(), self._progress_loop(),
                          self._roots_loop()):
            self._spawn(loop_coro)
        self._spawn(self._reconcile_at_start())
        self._spawn(self._backfill_derived())
        self._spawn(self._warm_recommender())
        self._spawn(self.monitor.run())

    async def _warm_recommender(self) -> None:
        """Import the ranker and load the similarity indexes once at start-up, so the first
        `djml recommend` answers as fast as the rest (cold, it costs ~0.25 s)."""

        def warm() -> None:
            from djml.models.recommend import load_indexes

            load_indexes(self._read_conn, self.config)

        try:
            await self.read(warm)
        except Exception:  # only a warm-up: the first request will load what it needs
            log.exception("warming the recommender failed")

    def _open_writer(self) -> int:
        conn = db.connect(self.config.db_path)
        try:
            db.check_integrity(conn, self.config.db_path)   # refuse to start on a damaged file
        except Exception:
            conn.close()
            raise
        self._library = Library(conn)
        self._queue = JobQueue(self._library, backoff_seconds=max(0.5, 2 * self.config.settle_seconds))
        return self._library.requeue_running()

    async def stop(self) -> None:
        """Stop watching, give running analyses SHUTDOWN_GRACE seconds, re-queue the rest."""
        self.closing = True
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)
        self._wake.set()
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=SHUTDOWN_GRACE)
        self.workers.terminate()
        for task in [*self._jobs, *self._background]:
            task.cancel()
        await asyncio.gather(*self._jobs, *self._background, return_exceptions=True)
        requeued = await self.write(self._close_writer)
        if requeued:
            log.info("re-queued %d unfinished job(s) for the next start", requeued)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=False, cancel_futures=True)
        self._trainer.shutdown(wait=False, cancel_futures=True)

    def _close_writer(self) -> int:
        assert self._library is not None
        requeued = self._library.requeue_running()
        self._library.conn.close()
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
                await self._rewatch()
                back = [root for root in moved if now[root] is not None]
                if back:
                    await self._scan(back)
            except Exception as exc:
                log.warning("re-watching %s failed: %s", ", ".join(map(str, moved)), exc)

    async def _reconcile_after_pause(self) -> None:
        """Folder events and predictions that arrived while the disk was full may not have
        been stored: compare the folders with the library once more (stat only, as at
        start) and compute missing derived data."""
        try:
            await self._scan(list(self.watched))
            await self._backfill_derived()   # predictions a full disk refused
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
        library, queue = self._library, self._queue
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
                self._spawn(self._touch_tree(src))  # a folder moved in or copied in
            elif is_audio(src):
                self.settler.touch(src, writing={"created": None, "modified": True, "closed": False}[kind])
                self._settle_wake.set()
        elif kind == "deleted":
            if is_dir and src.rstrip("/") in {str(r).rstrip("/") for r in self.config.roots}:
                self.roots.lost(src.rstrip("/"))   # a whole configured folder (or its drive) went away
            elif is_dir:
                self.settler.discard_under(src)
                self._after_write(self.write(self._gone_folder, src))
            elif is_audio(src):
                self.settler.discard(src)
                self._after_write(self.write(self._gone_files, [src]))
        elif kind == "moved":
            inside = bool(dest) and self.allowed_root(dest)
            if is_dir:
                if inside:
                    self.settler.rename(src, dest)
                else:
                    self.settler.discard_under(src)
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
        self._spawn(finish())

    async def _touch_tree(self, folder: str) -> None:
        loop = asyncio.get_running_loop()
        paths = await loop.run_in_executor(None, lambda: [x for x in walk([Path(folder)]) if isinstance(x, str)])
        for path in paths:
            self.settler.touch(path)
        self._settle_wake.set()

    # The _gone/_moved helpers run on the writer thread and return (events, paths to settle).

    def _gone(self, paths: list[str]) -> list[Event]:
        library = self._library
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

    def _jobs_under(self, folder: str) -> list[str]:
        assert self._library is not None
        prefix = folder.rstrip("/") + "/"
        rows = self._library.conn.execute(
            "SELECT path FROM jobs WHERE state = 'queued' AND substr(path, 1, ?) = ?", (len(prefix), prefix))
        return [row[0] for row in rows]

    def _gone_folder(self, folder: str) -> tuple[list[Event], list[str]]:
        assert self._library is not None
        known = list(self._library.locations_under([Path(folder)]))
        return self._gone_files(sorted({*known, *self._jobs_under(folder)}))

    def _moved_file(self, src: str, dest: str, was_pending: bool) -> tuple[list[Event], list[str]]:
        library = self._library
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
        assert self._library is not None
        paths = sorted({*self._library.locations_under([Path(src)]), *self._jobs_under(src)})
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
            self.workers.warm()   # files are settling: have workers ready when they are due
            await asyncio.sleep(self.settler.interval())
            ready = self.settler.due()
            if ready and not self.closing:
                assert self._queue is not None
                try:
                    await self.write(self._queue.enqueue, ready)
                    if self.backoff.clear():
                        self._spawn(self._reconcile_after_pause())
                except Exception as exc:
                    if reason := resource_reason(exc):   # e.g. disk full: settle them again later
                        self.backoff.hit(reason)
                        for path in ready:
                            self.settler.touch(path)
                        await asyncio.sleep(self.backoff.wait())
                        continue
                    # never let one batch stop the loop: queue what can be queued
                    log.exception("queueing %d settled file(s) failed; trying them one by one", len(ready))
                    for path in ready:
                        try:
                            await self.write(self._queue.enqueue, [path])
                        except Exception as exc:
                            log.error("cannot queue %s: %s", path, exc)
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
        queue = self._queue
        assert queue is not None
        if self._held:
            held, self._held = self._held, []
            try:
                await self.write(self._library.release_jobs, [job.id for job in held])
            except Exception:
                self._held = held + self._held
                raise
        free = self.workers.capacity - self.workers.in_flight
        if free <= 0:
            return None  # woken when a job completes
        jobs, events = await self.write(queue.claim, free)
        self._emit_all(events)
        if not jobs and not self._jobs and self.backoff.clear():
            self._spawn(self._reconcile_after_pause())   # nothing waits on the resource any more
        for job in jobs:
            self._spawn(self._run(job), self._jobs)
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
        assert self._queue is not None
        try:
            job, result = await self._analyse(job)
            reason = reason_in_text(result.error)
            if reason is not None:   # the machine, not the file: pause, keep the job
                self.backoff.hit(reason)
                self._held.append(job)
                self._wake.set()
                return
            events, item_ids = await self.write(self._queue.complete, job, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._resource_error(exc, f"analysing {job.path}")
            self._held.append(job)
            self._wake.set()
            return
        if self.backoff.clear():
            self._spawn(self._reconcile_after_pause())
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

    async def _backfill_derived(self) -> None:
        """Every item an earlier run left without predictions or text vector (a kill
        between storing and predicting, or between activating a model and re-predicting),
        and, after a model change, every item that model has not predicted yet."""
        ids = await self.write(lambda: pending(self._library, embed_text=self.config.embed_text))
        if ids:
            log.info("computing missing predictions/vectors of %d item(s)", len(ids))
            self.derived.add(ids)
            self._hook_wake.set()

    async def _hook_loop(self) -> None:
        while True:
            await self._hook_wake.wait()
            await asyncio.sleep(HOOK_BATCH_DELAY)
            self._hook_wake.clear()
            while ids := self.derived.take():
                try:
                    self._emit_all(await self.write(self._run_hooks, ids))
                except Exception as exc:   # e.g. disk full: keep the ids, try again later
                    self.derived.add(ids)
                    self.derived.failed([resource_reason(exc) or f"{type(exc).__name__}: {exc}"])
                    await asyncio.sleep(HOOK_RETRY_SECONDS)

    def _run_hooks(self, item_ids: list[int]) -> list[Event]:
        library = self._library
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
                self.emit("queue.progress", await self.read(self._queue_snapshot))

    def _queue_snapshot(self) -> dict[str, Any]:
        rows = self._read_conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = {"queued": 0, "running": 0, "failed": 0}
        counts.update({state: n for state, n in rows if state in counts})
        # A worker keeps one job waiting behind the one it analyses (Workers.capacity), and
        # both are 'running' in the jobs table; only as many as there are workers really run.
        analysing = min(counts["running"], self.workers.in_flight, self.workers.size)
        counts["queued"] += counts["running"] - analysing
        counts["running"] = analysing
        return {**counts, "settling": len(self.settler), "in_flight": self.workers.in_flight,
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

    # -- protocol methods ------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any],
                   progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """Serve one request; ``progress`` (on the loop) carries a long action's reports.
        An action runs as :meth:`_action` unless the daemon wraps it (``m_train``)."""
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if method in ACTIONS and handler is None:
            result = await self._action(method, params, progress)
        elif method in ACTIONS and ACTIONS[method].progress:
            result = await handler(**params, progress=progress)
        else:
            result = await handler(**params)
        if method in WRITES:
            log.info("write %s %s", method, _brief(params))
        return result

    async def m_events_recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        limit = limit or 50
        if not 1 <= limit <= RECENT_EVENTS:
            raise p.ProtocolError(p.INVALID_PARAMS, f"limit must be 1..{RECENT_EVENTS}")
        return list(self.recent)[-limit:]

    async def m_hello(self, client: str | None = None, protocol: int | None = None) -> dict[str, Any]:
        return {"protocol": p.PROTOCOL_VERSION, "schema": db.schema_version(), "version": djml.version(),
                "pid": os.getpid()}

    async def m_status(self) -> dict[str, Any]:
        snapshot, counts, models = await self.read(self._status_reads)
        return {
            "pid": os.getpid(), "version": djml.version(), "protocol": p.PROTOCOL_VERSION,
            "uptime": round(time.time() - self.started, 1), "workers": self.workers.size,
            "workers_running": self.workers.running, "watching": [str(r) for r in self.watched],
            "polling": self.config.polling, "queue": snapshot, "library": counts, "models": models,
            "derived": self.derived.status(), "warnings": self.warnings(),
            "memory": {"rss_mb": rss_mb(), "text_model": EMBEDDER.status()},
        }

    def warnings(self) -> list[str]:
        """What `djml status` must tell the user: work that is held up, and why."""
        found = [f"derived data: {error}" for error in self.derived.status()["errors"]]
        if paused := self.backoff.warning():
            found.insert(0, paused)
        return found + self.roots.warnings()

    def _status_reads(self) -> tuple[dict, dict, list]:
        conn = self._read_conn
        models = [dict(r) for r in conn.execute(
            "SELECT task, version, estimator, created_at FROM models WHERE active = 1 ORDER BY task")]
        return self._queue_snapshot(), query.library_counts(conn), models

    async def m_query(self, **filters: Any) -> dict[str, Any]:
        limit = filters.pop("limit", None) or QUERY_DEFAULT_LIMIT
        offset = filters.pop("offset", None) or 0
        if not 1 <= limit <= QUERY_MAX_LIMIT or offset < 0:
            raise p.ProtocolError(p.INVALID_PARAMS, f"limit must be 1..{QUERY_MAX_LIMIT}, offset >= 0")
        key = filters.get("key")
        for name in ("bpm", "energy"):
            value = filters.get(name)
            if isinstance(value, list) and (len(value) != 2 or not all(_is_number(b) for b in value)):
                raise p.ProtocolError(p.INVALID_PARAMS, f"{name} must be 'LOW-HIGH' or [low, high]")
        if isinstance(key, int) and not 0 <= key <= 23:
            raise p.ProtocolError(p.INVALID_PARAMS, "key must be 0..23 or a key name such as 8A")
        try:
            flt = query.Filters.from_dict({**filters, "limit": limit + 1, "offset": offset})
        except (ValueError, TypeError) as exc:
            raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None
        rows = await self.read(query.list_items, self._read_conn, flt)
        return {"items": rows[:limit], "limit": limit, "offset": offset, "more": len(rows) > limit}

    async def m_show(self, ref: int | str) -> dict[str, Any]:
        info = await self.read(query.show, self._read_conn, ref)
        if info is None:
            raise p.ProtocolError(p.NOT_FOUND, f"no item matches {ref!r}")
        return info

    async def m_failed(self) -> list[dict[str, Any]]:
        return await self.read(query.list_failed, self._read_conn)

    async def m_scan(self, paths: list | None = None) -> dict[str, Any]:
        if paths is not None and not all(isinstance(x, str) for x in paths):
            raise p.ProtocolError(p.INVALID_PARAMS, "paths must be a list of strings")
        targets = [Path(self.checked_path(x)) for x in paths] if paths else list(self.watched)
        for target in targets:
            if not target.exists():
                raise p.ProtocolError(p.NOT_FOUND, f"{target} does not exist")
        # Naming a folder confirms its state: an emptied folder is then judged, not paused.
        return await self._scan(targets, guard=not paths)

    async def _scan(self, targets: list[Path], guard: bool = True) -> dict[str, Any]:
        events, young, summary = await self.write(self._reconcile, targets, guard)
        self._emit_all(events)
        for path in young:
            self.settler.touch(path)
        self._settle_wake.set()
        self._wake.set()
        self._progress_due = True
        return summary

    async def m_retry(self, path: str) -> dict[str, Any]:
        path = self.checked_path(path)
        if not os.path.exists(path):
            raise p.ProtocolError(p.NOT_FOUND, f"{path} does not exist")
        assert self._queue is not None
        added = await self.write(self._queue.enqueue, [path])
        self._wake.set()
        return {"path": path, "queued": bool(added)}

    async def m_review_list(self, task: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        limit = limit or 50
        if task is not None:
            task = _task(task)
        from djml.models.service import review_queue

        return await self.read(review_queue, self._read_conn, self.config, task, limit)

    async def m_review_next(self, task: str | None = None) -> dict[str, Any] | None:
        items = await self.m_review_list(task=task, limit=1)
        return items[0] if items else None

    # -- everyday actions (djml.actions: the same code the CLI runs without a daemon) ----------

    async def _action(self, method: str, params: dict[str, Any],
                      progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """Run a :data:`djml.models.actions.ACTIONS` entry on the writer (or reader, or
        trainer) thread, then what only a running daemon does after it: events,
        retraining, watching."""
        action = ACTIONS[method]
        if action.progress:
            loop = asyncio.get_running_loop()
            report = progress or (lambda data: None)
            params = {**params, "progress": lambda data: loop.call_soon_threadsafe(report, data)}
        if not action.library:
            target: Any = None
        else:
            target = self._library if action.writes else self._read_conn
        run = (functools.partial(action.run, self.config, **params) if target is None
               else functools.partial(action.run, target, self.config, **params))
        try:
            if action.long:
                result = await asyncio.get_running_loop().run_in_executor(
                    self._trainer, functools.partial(self._on_own_connection, action.run, params))
            else:
                result = await (self.write(run) if action.writes else self.read(run))
        except ActionError as exc:
            raise p.ProtocolError(exc.code, exc.message) from None
        after = getattr(self, "_after_" + method.replace(".", "_"), None)
        if after is not None:
            await after(result)
        return result

    async def _after_label_set(self, result: dict[str, Any]) -> None:
        task = result["task"]
        self.emit("review.changed", {"task": task, "item_ids": [result["item_id"]]})
        if result.get("changed") and await self.write(self._train_needed, result["item_id"], task):
            result["training"] = True  # enough new labels: retrain in the background
            self._start_training(task)

    async def _after_label_undo(self, result: dict[str, Any]) -> None:
        self.emit("review.changed", {"task": result["task"], "item_ids": [result["item_id"]]})

    async def _after_buckets_rename(self, result: dict[str, Any]) -> None:
        await self._buckets_changed(result)

    async def _after_buckets_delete(self, result: dict[str, Any]) -> None:
        await self._buckets_changed(result)

    async def _buckets_changed(self, result: dict[str, Any]) -> None:
        """Labels now name other buckets: the bucket model learns the new names."""
        self.emit("review.changed", {"task": "bucket", "item_ids": []})
        if await self.read(lambda: self._read_conn.execute(
                "SELECT 1 FROM models WHERE task = 'bucket' AND active = 1").fetchone() is not None):
            result["training"] = True
            self._start_training("bucket")

    async def _after_folders_add(self, result: dict[str, Any]) -> None:
        await self._rewatch()
        result["scan"] = await self.m_scan([result["path"]])

    async def _after_folders_remove(self, result: dict[str, Any]) -> None:
        await self._rewatch()
        removed = result["path"]
        self.settler.discard_under(removed)
        result["dropped_jobs"] = await self.write(lambda: self._library.drop_jobs(self._jobs_under(removed)))

    async def _rewatch(self) -> None:
        """The configured folders changed (djml folders add/remove): watch the new set."""
        from djml.pipeline import Settings

        loop = asyncio.get_running_loop()
        self._allowed = [os.path.realpath(r) for r in (*self.config.roots, self.config.data_dir)]
        self.workers.settings = Settings.from_config(self.config)   # what a worker may read
        if self._watcher is not None:
            await loop.run_in_executor(None, self._watcher.stop)
        self._watcher = Watcher(self.config.roots, self.config.polling, loop, self.on_fs_event)
        self.watched = await loop.run_in_executor(None, self._watcher.start)

    def _train_needed(self, item_id: int, task: str) -> bool:
        from djml.models.service import on_label

        try:
            return bool(on_label(self._library, self.config, item_id, task).get("train_needed"))
        except Exception:  # the label is stored; a model problem must not lose it
            log.exception("models.on_label failed for item %s", item_id)
            return False

    def _start_training(self, task: str) -> None:
        if task not in self._training:
            self._training.add(task)  # at once: two quick labels must not start two trainings
            self._spawn(self._auto_train(task))

    async def m_recommend(self, ref: int | str, options: dict | None = None) -> Any:
        from djml.models.recommend import recommend_result

        try:
            return await self.read(lambda: recommend_result(self._read_conn, self.config, ref, **(options or {})))
        except (TypeError, ValueError, LookupError) as exc:
            raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None

    async def m_train(self, task: str, model: str | None = None, reason: str = "manual",
                      clock: float | None = None, progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """The ``train`` action with what the daemon adds: the task is marked as training
        while it runs (labels and the monitor do not start it twice), the reason is kept
        (schedule, drift, new labels), and the event and back-fill follow (_after_train)."""
        task = _task(task)
        self._training.add(task)
        try:
            result = await self._action("train", {"task": task, "model": model, "reason": reason, "clock": clock},
                                        progress)
        finally:
            self._training.discard(task)
        if reason != "manual":   # asked by no client: call() does not log it
            log.info("write train %s", _brief({"task": task, "reason": reason}))
        return result

    def _on_own_connection(self, run: Callable, params: dict[str, Any]) -> Any:
        """A long action (training) on the trainer thread with a connection of its own, so
        storing analysed files goes on meanwhile (WAL: one commit at a time, in order)."""
        conn = db.connect(self.config.db_path)
        try:
            return run(Library(conn), self.config, **params)
        finally:
            conn.close()

    async def _after_train(self, result: dict[str, Any]) -> None:
        self.emit("model.trained", {"task": result["task"], "result": result})
        if isinstance(result, dict) and result.get("status") == "activated":
            self._spawn(self._backfill_derived())  # in case the re-prediction was cut short

    async def _auto_train(self, task: str) -> None:
        """Retraining after `retrain_after` new labels; failures are logged, not raised."""
        await self.monitor.train(task, f"labels: at least {self.config.retrain_after} new")

    async def m_models_list(self, task: str | None = None) -> list[dict[str, Any]]:
        task = _task(task) if task else None
        rows = await self.read(lambda: self._read_conn.execute(
            "SELECT version, task, estimator, active, metrics, metadata, created_at FROM models"
            " WHERE ? IS NULL OR task = ? ORDER BY task, created_at DESC", (task, task)).fetchall())
        return [dict(r) for r in rows]

    async def m_models_stats(self, task: str | None = None) -> dict[str, Any]:
        return await self.monitor.stats(_task(task) if task else None)

    async def m_models_history(self, task: str | None = None) -> dict[str, Any]:
        return await self.monitor.history(_task(task) if task else None)

    async def _after_models_activate(self, result: dict[str, Any]) -> None:
        self.emit("model.trained", {"activated": result})
        self._spawn(self._backfill_derived())   # the newly active version predicts everything

    async def _after_models_rollback(self, result: dict[str, Any]) -> None:
        await self._after_models_activate(result)

    async def _after_models_delete(self, result: dict[str, Any]) -> None:
        self.emit("model.trained", {"deleted": result["version"]})

    async def _after_labels_import(self, result: dict[str, Any]) -> None:
        await self._labels_came_in(result.get("item_ids", []), result.get("fresh", {}))

    async def _after_import(self, result: dict[str, Any]) -> None:
        if result["dry_run"]:
            return
        from djml.models import TASKS
        from djml.models.service import new_labels_since_training

        # an import also records BPM and key corrections: only the models' tasks retrain
        tasks = {task for report in result["reports"] for task in report["labels"]} & set(TASKS)
        fresh = await self.read(lambda: {task: new_labels_since_training(self._read_conn, task) for task in tasks})
        await self._labels_came_in([], fresh)

    async def _labels_came_in(self, item_ids: list[int], fresh: dict[str, int]) -> None:
        """Many labels at once (a CSV, an import): clients reload, and a task with enough
        new labels is retrained, as after `retrain_after` labels made one by one."""
        for task in fresh:
            self.emit("review.changed", {"task": task, "item_ids": item_ids})
        for task, n in fresh.items():
            if n >= self.config.retrain_after:
                self._start_training(task)


def _task(text: str) -> str:
    """Normalise a task name ("samples" → "sample_type"), or an invalid_params error."""
    from djml.models import task_name

    try:
        return task_name(text)
    except ValueError as exc:
        raise p.ProtocolError(p.INVALID_PARAMS, str(exc)) from None


def _brief(params: dict[str, Any]) -> str:
    """A request's parameters for the log: short values as they are, long ones by size."""
    def short(value: Any) -> Any:
        if isinstance(value, str) and (len(value) > 80 or "\n" in value):
            return f"<{len(value)} characters>"
        if isinstance(value, (list, dict)) and len(str(value)) > 120:
            return f"<{len(value)} entries>"
        return value
    return " ".join(f"{k}={short(v)!r}" for k, v in params.items() if k != "progress")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
