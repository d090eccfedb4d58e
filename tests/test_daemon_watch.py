"""A real daemon watching real folders: drops, slow copies, moves, renames, deletes, and
the socket under abuse. One daemon serves the whole module (starting the analysis workers
is the slow part); each test works in its own sub-folder."""

from __future__ import annotations

import json
import os
import random
import socket
import stat
import threading
import time

import pytest

from daemon_support import named, running_daemon, wait_for
from djml import protocol as p
from djml import synth
from djml.client import RemoteError


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_daemon(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("music"), settle=0.5) as d:
        yield d


def added_paths(events):
    return {data["path"] for data in named(events, "item.added")}


def test_dropped_files_are_analysed_once_and_announced(daemon):
    with daemon.client() as c:
        c.subscribe(["item.added", "item.failed"])
        folder = daemon.samples / "drop"
        paths = {str(daemon.drop(folder / f"hit{i}.wav", "snare", seed=100 + i)) for i in range(3)}
        # a plain write (create, modify, close) rather than a rename
        direct = folder / "direct.wav"
        synth.write_wav(direct, synth.one_shot("clap", seed=7))
        paths.add(str(direct))
        events = wait_for(c, lambda ev: paths <= added_paths(ev))
        assert not named(events, "item.failed")
        ids = {d["item_id"] for d in named(events, "item.added")}
        assert len(ids) == 4
        listed = c.call("query", kind="sample", limit=1000)["items"]
        assert paths <= {row["path"] for row in listed}
        time.sleep(1.0)  # nothing is analysed twice after the settle time
        assert daemon.count("SELECT COUNT(*) FROM items WHERE kind = 'sample'") >= 4
        assert all(c.call("show", ref=i)["id"] == i for i in ids)


def test_slow_chunked_copy_is_analysed_exactly_once(daemon):
    audio = synth.drum_track(126, 9, 6.0, seed=11)
    source = daemon.home / "source.wav"
    synth.write_wav(source, audio)
    data = source.read_bytes()
    target = daemon.tracks / "slow" / "copy.wav"
    target.parent.mkdir(parents=True)
    with daemon.client() as c:
        c.subscribe(["item.added", "item.updated", "item.failed"])
        with open(target, "wb") as out:  # ~2.4 s of trickling: several settle periods long
            chunk = len(data) // 12
            for start in range(0, len(data), chunk):
                out.write(data[start:start + chunk])
                out.flush()
                time.sleep(0.2)
        events = wait_for(c, lambda ev: str(target) in added_paths(ev))
        events += list(c.events(timeout=2.0))
    stored = [d for name in ("item.added", "item.updated", "item.failed") for d in named(events, name)
              if d["path"] == str(target)]
    assert len(stored) == 1, stored
    assert daemon.count("SELECT COUNT(*) FROM locations WHERE path = ?", str(target)) == 1


def test_rename_move_folder_move_and_delete_keep_identity(daemon):
    folder = daemon.samples / "moves"
    with daemon.client() as c:
        c.subscribe(["item.added", "item.updated", "item.missing"])
        a, b = daemon.drop(folder / "a.wav", "hihat", seed=201), daemon.drop(folder / "sub" / "b.wav", "tom", seed=202)
        events = wait_for(c, lambda ev: {str(a), str(b)} <= added_paths(ev))
        ids = {d["path"]: d["item_id"] for d in named(events, "item.added")}
        renamed = folder / "a-renamed.wav"
        os.rename(a, renamed)
        events = wait_for(c, lambda ev: any(d["path"] == str(renamed) for d in named(ev, "item.updated")))
        assert named(events, "item.updated")[-1]["item_id"] == ids[str(a)]
        moved_dir = folder / "sub-moved"
        os.rename(folder / "sub", moved_dir)
        events = wait_for(c, lambda ev: any(d["path"] == str(moved_dir / "b.wav") for d in named(ev, "item.updated")))
        assert named(events, "item.updated")[-1]["item_id"] == ids[str(b)]
        os.remove(renamed)
        events = wait_for(c, lambda ev: named(ev, "item.missing"))
        assert named(events, "item.missing")[0]["item_ids"] == [ids[str(a)]]
        info = c.call("show", ref=ids[str(a)])
        assert info["missing"] is True
        assert c.call("show", ref=ids[str(b)])["path"] == str(moved_dir / "b.wav")
    assert daemon.count("SELECT COUNT(*) FROM items WHERE id IN (?, ?)", *ids.values()) == 2


