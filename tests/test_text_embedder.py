"""The text model runs in a worker process that exits after an idle period, so a daemon
that embedded once does not keep torch and the weights (~450 MB) for good."""

from __future__ import annotations

import os
import subprocess
import sys
import time

TEXTS = ["Artist 1 - Night Bus, House, BPM 124, key A minor (8A)", "Artist 2 - Dawn, Techno, BPM 130, key unknown"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_embeddings_come_from_a_worker_that_stops_when_idle():
    import numpy as np

    from djml.models.embedder import Embedder

    embedder = Embedder(idle_seconds=1.0)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(vectors[0], vectors[1])
    assert embedder.loaded and embedder.status()["peak_rss_mb"] > 0
    workers = [p.pid for p in embedder._pool._processes.values()]
    assert workers and all(_alive(pid) for pid in workers)
    deadline = time.monotonic() + 120           # a loaded machine: torch takes a while to exit
    while embedder.loaded and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not embedder.loaded                  # only once the worker has exited
    assert not any(_alive(pid) for pid in workers)
    again = embedder.embed(TEXTS[:1])             # loads again on demand, same answer
    assert np.allclose(again[0], vectors[0], atol=1e-5) and embedder.status()["loads"] == 2
    embedder.unload()
    assert not embedder.loaded


def test_the_embedding_process_keeps_torch_out_of_the_caller():
    code = ("import sys\nfrom djml.models import text\nv = text.embed(" + repr(TEXTS) + ")\n"
            "print(v.shape, [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ})
    assert proc.stdout.strip().splitlines()[-1] == "(2, 384) []", proc.stdout + proc.stderr


def test_status_line_tells_whether_the_model_is_loaded_and_its_peak():
    from djml.commands.daemon import _memory_line
    from djml.models.embedder import Embedder

    idle = Embedder(idle_seconds=120).status()
    assert idle == {"loaded": False, "loads": 0, "idle_unload_seconds": 120, "peak_rss_mb": None}
    assert _memory_line({"rss_mb": 71.4, "text_model": idle}) == \
        "daemon 71 MB; text model not loaded (unloads after 120 s idle)"
    used = {**idle, "loaded": True, "loads": 1, "peak_rss_mb": 494}
    assert _memory_line({"rss_mb": 85.0, "text_model": used}) == \
        "daemon 85 MB; text model loaded (unloads after 120 s idle, peak 494 MB while embedding)"
