"""The daemon path: streamed listings (protocol 4), what the daemon keeps between requests,
the CLI's one-shot path without click, old clients and daemons, stalled readers, and the
daemon's one BLAS thread."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from daemon_support import DaemonProcess, running_daemon
from djml import db
from djml import protocol as p
from djml.client import Client, RemoteError
from djml.daemon import server as server_module
from djml.daemon.listing import new_cache
from djml.daemon.readcache import ReadCache
from djml.daemon.server import Server
from djml.oneshot import ANALYZE, LS, RECOMMEND, parse
from library_support import random_library

# -- protocol and parser units -----------------------------------------------------------


@pytest.mark.parametrize("asked, answered", [(3, 3), (4, 4), (None, p.PROTOCOL_VERSION), (2, p.PROTOCOL_VERSION),
                                             (99, p.PROTOCOL_VERSION)])
def test_hello_answers_an_older_served_client_in_its_own_version(asked, answered):
    assert p.answered_protocol(asked) == answered


def test_a_part_carries_any_text_losslessly_on_one_line():
    text = 'a "quoted" name\twith tab\nsecond line \x7f \udcff é\n'
    line = p.part(7, text)
    assert line.count(b"\n") == 1
    assert p.parse_message(line) == {"id": 7, "part": text}
    assert p.part_line("x", p.part_text("")) == b'{"id":"x","part":""}\n'


@pytest.mark.parametrize("params", [{}, {"format": 1}, {"format": "json", "limit": "3"}, {"format": "json", "x": 1}])
def test_query_lines_requests_are_checked_against_the_table(params):
    with pytest.raises(p.ProtocolError) as info:
        p.parse_request(p.request(1, "query.lines", params))
    assert info.value.code == p.INVALID_PARAMS


def test_the_one_shot_parser_takes_only_what_click_would_take_the_same_way():
    assert parse(LS, ["--json", "--bpm", "120-128", "-n", "5", "--desc", "--kind=track"], 0) == (
        {"json": True, "bpm": "120-128", "limit": 5, "descending": True, "kind": "track"}, [])
    assert parse(RECOMMEND, ["42", "--key", "strict", "-n", "3", "--bpm-tolerance", "4.5"], 1) == (
        {"key_mode": "strict", "n": 3, "bpm_tolerance": 4.5}, ["42"])
    refused = [(LS, ["--help"], 0), (LS, ["-n5"], 0), (LS, ["--limit", "0"], 0), (LS, ["--kind", "Track"], 0),
               (LS, ["--failed"], 0), (LS, ["--json=1"], 0), (LS, ["--bpm"], 0), (LS, ["extra"], 0),
               (LS, ["--", "--json"], 0), (RECOMMEND, [], 1), (RECOMMEND, ["1", "2"], 1),
               (RECOMMEND, ["1", "-n", "201"], 1), (RECOMMEND, ["1", "--bpm-tolerance", "0"], 1),
               (RECOMMEND, ["1", "--accept", "2"], 1), (RECOMMEND, ["1", "--key", "loose"], 1)]
    for spec, args, positionals in refused:
        assert parse(spec, args, positionals) is None, args


def test_read_cache_serves_only_the_version_it_was_read_at_and_stays_bounded():
    cache = ReadCache(entries=2, max_bytes=100)
    assert cache.put("a", 1, "A", 10) and cache.get("a", 1) == "A"
    assert cache.get("a", 2) is None                       # the library changed since
    assert not cache.put("huge", 1, "H", 26)               # over a quarter of the bytes: not kept
    cache.put("b", 1, "B", 10)
    cache.get("a", 1)                                      # a is now the most recent
    cache.put("c", 1, "C", 10)
    assert cache.get("b", 1) is None and cache.get("a", 1) == "A" and cache.get("c", 1) == "C"
    cache.put("d", 1, "D", 25), cache.put("e", 1, "E", 25), cache.put("f", 1, "F", 25)
    assert cache.status()["bytes"] <= 100 and cache.status()["entries"] <= 2


# -- the real server in this process, on a real library ------------------------------------


class ReaderService:
    """What the server and the reading handlers use of :class:`djml.daemon.service.Service`:
    one reader thread with its read-only connection, and the caches."""

    closing = False

    def __init__(self, db_path: Path):
        self._reader = ThreadPoolExecutor(1)
        self.read_conn = self._reader.submit(db.connect_readonly, db_path).result()
        self.lines = new_cache()
        self.answers = ReadCache(8)

    def read(self, fn, *args):
        return asyncio.get_running_loop().run_in_executor(self._reader, functools.partial(fn, *args))

    def remember(self, name, data) -> None:
        pass

    def close(self) -> None:
        self._reader.submit(self.read_conn.close).result()
        self._reader.shutdown()


@pytest.fixture(scope="module")
def library_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("served") / "library.db"
    random_library(path, 1500).conn.close()   # ~1 MB of JSON lines: more than the socket buffers hold
    return path


class ServerThread:
    """The daemon's server on its own loop in a thread, for blocking test clients."""

    def __init__(self, db_path: Path, socket_path: Path):
        self.service = ReaderService(db_path)
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self.server: Server | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        self.server = Server(self.service, self.socket_path)
        self.run(self.server.start())
        return self

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connections(self) -> int:
        async def count() -> int:
            return len(self.server._connections)
        return self.run(count())

    def __exit__(self, *exc) -> None:
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.service.close()