def test_bad_file_is_recorded_failed_with_reason(daemon):
    with daemon.client() as c:
        c.subscribe(["item.failed"])
        bad = daemon.samples / "bad" / "noise.wav"
        bad.parent.mkdir()
        bad.write_bytes(b"RIFF this is not really a wave file" * 10)
        events = wait_for(c, lambda ev: any(d["final"] for d in named(ev, "item.failed")), timeout=60)
        final = [d for d in named(events, "item.failed") if d["final"]][0]
        assert final["path"] == str(bad) and final["error"]
        assert final["attempts"] == 3
        failed = c.call("failed")
        assert any(row["path"] == str(bad) for row in failed)
        retried = c.call("retry", path=str(bad))
        assert retried["queued"] is True


def test_socket_is_private(daemon):
    mode = stat.S_IMODE(os.stat(daemon.socket).st_mode)
    assert mode == 0o600


def test_paths_outside_configured_folders_are_forbidden(daemon, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    sneaky = daemon.samples / "link-out"
    sneaky.symlink_to(outside)
    with daemon.client() as c:
        for path in ("/etc", str(daemon.samples / ".." / ".." ), str(sneaky)):
            with pytest.raises(RemoteError) as info:
                c.call("scan", paths=[path])
            assert info.value.code == "forbidden"
        with pytest.raises(RemoteError) as info:
            c.call("retry", path="/etc/passwd")
        assert info.value.code == "forbidden"
        with pytest.raises(RemoteError) as info:
            c.call("retry", path="relative.wav")
        assert info.value.code == "invalid_params"
    sneaky.unlink()


def _raw(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(sock_path))
    return s, s.makefile("rb")


def test_random_and_malformed_lines_never_kill_the_daemon(daemon):
    rng = random.Random(1234)
    methods = list(p.METHODS)
    templates = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))).replace(b"\n", b" "),
        lambda: b"{" * rng.randint(1, 50),
        lambda: json.dumps(rng.choice([[], 1, "x", None, {"id": 1}, {"method": 5}])).encode(),
        lambda: json.dumps({"id": rng.randint(0, 9), "method": rng.choice(methods),
                            "params": {rng.choice(["ref", "item_id", "paths", "x", "task", "events"]):
                                       rng.choice([None, 1, -1, "x", [], {}, ["/etc"], True, 1e308])}}).encode(),
        lambda: json.dumps({"id": 1, "method": "query", "params": {"bpm": rng.choice(["abc", "1-", [1], [1, 2, 3]]),
                                                                  "key": rng.choice(["Q#", 99, "8A"])}}).encode(),
    ]
    sock, reader = _raw(daemon.socket)
    lines = [rng.choice(templates)() for _ in range(3000)]
    lines = [line for line in lines if b"shutdown" not in line and b'"train"' not in line]
    sock.sendall(b"\n".join(lines) + b"\n")
    replies = []
    for line in lines:
        if not line.strip():
            continue
        replies.append(json.loads(reader.readline()))
    codes = {r["error"]["code"] for r in replies if "error" in r}
    assert codes <= p.ERROR_CODES
    assert {"parse_error", "invalid_request", "invalid_params"} <= codes
    assert "internal" not in codes, [r for r in replies if r.get("error", {}).get("code") == "internal"][:3]
    sock.close()
    with daemon.client() as c:
        assert c.call("status")["pid"] == daemon.proc.pid


