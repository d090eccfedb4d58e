"""Issue 13, weak spots: a damaged library, a full disk under `djml scan`, protocol client
mistakes, idle connections by the thousand, and walk problems (link loops, dangling
links) shown where the user looks, not only in a log line."""

from __future__ import annotations

import json
import os
import resource
import socket
import time

from rel_support import fill_disk, init_library, query, run_djml, sample


def _damage(db) -> None:
    """Overwrite the middle of the file, as a failing disk or a crash of the file system would."""
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(max(4096, size // 3)))


def _library(tmp_path, n: int = 30):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    for i in range(n):
        sample(samples / f"s{i:02d}.wav", "perc", seed=i)
    assert run_djml(home, "scan", "-q").returncode == 0
    return home


def test_a_damaged_library_gets_a_clear_message_and_a_way_out(tmp_path):
    home = _library(tmp_path)
    db = home / "data" / "library.db"
    _damage(db)
    for args in (["ls"], ["status"], ["show", "s01"], ["scan", "-q"]):
        out = run_djml(home, *args)
        text = out.stdout + out.stderr
        assert "Traceback" not in text, (args, text)
        if out.returncode != 0:
            assert "damaged" in text and ".recover" in text, (args, text)
    daemon = run_djml(home, "daemon", "start", "--timeout", "30")
    text = daemon.stdout + daemon.stderr
    assert daemon.returncode != 0, text
    assert "damaged" in text and "Traceback" not in text


def test_scan_on_a_full_disk_says_disk_full_and_keeps_what_it_stored(tmp_path, mount_tmpfs):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    mount_tmpfs(home / "data", "16m")
    for i in range(40):
        sample(samples / f"s{i:02d}.wav", "perc", seed=i)
    filler = fill_disk(home / "data" / "filler", leave=400 << 10)
    out = run_djml(home, "scan", "-q")
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    assert out.returncode != 0 and "disk full" in text and "kept" in text, text
    filler.unlink()
    again = run_djml(home, "scan", "-q")
    assert again.returncode == 0, again.stdout + again.stderr
    assert query(home / "data" / "library.db", "SELECT COUNT(*) FROM items")[0][0] == 40


def _ask(sock: socket.socket, line: bytes) -> dict:
    sock.sendall(line + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data)


def test_protocol_client_mistakes_are_client_errors_logged_once(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    mistakes = [
        b'{"id": 1, "method": "query", "params": {"limit": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        b'{"id": 2, "method": "query", "params": {"limit": "ten"}}',
        b'{"id": 3, "method": "query", "params": {"offset": ' + b"9" * 400 + b"}}",
        b'{"id": 4, "method": "show", "params": {"ref": "a\\u0000b"}}',
        b'{"id": 5, "method": "show", "params": {"ref": "\\ud800"}}',
        b'{"id": 6, "method": "retry", "params": {"path": "/x\\u0000y.wav"}}',
    ]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(d.socket))
        for _ in range(20):
            for line in mistakes:
                answer = _ask(sock, line)
                assert "error" in answer, answer
                assert answer["error"]["code"] != "internal", (line[:80], answer)
        assert "result" in _ask(sock, b'{"id": 9, "method": "hello", "params": {}}')
    assert d.stop() == 0
    log = d.log.read_text()
    assert "Traceback" not in log
    assert log.count("logged once") <= len(mistakes)


def test_a_thousand_idle_connections_do_not_exhaust_the_daemon(make_daemon):
    d = make_daemon(settle=0.3)
    d.start()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    held = []
    try:
        for _ in range(1100):
            s = socket.socket(socket.AF_UNIX)
            for _attempt in range(500):      # a full listen backlog answers EAGAIN: wait a little
                try:
                    s.connect(str(d.socket))
                    break
                except BlockingIOError:
                    time.sleep(0.01)
            else:
                s.close()
                continue
            held.append(s)
        time.sleep(1.0)
        fds = len(os.listdir(f"/proc/{d.proc.pid}/fd"))
        assert len(held) > 1000 and fds < 600, (len(held), fds)   # the cap, not 1,100 sockets
        status = run_djml(d.home, "status", "--json")
        assert status.returncode == 0 or "too many connections" in status.stderr
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    time.sleep(0.5)
    assert json.loads(run_djml(d.home, "status", "--json").stdout)["daemon"] == "running"
    assert d.stop() == 0


def test_link_loops_and_dangling_links_are_shown_with_their_reasons(tmp_path):
    home, tracks, samples = tmp_path / "home", tmp_path / "tracks", tmp_path / "samples"
    init_library(home, tracks, samples)
    sample(samples / "pack" / "kick.wav", "kick", seed=1)
    os.symlink("..", samples / "pack" / "loop")                     # a `..` loop
    os.symlink(samples / "nowhere.wav", samples / "dangling.wav")
    os.symlink("self.wav", samples / "self.wav")                   # loops on itself
    out = run_djml(home, "scan", "-q")
    assert out.returncode == 1                 # the dangling links; the loop is only skipped
    assert "skipped" in out.stderr and "link loop" in out.stderr
    failed = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line)["error"]
              for line in run_djml(home, "ls", "--failed", "--json").stdout.splitlines()}
    assert "dangling" in failed["dangling.wav"] and "vanished" not in failed["dangling.wav"]
    assert "link loop" in failed["loop"]
    assert "self.wav" in failed
    db = home / "data" / "library.db"
    assert query(db, "SELECT COUNT(*) FROM items")[0][0] == 1
    assert query(db, "SELECT COUNT(*) FROM locations WHERE status = 'ok'")[0][0] == 1   # not twice
    status = run_djml(home, "status").stdout
    assert "3 file(s) failed" in status
