"""Hygiene for analysis worker processes: they die with their parent and cannot take
the machine's memory.

Why both are needed: after ``kill -9`` of `djml scan` or the daemon, a worker (and the
multiprocessing resource tracker, which waits for the last holder of its pipe) would
otherwise live on, holding the caller's stdout open; and one file whose analysis
explodes (a corrupt header, a decoder bug) must fail with "out of memory", not invite
the kernel's OOM killer to pick a victim among the user's programs.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` dies: the kernel's PR_SET_PDEATHSIG on Linux
    (immediate), plus a thread that polls the parent pid elsewhere (within a second)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:   # the parent died before the line above ran
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="djml-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def cap_memory(megabytes: int) -> None:
    """Limit this process's address space (RLIMIT_AS) to ``megabytes`` (0: no cap). An
    allocation beyond it raises MemoryError, which :func:`djml.pipeline.process_file`
    reports as the file's failure."""
    if megabytes <= 0:
        return
    try:
        import resource
    except ImportError:   # not POSIX
        return
    limit = megabytes << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot cap worker memory at %d MB: %s", megabytes, exc)


WORKER_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
NUMPY_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")   # numpy's own BLAS, not torch's OpenMP


def one_blas_thread() -> None:
    """Give numpy's BLAS one thread in this process unless the user chose a number; call
    it before numpy is imported. For one-shots whose numpy work is a few small products
    (`djml recommend` without the daemon): OpenBLAS starts a thread per core when it is
    loaded, and on a busy machine those threads spin, so ``import numpy`` cost ~0.08 s
    more CPU with them than without (docs/recommend.md). Training is not a one-shot and
    keeps the default."""
    for name in NUMPY_BLAS_ENV:
        os.environ.setdefault(name, "1")


DAEMON_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def daemon_threads() -> str:
    """One BLAS/OpenMP thread for the daemon's own numerical work (ranking, index
    updates, training in its trainer thread) unless the user set any of
    :data:`DAEMON_THREAD_ENV`; call it before numpy is imported. Why: the daemon runs
    beside its analysis workers, which already take every core but one, and on a busy
    machine extra BLAS threads only spin (the daemon's first 3 s after start cost 0.40 s
    CPU with OpenBLAS's default, 0.26 s with one thread; benchmarks/README.md). Returns who
    chose: ``"djml"`` or ``"user"`` (any of the variables set: all are left as they are,
    since OpenBLAS falls back to OMP_NUM_THREADS when OPENBLAS_NUM_THREADS is unset)."""
    if any(os.environ.get(name) for name in DAEMON_THREAD_ENV):
        return "user"
    for name in DAEMON_THREAD_ENV:
        os.environ[name] = "1"
    return "djml"


def thread_report(chosen_by: str) -> dict[str, object]:
    """What `djml status` shows of the daemon's threads: the variables, who chose them,
    and the thread pools the loaded numerical libraries really use (threadpoolctl, which
    scikit-learn brings; empty when nothing numerical is loaded yet)."""
    pools: list[dict[str, object]] = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        pools = [{"api": info.get("internal_api"), "threads": info.get("num_threads")} for info in threadpool_info()]
    return {"chosen_by": chosen_by, "env": {name: os.environ.get(name) for name in DAEMON_THREAD_ENV},
            "pools": pools}


def prepare_worker(nice: int, parent: int, memory_mb: int) -> None:
    """Worker processes analyse with one BLAS thread each (2 threads per worker made torch
    ~10x slower on 2 cores), without decoder chatter, with capped memory, die with the
    process that started them, and, for the daemon, at low priority. Shared by the
    spawned pool (:func:`djml.scan.make_pool`) and the forked child of `djml analyze`
    (:mod:`djml.describe`)."""
    die_with_parent(parent)
    cap_memory(memory_mb)
    for name in WORKER_THREAD_ENV:
        os.environ[name] = "1"
    silence_native_stderr()
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass


def silence_native_stderr() -> None:
    """Decoders write straight to file descriptor 2 — libmpg123 inside libsndfile prints
    "Note: Trying to resync..." and "[src/libmpg123/parse.c:…] error: …" for every damaged
    MP3 — which in a worker is the user's terminal (`djml scan`) or the daemon's log. The
    reason a file failed comes back as its error message anyway. So fd 2 of the worker
    goes to /dev/null, and Python's own ``sys.stderr`` (tracebacks, logging) keeps writing
    to a copy of the original, so nothing djml itself reports is lost."""
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no stderr at all (a daemon started without one): nothing to hide
        return
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(saved, "w", buffering=1, encoding="utf-8", errors="backslashreplace")


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float | None:
    """Resident memory of a process in MB (Linux ``/proc``; None elsewhere), for
    `djml status` and the benchmarks; ``field="VmHWM"`` gives its peak so far."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
