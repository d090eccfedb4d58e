"""Issue 13.6: a worker that dies fails only the file that kills a worker alone; the files
in flight with it are analysed again, alone, and are never recorded as failed."""

from __future__ import annotations

from daemon_support import named, wait_for
from rel_support import init_library, query, run_djml, sample


def test_daemon_fails_only_the_file_that_crashes_alone(make_daemon, crash_hook):
    d = make_daemon(settle=0.3, workers=1)
    d.start()
    staging = d.music / "out"
    good = [sample(staging / f"good{i}.wav", "kick", seed=60 + i) for i in range(4)]
    bad = sample(staging / f"{crash_hook}.wav", "snare", seed=70)
    with d.client(timeout=60) as c:
        c.subscribe(["item.added", "item.failed"])
        # all at once, the crasher first: it is in flight with good files
        c.call("scan")   # nothing yet; makes sure the daemon is idle and ready
        for path in [bad, *good]:
            path.rename(d.samples / path.name)
        targets = {str(d.samples / p.name) for p in good}
        crasher = str(d.samples / bad.name)
        events = wait_for(c, lambda ev: targets <= {e["path"] for e in named(ev, "item.added")}
                          and any(e["path"] == crasher and e["final"] for e in named(ev, "item.failed")),
                          timeout=180)
    failed = {e["path"] for e in named(events, "item.failed")}
    assert failed == {crasher}, failed            # no good file ever counted a failed attempt
    reasons = query(d.db, "SELECT path, error FROM locations WHERE status = 'failed'")
    assert reasons == [(crasher, "the analysis worker crashed on this file")]
    assert d.stop() == 0


def test_scan_fails_only_the_file_that_crashes_alone(tmp_path, crash_hook):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    for i in range(2):
        sample(samples / f"{crash_hook}-{i}.wav", "snare", seed=80 + i)
    for i in range(4):
        sample(samples / f"good{i}.wav", "kick", seed=90 + i)
    done = run_djml(home, "scan", "-q")
    assert done.returncode == 1
    db = home / "data" / "library.db"
    failed = query(db, "SELECT path FROM locations WHERE status = 'failed' ORDER BY path")
    assert [p for (p,) in failed] == [str(samples / f"{crash_hook}-{i}.wav") for i in range(2)]
    assert query(db, "SELECT COUNT(*) FROM items")[0][0] == 4
    assert "2 failed" in done.stderr
