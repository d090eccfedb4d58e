"""After analysis the daemon predicts, embeds text, indexes, recommends and retrains:
one real daemon, real generated tracks and samples, the real socket."""

from __future__ import annotations

import os
import time

import pytest

from djml import keys, synth
from daemon_support import DaemonProcess, named, running_daemon, wait_for

TRACKS = [(122, "Am", "House"), (124, "Em", "House"), (126, "Am", "Techno"), (128, "Dm", "Techno")]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_daemon(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("music"),
                        extra_config="retrain_after = 2\n", settle=0.3, embed_text=True) as d:
        yield d


def _drop_track(d: DaemonProcess, i: int, bpm: int, key: str, genre: str):
    from mutagen.flac import FLAC

    staging = d.music / "staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / f"t{i}.flac"
    synth.write_wav(tmp, synth.drum_track(bpm, keys.parse(key), 16.0, seed=i))
    tags = FLAC(tmp)
    tags["artist"], tags["title"], tags["genre"] = f"Artist {i}", f"Track {i}", genre
    tags.save()
    final = d.tracks / f"t{i}.flac"
    os.replace(tmp, final)
    return str(final)


def test_items_get_predictions_text_vectors_index_and_recommendations(daemon):
    with daemon.client(timeout=120) as c:
        c.subscribe(["item.added", "review.changed"])
        paths = {_drop_track(daemon, i, bpm, key, genre) for i, (bpm, key, genre) in enumerate(TRACKS)}
        kick = str(daemon.drop(daemon.samples / "Kicks" / "k.wav", "kick", seed=5))
        wanted = paths | {kick}
        events = wait_for(c, lambda ev: wanted <= {d["path"] for d in named(ev, "item.added")}, timeout=180)
        # predictions and embeddings follow the store in batches: the review event may come
        # before the last item is added (workers are warm), or after
        if not named(events, "review.changed"):
            wait_for(c, lambda ev: bool(named(ev, "review.changed")), timeout=120)
        ids = {d["path"]: d["item_id"] for d in named(events, "item.added")}

        def enriched() -> bool:   # the last batch may still be running
            kick_info = c.call("show", ref=ids[kick])
            return (any(p["task"] == "sample_type" for p in kick_info["predictions"])
                    and daemon.count("SELECT COUNT(*) FROM vectors WHERE space = 'text'") == len(TRACKS))

        deadline = time.monotonic() + 120
        while not enriched() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert enriched()
        assert (daemon.home / "data" / "index").is_dir()
        seed = ids[sorted(paths)[0]]
        recs = c.call("recommend", ref=seed, options={"n": 3})
        items = recs["items"]
        assert recs["seed"]["id"] == seed and recs["seed"]["resolved"]["how"] == "id"
        assert items and all(r["id"] != seed for r in items)
        accepted = c.call("recommend.accept", ref=seed, item_id=items[0]["id"], options={"n": 3})
        assert accepted["accepted"] == items[0]["id"]
        assert daemon.count("SELECT COUNT(*) FROM feedback") >= 1


def test_enough_new_labels_retrain_in_the_background(daemon):
    """A personal model needs 10 labels in 2 classes (folder names count as weak labels);
    with retrain_after = 2, corrections then start training in the background and
    model.trained announces the result."""
    with daemon.client(timeout=120) as c:
        c.subscribe(["item.added", "model.trained"])
        hits = [("kick" if i % 2 else "snare", i) for i in range(10)]
        paths = {str(daemon.drop(daemon.samples / "More" / f"{kind}{i}.wav", kind, seed=40 + i)): kind
                 for kind, i in hits}
        events = wait_for(c, lambda ev: set(paths) <= {d["path"] for d in named(ev, "item.added")})
        replies = [c.call("label.set", item_id=d["item_id"], task="sample_type", label=paths[d["path"]])
                   for d in named(events, "item.added") if d["path"] in paths]
        assert not replies[0].get("training")  # one label is not enough for a personal model
        assert any(r.get("training") for r in replies)
        events = wait_for(c, lambda ev: bool(named(ev, "model.trained")), timeout=300)
        trained = named(events, "model.trained")[0]
        assert trained["task"] == "sample_type" and "error" not in trained, trained
        assert daemon.count("SELECT COUNT(*) FROM models WHERE task = 'sample_type'") >= 2


def test_the_log_holds_no_progress_bars_or_decoder_chatter(daemon):
    """A damaged MP3 made libmpg123 print resync notes into the log, and loading the text
    model drew a tqdm bar; the log is for djml's own lines."""
    with daemon.client(timeout=120) as c:
        c.subscribe(["item.failed"])
        _drop_track(daemon, 99, 125, "Gm", "Disco")   # text embeddings load the sentence model
        staging = daemon.music / "staging"
        staging.mkdir(exist_ok=True)
        bad = staging / "damaged.mp3"
        bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x00" + bytes(range(256)) * 3) * 40)
        os.replace(bad, daemon.tracks / "damaged.mp3")
        wait_for(c, lambda ev: any(d["path"].endswith("damaged.mp3") for d in named(ev, "item.failed")), 120)
    deadline = time.monotonic() + 120
    while daemon.count("SELECT COUNT(*) FROM vectors WHERE space = 'text'") == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert daemon.count("SELECT COUNT(*) FROM vectors WHERE space = 'text'") > 0   # the model did load
    log = daemon.log.read_text(errors="replace")
    for noise in ("libmpg123", "resync", "Loading weights", "\r", "it/s]"):
        assert noise not in log, noise
