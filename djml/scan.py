"""`djml scan`: bring the library up to date with folders on disk, without a daemon.

Stages (beets-style pipeline, each cheap stage shrinking the work for the next):
1. walk   — find files with audio extensions (symlink loops and unreadable folders are
            reported, never followed forever);
2. stat   — a file whose size, mtime and inode match the library is unchanged: no read;
3. rename — a new path whose inode/size/mtime equal a vanished path is a move: no read;
4. analyse — everything else runs through :func:`djml.pipeline.process_file` in a
            process pool; the results are stored by the single writer as they arrive;
5. reconcile — paths that vanished become ``missing`` (their items and labels stay).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from djml.analysis_versions import ANALYZER_VERSIONS
from djml.config import Config
from djml.confine import Refused, check
from djml.executors import ExecutorOptions, analyse, executor_options
from djml.library import KnownLocation, Library
from djml.pipeline import CRASHED, FileResult, FileStat, Settings, process_file
from djml.procs import WORKER_THREAD_ENV, prepare_worker
from djml.tags import AUDIO_EXTENSIONS
from djml.tagtemps import is_temporary, sweep



@dataclass
class ScanSummary:
    new: int = 0
    unchanged: int = 0
    updated: int = 0
    reanalysed: int = 0     # unchanged files whose stored analysis came from an older analyzer
    moved: int = 0
    copies: int = 0
    missing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # link loops: shown, not failures
    stored_ids: list[int] = field(default_factory=list)  # items (re)analysed: predict + index these

    @property
    def total(self) -> int:
        return (self.new + self.unchanged + self.updated + self.reanalysed + self.moved + self.copies
                + len(self.failed))

    def count(self, outcome: str, path: str, reason: str | None = None) -> None:
        if outcome == "failed":
            self.failed.append((path, reason or "unknown error"))
        elif outcome == "copy":
            self.copies += 1
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class WalkProblem:
    path: str
    reason: str


def walk(roots: Iterable[Path], allowed: Sequence[str] = ()) -> Iterator[str | WalkProblem]:
    """Yield absolute paths of audio files below ``roots`` (or the root itself if a file).

    Directory symlinks are followed, but each real directory is entered once, so symlink
    loops end. A link (to a folder or a file) that leads outside ``allowed`` (real paths,
    see :mod:`djml.confine`; empty: anywhere) is not followed but reported, as are
    unreadable folders and links back to a folder that contains them (``loop -> ..``,
    which would otherwise list that folder's files a second time under another path):
    all as :class:`WalkProblem`.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        root = Path(os.path.abspath(root))
        if _loops_back(str(root)):
            yield WalkProblem(str(root), LOOP_REASON)
            continue
        if root.is_file():
            yield str(root)
            continue
        stack = [str(root)]
        while stack:
            folder = stack.pop()
            try:
                st = os.stat(folder)
                if (st.st_dev, st.st_ino) in seen_dirs:
                    continue
                seen_dirs.add((st.st_dev, st.st_ino))
                with os.scandir(folder) as entries:
                    children = sorted(entries, key=lambda e: e.name)
            except PermissionError:
                yield WalkProblem(folder, "cannot list folder: permission denied")
                continue
            except OSError as exc:
                yield WalkProblem(folder, f"cannot list folder: {exc.strerror or exc}")
                continue
            subfolders = []
            for entry in children:
                try:
                    is_dir = entry.is_dir(follow_symlinks=True)
                    if not is_dir and (os.path.splitext(entry.name)[1].lower() not in AUDIO_EXTENSIONS
                                       or is_temporary(entry.name)):
                        continue                # not audio, or a tag write's copy (djml.tagtemps)
                    if entry.is_symlink():
                        check(entry.path, allowed)
                        if is_dir and _loops_back(entry.path):
                            yield WalkProblem(entry.path, LOOP_REASON)
                            continue
                    if is_dir:
                        subfolders.append(entry.path)
                    else:
                        yield entry.path
                except Refused as exc:
                    yield WalkProblem(entry.path, f"refused: {exc}")
                except OSError as exc:  # e.g. a symlink loop on the entry itself
                    yield WalkProblem(entry.path, f"cannot read entry: {exc.strerror or exc}")
            stack.extend(reversed(subfolders))


LOOP_REASON = "a link loop: it leads back to a folder that contains it (not followed)"


def _loops_back(path: str) -> bool:
    """A link to a folder that contains the link (``loop -> ..`` or ``-> /music``)."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    parent = os.path.realpath(os.path.dirname(path))
    return parent == target or parent.startswith(target.rstrip("/") + "/")


def make_pool(workers: int, nice: int = 0, memory_mb: int = 0) -> ProcessPoolExecutor:
    # spawn, not fork: the parent may run threads (progress display, watchdog) and fork
    # with threads can deadlock; spawn workers import only what analysis needs.
    for name in WORKER_THREAD_ENV:
        os.environ.setdefault(name, "1")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=prepare_worker,
        initargs=(nice, os.getpid(), memory_mb),
    )


@dataclass
class Plan:
    """What stat data alone says about ``roots`` compared with the library (no audio read).

    Shared by `djml scan` and the daemon's start-up reconciliation, so both judge
    "unchanged", "renamed" and "vanished" the same way.
    """

    found: dict[str, FileStat] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)     # 'missing' paths back unchanged
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    candidates: list[str] = field(default_factory=list)      # need analysis (includes stale)
    stale: list[str] = field(default_factory=list)           # unchanged, older analyzer version
    vanished: dict[str, KnownLocation] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    still_failing: list[tuple[str, str]] = field(default_factory=list)  # failed, unchanged since
    paused: dict[str, str] = field(default_factory=dict)     # root -> why its files were not judged


def plan(library: Library, roots: Iterable[Path], allowed: Sequence[str] = (), *,
         guard_roots: bool = False) -> Plan:
    """Walk and stat ``roots`` and compare with the library's locations (read-only).
    ``allowed``: real folders links may lead into (see :func:`walk`). With
    ``guard_roots`` (the daemon's unattended checks), a root that looks unmounted or
    emptied is paused instead (:func:`unmounted_reason`): its files are not marked missing."""
    roots = [Path(os.path.abspath(p)) for p in roots]
    result = Plan()
    for item in walk(roots, allowed):
        if isinstance(item, WalkProblem):
            result.problems.append((item.path, item.reason))
            continue
        try:
            result.found[item] = FileStat.of(item)
        except FileNotFoundError:
            result.problems.append((item, "a link to a file that does not exist (dangling link)"
                                    if os.path.islink(item) else "file vanished while the folder was read"))
        except OSError as exc:
            result.problems.append((item, f"cannot stat: {exc.strerror or exc}"))
    known = library.locations_under(roots)
    reported = {path for path, _ in result.problems}
    result.vanished = {p: loc for p, loc in known.items() if p not in result.found and p not in reported}
    if guard_roots:
        for root in roots:
            if reason := unmounted_reason(root, known, result.found):
                result.paused[str(root)] = reason
                prefix = str(root).rstrip("/") + "/"
                result.vanished = {p: loc for p, loc in result.vanished.items() if not p.startswith(prefix)}
    candidates: list[str] = []
    for path, st in result.found.items():
        loc = known.get(path)
        if loc is not None and loc.failed_unchanged(st) and not access_restored(path, loc.error):
            result.still_failing.append((path, loc.error or "unknown error"))
        elif loc is not None and loc.matches(st):
            if is_stale(loc, ANALYZER_VERSIONS):
                result.stale.append(path)
            else:
                (result.reactivated if loc.status == "missing" else result.unchanged).append(path)
        else:
            candidates.append(path)
    result.candidates = _find_renames(candidates, result) + result.stale
    return result


def unmounted_reason(root: Path, known: dict[str, KnownLocation], found: dict[str, FileStat]) -> str | None:
    """Why ``root`` looks like an unmounted drive or an emptied mount point rather than
    a folder whose files were deleted, or None. Two signs: no file found where the
    library knows some, or the folder now on another device than its known files with
    fewer than half of them found (an empty mount point holding a few strays)."""
    prefix = str(root).rstrip("/") + "/"
    present = [loc for p, loc in known.items() if p.startswith(prefix) and loc.status == "ok"]
    if not present:
        return None
    here = sum(1 for p in found if p.startswith(prefix))
    if here == 0:
        return f"no audio files found where {len(present)} were known (an unmounted drive, or emptied?)"
    try:
        device = os.stat(root).st_dev
    except OSError:
        return "the folder cannot be read"
    if device not in {loc.device for loc in present} and here < len(present) / 2:
        return (f"the folder is on another device than its {len(present)} known files and only {here} "
                "were found (is the drive mounted?)")
    return None


def access_restored(path: str, reason: str | None) -> bool:
    """A "permission denied" failure is cured by chmod or chown, which leave size, mtime
    and inode alone: such a file is tried again once it is readable."""
    return "permission denied" in (reason or "") and os.access(path, os.R_OK)


def record_problems(library: Library, work: Plan) -> None:
    """What the walk could not take (a link out of the folders, a dangling link, a link
    loop, an unreadable folder) becomes a failed location with its reason, so
    `ls --failed` and `status` show it, not only a log line; it is forgotten once the
    problem is gone."""
    for path, reason in work.problems:
        library.record_failure(path, None, reason)


def is_stale(loc: KnownLocation, versions: dict[str, int]) -> bool:
    """Analysed by an older analyzer than this djml's ``versions`` (per kind): analyse again."""
    current = versions.get(loc.kind or "")
    return current is not None and loc.analyzer_version is not None and loc.analyzer_version < current


def scan(
    config: Config,
    library: Library,
    paths: Iterable[Path] | None = None,
    *,
    on_total: Callable[[int], None] | None = None,
    on_done: Callable[[str, str], None] | None = None,
    executor: ExecutorOptions | None = None,
) -> ScanSummary:
    """Scan ``paths`` (default: every configured folder) into ``library``.

    ``on_total(n)`` is called once the number of files needing analysis is known;
    ``on_done(outcome, path)`` after each analysed file is stored (for a progress bar).
    ``executor`` says where analysis runs (default: the config's ``cluster`` setting,
    which by default is the local process pool; see :mod:`djml.executors`).
    """
    summary = ScanSummary()
    sweep(config.data_dir)          # copies a killed `tags write` left behind
    paths = list(paths or config.roots)
    settings = Settings.from_config(config, extra_roots=paths)
    work = plan(library, paths, settings.allowed_roots)
    for path, reason in [*work.problems, *work.still_failing]:
        if reason == LOOP_REASON:
            summary.skipped.append((path, reason))
        else:
            summary.count("failed", path, reason)
    record_problems(library, work)
    for path in work.reactivated:
        library.record_move(path, path, work.found[path])  # back where it was: reactivate
    summary.unchanged += len(work.unchanged) + len(work.reactivated)
    for old, new in work.renamed:
        library.record_move(old, new, work.found[new])
        summary.moved += 1
    if on_total:
        on_total(len(work.candidates))
    stale = set(work.stale)
    options = executor if executor is not None else executor_options(config)
    for result in analyse(work.candidates, settings, options, workers=config.workers, kind_for=config.kind_for,
                          memory_mb=config.worker_memory_mb):
        outcome, item_id = library.record_result(result)
        if outcome == "updated" and result.path in stale:
            outcome = "reanalysed"
        summary.count(outcome, result.path, result.error)
        if item_id is not None:
            summary.stored_ids.append(item_id)
        if on_done:
            on_done(outcome, result.path)
    vanished = work.vanished
    still_vanished = [p for p, loc in vanished.items() if loc.status == "ok" and not os.path.exists(p)]
    summary.missing = library.mark_missing(still_vanished)
    library.forget_failed(p for p, loc in vanished.items() if loc.status == "failed")
    return summary


def _find_renames(candidates: list[str], work: Plan) -> list[str]:
    """Match new paths to vanished ones by (device, inode, size, mtime): a rename or move
    within one file system, recognised without reading a byte of audio. Matched pairs go
    to ``work.renamed`` (and leave ``work.vanished``); the rest are returned."""
    by_fingerprint = {
        (loc.device, loc.inode, loc.size, loc.mtime_ns): path
        for path, loc in work.vanished.items()
        if loc.item_id is not None and loc.status != "failed"
    }
    remaining = []
    for path in candidates:
        st = work.found[path]
        old = by_fingerprint.pop((st.device, st.inode, st.size, st.mtime_ns), None)
        if old is not None and path not in work.vanished:
            work.renamed.append((old, path))
            del work.vanished[old]
        else:
            remaining.append(path)
    return remaining


def analyse_all(
    paths: list[str],
    workers: int,
    settings: Settings,
    *,
    kind_for: Callable[[Path], str | None] = lambda path: None,
    nice: int = 0,
    memory_mb: int = 0,
    task: Callable[[str, str | None, Settings], Any] = process_file,
    failed: Callable[[str, str], Any] = lambda path, reason: FileResult(path, None, error=reason),
) -> Iterator[Any]:
    """Run ``task`` (:func:`process_file`; `djml analyze` runs one that returns plain
    rows) over ``paths`` in a process pool, yielding results as they finish. At most 2×workers files are in flight (bounded memory for huge folders). If a
    worker process dies (a decoder crash, the memory cap), every file in flight with it is
    a suspect and is analysed again alone, one at a time in a fresh single-worker pool;
    only a file that crashes its worker alone is reported as crashed, so one poisonous
    file cannot stop the scan nor fail its neighbours."""
    if not paths:
        return
    queue = list(reversed(paths))
    suspects: list[str] = []
    pool = make_pool(workers, nice, memory_mb)
    in_flight: dict[Future, str] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < 2 * workers:
                path = queue.pop()
                in_flight[pool.submit(task, path, kind_for(Path(path)), settings)] = path
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                path = in_flight.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    suspects.append(path)
            if broken:
                suspects.extend(in_flight.values())
                in_flight.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = make_pool(workers, nice, memory_mb)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for path in suspects:
        yield _alone(path, kind_for(Path(path)), settings, nice, memory_mb, task, failed)


def _alone(path: str, kind: str | None, settings: Settings, nice: int, memory_mb: int,
           task: Callable[[str, str | None, Settings], Any], failed: Callable[[str, str], Any]) -> Any:
    pool = make_pool(1, nice, memory_mb)
    try:
        return pool.submit(task, path, kind, settings).result()
    except BrokenProcessPool:
        return failed(path, CRASHED)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
