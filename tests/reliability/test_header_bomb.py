"""Issue 13.7: absurd headers are refused with a clear reason before anything is sized by
them, NaN/inf samples get a clear reason, and workers run under a memory cap."""

from __future__ import annotations

import json
import re

import numpy as np

from daemon_support import named, wait_for
from rel_support import children, float_wav, init_library, run_djml, wav_header


def _reasons(home) -> dict[str, str]:
    out = run_djml(home, "ls", "--failed", "--json").stdout
    return {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line)["error"] for line in out.splitlines()}


def test_absurd_headers_and_nan_samples_are_refused_with_reasons(tmp_path):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    wav_header(samples / "one-hertz.wav", rate=1, channels=1, data_bytes=20_000)
    wav_header(samples / "many-channels.wav", rate=44100, channels=200, data_bytes=40_000)
    values = np.sin(np.arange(22050) / 10).astype(np.float32)
    values[100], values[200] = np.nan, np.inf
    float_wav(samples / "nan.wav", values)
    done = run_djml(home, "scan", "-q", timeout=60)
    assert done.returncode == 1
    reasons = _reasons(home)
    assert "the header says 1 Hz" in reasons["one-hertz.wav"]
    assert "channels" in reasons["many-channels.wav"] and "refused" in reasons["many-channels.wav"]
    assert "NaN" in reasons["nan.wav"]
    assert "IndexError" not in done.stdout + done.stderr


def test_daemon_workers_run_under_the_configured_memory_cap(make_daemon):
    d = make_daemon(settle=0.3, extra_config="worker_memory_mb = 700\n")
    d.start()
    with d.client() as c:
        c.subscribe(["item.added"])
        d.drop(d.samples / "k.wav", "kick", seed=1)
        wait_for(c, lambda ev: bool(named(ev, "item.added")))
    workers = [pid for pid in children(d.proc.pid)
               if b"multiprocessing" in open(f"/proc/{pid}/cmdline", "rb").read()
               and b"resource_tracker" not in open(f"/proc/{pid}/cmdline", "rb").read()]
    assert workers
    for pid in workers:
        limits = open(f"/proc/{pid}/limits").read()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        assert re.split(r"\s{2,}", line)[1] == str(700 << 20), line
    assert d.stop() == 0