def test_oversized_line_gets_too_large_and_a_close(daemon):
    sock, reader = _raw(daemon.socket)
    sock.sendall(b'{"id": 1, "method": "status", "params": {"x": "' + b"a" * (p.MAX_LINE_BYTES + 10) + b'"}}\n')
    reply = json.loads(reader.readline())
    assert reply["error"]["code"] == "too_large"
    assert reader.readline() == b""  # closed
    sock.close()
    assert daemon.alive


def test_two_clients_at_once_and_client_disconnect_mid_request(daemon):
    results, errors = [], []

    def worker():
        try:
            with daemon.client() as c:
                for _ in range(50):
                    results.append(c.call("status")["pid"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    sock, _ = _raw(daemon.socket)  # a client that vanishes with a request in flight
    sock.sendall(b'{"id": 1, "method": "query", "params": {"limit": 5000}}\n')
    sock.close()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 100 and set(results) == {daemon.proc.pid}


def test_typed_errors_for_missing_things(daemon):
    with daemon.client() as c:
        with pytest.raises(RemoteError) as info:
            c.call("show", ref=999999)
        assert info.value.code == "not_found"
        with pytest.raises(RemoteError) as info:
            c.call("label.set", item_id=999999, task="bucket", label="closing")
        assert info.value.code == "not_found"
        with pytest.raises(RemoteError) as info:
            c.call("label.set", item_id=1, task="nonsense", label="x")
        assert info.value.code == "invalid_params"
        with pytest.raises(RemoteError) as info:
            c.call("subscribe", events=["no.such.event"])
        assert info.value.code == "invalid_params"


def test_labels_through_the_daemon(daemon):
    with daemon.client() as c:
        c.subscribe(["item.added"])
        path = daemon.drop(daemon.samples / "label" / "l.wav", "snare", seed=301)
        events = wait_for(c, lambda ev: str(path) in added_paths(ev))
        item = {"id": named(events, "item.added")[-1]["item_id"]}
        c.call("unsubscribe")
        c.subscribe(["review.changed"])
        result = c.call("label.set", item_id=item["id"], task="sample_type", label="snare")
        assert result["label"] == "snare"
        assert c.next_event(timeout=5)[0] == "review.changed"
        assert any(lab["label"] == "snare" for lab in c.call("show", ref=item["id"])["labels"])
        assert c.call("label.undo", item_id=item["id"], task="sample_type")["label"] is None
        assert isinstance(c.call("review.list", limit=5), list)
        assert isinstance(c.call("models.list"), list)


def test_rate_limited_replies_carry_the_request_id(daemon):
    """A client that floods past the burst allowance gets rate_limited errors it can match
    to its calls (an error without the id would leave a waiting client hanging)."""
    s, reader = _raw(daemon.socket)
    try:
        n = p.RATE_BURST + 1500
        s.sendall(b"".join(p.request(i, "hello", {}) for i in range(1, n + 1)))
        replies = [json.loads(reader.readline()) for _ in range(n)]
    finally:
        s.close()
    # Whether the bucket runs dry depends on how fast this machine answers; what must hold
    # either way is that every reply names its request (the bucket itself is tested below).
    assert [r["id"] for r in replies] == list(range(1, n + 1))
    assert {r["error"]["code"] for r in replies if "error" in r} <= {p.RATE_LIMITED}
    with daemon.client() as c:  # other connections are unaffected
        assert c.call("hello")["protocol"] == p.PROTOCOL_VERSION


def test_token_bucket_allows_the_burst_then_the_sustained_rate(monkeypatch):
    from djml.daemon import server

    clock = [1000.0]
    monkeypatch.setattr(server.time, "monotonic", lambda: clock[0])
    conn = server._Connection(writer=None)
    assert all(conn.allow() for _ in range(p.RATE_BURST))
    assert not conn.allow()
    clock[0] += 0.5  # half a second refills half the sustained rate
    allowed = sum(conn.allow() for _ in range(p.RATE_BURST))
    assert allowed == int(0.5 * p.RATE_PER_SECOND)