def raw(socket_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(str(socket_path))
    return sock


def read_lines(sock: socket.socket, until_id, buffer: bytearray) -> list[dict]:
    """Messages up to and including the response (result or error) with ``until_id``."""
    found = []
    while True:
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            message = json.loads(line)
            found.append(message)
            if message.get("id") == until_id and ("result" in message or "error" in message):
                return found
        chunk = sock.recv(1 << 16)
        assert chunk, f"connection closed; got {found[-2:]}"
        buffer += chunk


def test_streamed_lines_are_the_cli_lines_and_malformed_requests_leave_the_connection_open(library_db, tmp_path):
    from djml import query as q
    from djml.render import json_line, plain_line

    conn = db.connect_readonly(library_db)
    rows = q.list_items(conn, q.Filters(bpm=(119.95, 128.05), sort="bpm", descending=True))
    conn.close()
    with ServerThread(library_db, tmp_path / "s.sock"), raw(tmp_path / "s.sock") as sock:
        buffer = bytearray()
        sock.sendall(b'not json\n{"id": 1, "method": "query.lines", "params": {"format": "xml"}}\n'
                     b'{"id": 2, "method": "query.lines", "params": {"format": "json", "limit": 0}}\n'
                     b'{"id": 3, "method": "query.lines", "params": {"format": "json", "bpm": [1]}}\n'
                     b'{"id": 4, "method": "query.lines", "params": {"format": "json", "sort": "tempo"}}\n')
        errors = read_lines(sock, 4, buffer)
        assert [m["error"]["code"] for m in errors] == [p.PARSE_ERROR] + [p.INVALID_PARAMS] * 4
        for rid, fmt, render in ((5, "json", json_line), (6, "plain", plain_line), (7, "json", json_line)):
            sock.sendall(p.request(rid, "query.lines", {"format": fmt, "bpm": "120-128", "sort": "bpm",
                                                        "descending": True}))
            got = read_lines(sock, rid, buffer)
            parts, final = got[:-1], got[-1]
            assert len(parts) > 1 and len(parts[0]["part"].splitlines()) == 100   # a small first part
            assert "".join(m["part"] for m in parts) == "".join(render(r) for r in rows)
            assert final["result"] == {"count": len(rows), "cached": rid == 7}   # 7: 5 again, from the cache
        sock.sendall(p.request(8, "query.lines", {"format": "plain", "limit": 3, "offset": 2}))
        got = read_lines(sock, 8, buffer)
        conn = db.connect_readonly(library_db)
        expected = [plain_line(r) for r in q.list_items(conn, q.Filters(limit=3, offset=2))]
        conn.close()
        assert "".join(m["part"] for m in got[:-1]) == "".join(expected) and got[-1]["result"]["count"] == 3


def test_an_old_client_is_served_in_its_protocol_and_a_new_client_reads_streams(library_db, tmp_path):
    with ServerThread(library_db, tmp_path / "s.sock"), raw(tmp_path / "s.sock") as sock:
        buffer = bytearray()
        sock.sendall(p.request(1, "hello", {"client": "djml", "protocol": 3}))
        hello = read_lines(sock, 1, buffer)[-1]["result"]
        assert hello["protocol"] == 3 and "streams" not in hello
        sock.sendall(p.request(2, "query", {"limit": 2}))
        assert len(read_lines(sock, 2, buffer)[-1]["result"]["items"]) == 2
        with Client(tmp_path / "s.sock") as client:
            assert client.server["protocol"] == p.PROTOCOL_VERSION and "query.lines" in client.streams
            texts: list[str] = []
            result = client.call_streamed("query.lines", texts.append, format="plain", limit=150)
            assert result["count"] == 150 and len("".join(texts).splitlines()) == 150


def test_a_stalled_reader_is_dropped_and_never_holds_up_other_clients(library_db, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(server_module, "STALL_SECONDS", 2.0)
    with ServerThread(library_db, tmp_path / "s.sock") as served:
        stalled = raw(tmp_path / "s.sock")
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(p.request(1, "query.lines", {"format": "json"}))   # and never reads
        with Client(tmp_path / "s.sock") as other:    # served while the stalled one waits
            texts: list[str] = []
            assert other.call_streamed("query.lines", texts.append, format="json")["count"] == 1500
            assert len(other.call("query", limit=5)["items"]) == 5
        deadline = threading.Event()
        for _ in range(300):   # the server lets the stalled connection go (STALL_SECONDS)
            if served.connections() == 0:
                break
            deadline.wait(0.1)
        assert served.connections() == 0
        received = bytearray()
        while chunk := stalled.recv(1 << 16):
            received += chunk
        stalled.close()
        whole = bytes(received).split(b"\n")[:-1]   # the last piece may be cut mid-line
        assert whole and all("part" in json.loads(x) for x in whole)
        assert b'"result"' not in received        # cut off: the answer never finished
    assert any("read nothing for 2 s" in r.getMessage() for r in caplog.records)


class OldDaemon:
    """A protocol-3 daemon's answers: hello without streams, and `query` pages."""

    def __init__(self, socket_path: Path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(socket_path))
        self.listener.listen()
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    request = json.loads(line)
                    self.seen.append(request["method"])
                    result = ({"protocol": 3, "schema": 1, "version": "old", "pid": 1} if request["method"] == "hello"
                              else {"items": [], "limit": 100, "offset": 0, "more": False})
                    conn.sendall(p.response(request["id"], result))

    def close(self) -> None:
        self.listener.close()


def test_a_new_client_talks_to_an_old_daemon_without_streams(tmp_path, monkeypatch):
    from djml import oneshot

    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    monkeypatch.setenv("DJML_HOME", str(home))
    monkeypatch.delenv("DJML_CONFIG", raising=False)
    old = OldDaemon(home / "data" / "djml.sock")
    try:
        with Client(home / "data" / "djml.sock") as client:
            assert client.streams == frozenset()
            with pytest.raises(RemoteError):
                client.call_streamed("query.lines", print, format="json")
        assert oneshot.run(["ls", "--json"]) is None   # the click command pages with `query`
        assert "query.lines" not in old.seen
    finally:
        old.close()


# -- a real daemon --------------------------------------------------------------------------

# the daemon path loads none of what only the click command, the TOML parser or the
# library file need: each was a measurable share of `djml recommend` through the daemon
PROBE = ("import sys\nfrom djml.cli import main\nsys.argv = ['djml'] + sys.argv[1:]\n"
         "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
         "print('CLICK', 'click' in sys.modules, 'CODE', code, file=sys.stderr)\n"
         "print('LOADED', [m for m in ('typing', 'tomllib', 'dataclasses', 'sqlite3') if m in sys.modules],"
         " file=sys.stderr)\n")


def test_ls_and_recommend_through_the_daemon_skip_click_and_print_the_same(tmp_path):
    d = DaemonProcess(tmp_path / "home", tmp_path / "music")
    d.home.mkdir()
    d.write_config(settle=0.3)
    for i, kind in enumerate(["kick", "hihat", "clap", "snare"]):
        d.drop(d.samples / f"{kind}.wav", kind, seed=900 + i)
    assert d.djml("scan", "-q").returncode == 0
    commands = [("ls", "--json"), ("ls",), ("ls", "--kind", "sample", "-n", "2", "--sort", "name", "--desc"),
                ("ls", "--json", "--search", "kick"), ("ls", "--search", "nothing-like-this"),
                ("ls", "--kind", "Track"), ("ls", "--sort", "tempo"), ("ls", "--bpm", "fast"),
                ("recommend", "1"), ("recommend", "1", "--json", "-n", "2"), ("recommend", "999"),
                ("recommend", "1", "--key", "loose")]
    offline = {cmd: d.djml(*cmd) for cmd in commands}
    d.start()
    try:
        online = {cmd: d.djml(*cmd) for cmd in commands}
        for cmd in commands:
            assert (online[cmd].stdout, online[cmd].stderr, online[cmd].returncode) == (
                offline[cmd].stdout, offline[cmd].stderr, offline[cmd].returncode), cmd
        assert offline[("recommend", "999")].returncode == 2 and offline[("ls", "--kind", "Track")].returncode == 2
        for cmd, click in ((("ls", "--json"), False), (("ls",), False), (("recommend", "1", "--json"), False),
                           (("ls", "--search", "nothing-like-this"), True), (("ls", "--help"), True)):
            probe = subprocess.run([sys.executable, "-c", PROBE, *cmd], capture_output=True, text=True,
                                   env=d.env, timeout=60)
            assert f"CLICK {click} CODE 0" in probe.stderr, (cmd, probe.stderr)
            assert click or "LOADED []" in probe.stderr, (cmd, probe.stderr)
        # a change commits to the library: the listing kept by the daemon is not served again
        before = json.loads(d.djml("status", "--json").stdout)["caches"]["lines"]
        assert d.djml("ls", "--json").stdout == online[("ls", "--json")].stdout
        assert json.loads(d.djml("status", "--json").stdout)["caches"]["lines"]["hits"] == before["hits"] + 1
        assert d.djml("label", "1", "clap").returncode == 0
        labelled = [json.loads(x) for x in d.djml("ls", "--json").stdout.splitlines()]
        assert [r["label"] for r in labelled if r["id"] == 1] == ["clap"]
        assert d.stop() == 0
    finally:
        if d.alive:
            d.kill9()


def test_the_daemon_uses_one_blas_thread_unless_the_user_chose(tmp_path, monkeypatch):
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for home in ("home", "home2"):
        (tmp_path / home).mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music") as d:
        threads = json.loads(d.djml("status", "--json").stdout)["threads"]
        assert threads["chosen_by"] == "djml"
        assert threads["env"] == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        assert threads["pools"] and all(pool["threads"] == 1 for pool in threads["pools"])
        assert "threads:  BLAS/OpenMP openblas 1 (one thread, djml's default" in d.djml("status").stdout
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with running_daemon(tmp_path / "home2", tmp_path / "music2") as d:
        threads = json.loads(d.djml("status", "--json").stdout)["threads"]
        assert threads["chosen_by"] == "user"
        assert threads["env"] == {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None}
        assert [pool["threads"] for pool in threads["pools"] if pool["api"] == "openblas"] == [2]
        assert "(your OMP_NUM_THREADS=2)" in d.djml("status").stdout


def test_recommendations_are_kept_until_the_library_changes(tmp_path):
    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music") as d:
        for i, kind in enumerate(["kick", "kick", "hihat"]):
            d.drop(d.samples / f"{kind}{i}.wav", kind, seed=950 + i)
        with d.client() as client:
            def hits() -> int:
                return client.call("status")["caches"]["recommend"]["hits"]

            for _ in range(300):   # once analysed, predicted and indexed, a repeated request is a hit
                if client.call("status")["library"]["samples"] == 3:
                    before = hits()
                    first = client.call("recommend", ref=1, options={"n": 2})
                    if client.call("recommend", ref=1, options={"n": 2}) == first and hits() == before + 1:
                        break
                threading.Event().wait(0.2)
            else:
                raise AssertionError(f"a repeated recommendation was never served again: {client.call('status')}")
            client.call("label.set", item_id=1, label="hihat")   # a commit: nothing kept is used
            before = hits()
            client.call("recommend", ref=1, options={"n": 2})
            assert hits() == before
            client.call("recommend", ref=1, options={"n": 2})
            assert hits() == before + 1


TOML_TEXTS = [
    "", 'data_dir = "/d"\n', "data_dir = '/d' # mine\nruntime_dir = \"/r\"\n", '  data_dir="rel/d"\r\nx = 1\n',
    'library = ["/m/data_dir"]\n', '# data_dir = "/old"\ndata_dir = "/d"\n', '[t]\ndata_dir = "/d"\n',
    'data_dir = "/a"\ndata_dir = "/b"\n', 'data_dir = "/d\\\\e"\n', '"data_dir" = "/d"\n', "data_dir.x = 1\n",
    'x = """\ndata_dir = "/d"\n"""\n', 'x = "\\u0041"\ndata_dir = "/d"\n', "data_dir = 3\n",
    'library = [\n  "/m",\n]\nruntime_dir = "/r"\n', "data_dir = '/it''s'\n", 'data_dir = "/d" x\n',
]


READ_SIMPLY = {TOML_TEXTS[i] for i in (0, 1, 2, 3, 14)}   # the rest go to the TOML parser


@pytest.mark.parametrize("text", TOML_TEXTS)
def test_the_socket_is_found_without_the_toml_parser_only_when_that_reads_the_same(text):
    import tomllib

    from djml.locate import simple_dirs

    simple = simple_dirs(text)
    assert (simple is not None) == (text in READ_SIMPLY), simple
    if simple is not None:
        parsed = tomllib.loads(text)
        assert simple == {k: parsed[k] for k in ("data_dir", "runtime_dir") if k in parsed}


def test_the_config_djml_init_writes_is_read_without_the_toml_parser(run_djml, djml_home, tmp_path):
    import tomllib

    from djml.locate import simple_dirs, socket_path
    from djml.config import load

    (tmp_path / "tracks").mkdir()
    run_djml("init", "--library", str(tmp_path / "tracks"), check=True)
    text = (djml_home / "config.toml").read_text()
    assert simple_dirs(text) == {"data_dir": tomllib.loads(text)["data_dir"]}
    assert socket_path() == load().socket_path


@pytest.mark.parametrize("command,spec,positionals", [("ls", LS, 0), ("recommend", RECOMMEND, 1),
                                                      ("analyze", ANALYZE, -1)])
def test_the_one_shot_parser_spec_follows_the_click_command(command, spec, positionals):
    """The strict parser's table is checked against click's own options, so an option added
    to (or changed in) the click command cannot be mis-read by the fast path: every option
    it takes exists in click with the same flag-ness, spellings of one click option share
    one name, and every click option it does not know sends the command to click."""
    import importlib

    from djml.cli import COMMANDS

    module, attr, _ = COMMANDS[command]
    click_command = getattr(importlib.import_module(f"djml.commands.{module}"), attr)
    options = [p for p in click_command.params if p.param_type_name == "option"]
    by_spelling = {opt: p for p in options for opt in p.opts}
    for spelling, (name, converter) in spec.items():
        assert spelling in by_spelling, f"{spelling} is not an option of `djml {command}`"
        assert (converter is None) == bool(by_spelling[spelling].is_flag), spelling
    for p in options:
        names = {spec[opt][0] for opt in p.opts if opt in spec}
        assert len(names) <= 1, (p.opts, names)
        if not names:
            args = ["x"] * positionals + [p.opts[0]] + ([] if p.is_flag else ["1"])
            assert parse(spec, args, positionals) is None, p.opts
