"""`djml analyze` served by a running daemon (protocol ``analyze``): the same output as
the command analysing alone, the files read through the client's own open descriptors
(never a name), and every malformed request answered without harm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon_support import DaemonProcess, running_daemon
from djml import protocol as p
from djml import synth
from djml.client import RemoteError

PROBE = ("import sys\nfrom djml.cli import main\nsys.argv = ['djml'] + sys.argv[1:]\n"
         "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
         "print('CLICK', 'click' in sys.modules, 'NUMPY', 'numpy' in sys.modules, 'CODE', code, file=sys.stderr)\n")


def _files(folder: Path) -> list[Path]:
    """Outside the daemon's folders: a one-shot, a 35-s track, an odd name, and files
    that are not audio at all."""
    folder.mkdir()
    shot = synth.write_wav(folder / "kick.wav", synth.one_shot("kick", seed=3))
    track = synth.write_wav(folder / "groove.wav", synth.drum_track(124.0, 21, 35.0, style="four_on_floor", seed=2))
    odd = folder / os.fsdecode(b"caf\xe9 clap.wav")
    odd.write_bytes(synth.write_wav(folder / "tmp.wav", synth.one_shot("clap", seed=4)).read_bytes())
    (folder / "tmp.wav").unlink()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("not audio\n")
    return [shot, track, odd, folder / "empty.wav", folder / "notes.wav", folder]


def test_a_running_daemon_analyses_the_files_and_prints_what_the_command_prints_alone(tmp_path):
    d = DaemonProcess(tmp_path / "home", tmp_path / "music")
    d.home.mkdir()
    d.write_config(settle=0.3)
    files = [str(f) for f in _files(tmp_path / "elsewhere")]
    commands = [("analyze", "--json", *files), ("analyze", *files), ("analyze", "--kind", "sample", "--json", files[1]),
                ("analyze", "--json", files[0], str(tmp_path / "missing.wav"))]
    alone = {cmd: d.djml(*cmd) for cmd in commands}
    d.start()
    try:
        served = {cmd: d.djml(*cmd) for cmd in commands}
        for cmd in commands:
            assert (served[cmd].stdout, served[cmd].returncode) == (alone[cmd].stdout, alone[cmd].returncode), cmd
        rows = [json.loads(line) for line in served[commands[0]].stdout.splitlines()]
        assert [r["path"] for r in rows] == files and served[commands[0]].returncode == 1
        assert rows[1]["kind"] == "track" and abs(rows[1]["bpm"] - 124) < 1 and "error" in rows[4]
        for cmd, click in ((("analyze", "--json", files[0]), False), (("analyze", files[0], files[1]), False),
                           (("analyze", "--workers", "1", files[0]), True),
                           (("analyze", files[0], str(tmp_path / "missing.wav")), True)):
            probe = subprocess.run([sys.executable, "-c", PROBE, *cmd], capture_output=True, text=True,
                                   env=d.env, timeout=120)
            assert f"CLICK {click} NUMPY False CODE" in probe.stderr, (cmd, probe.stderr)
        assert d.stop() == 0
    finally:
        if d.alive:
            d.kill9()
    assert "Traceback" not in d.log.read_text()


def test_the_daemon_reads_the_file_the_client_opened_and_refuses_what_it_holds_no_descriptor_for(tmp_path):
    files = _files(tmp_path / "elsewhere")
    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music") as d, d.client(timeout=120) as client:
        shot = os.open(files[0], os.O_RDONLY)
        database = os.open(d.home / "data" / "library.db", os.O_RDONLY)
        try:
            # the name now holds a 35-s track: what is analysed is still the one-shot opened
            os.replace(files[1], files[0])
            rows = client.call("analyze", files=[{"fd": shot, "suffix": ".wav"}, {"fd": database, "suffix": ".db"},
                                                 {"fd": 999_999, "suffix": ".wav"}])["rows"]
        finally:
            os.close(shot), os.close(database)
        assert rows[0]["kind"] == "sample" and rows[0]["duration"] < 2, rows[0]
        assert rows[1]["error"] == "refused: inside djml's data folder, not music"
        assert rows[2]["error"] == "the client holds no such open file"
        for params in ({"files": []}, {"files": [{"fd": "3"}]}, {"files": [{"fd": 3, "suffix": 7}]},
                       {"files": [{"fd": 3, "path": "/etc/passwd"}]}, {"files": [3]},
                       {"files": [{"fd": -1}]}, {"files": [{"fd": 3}], "kind": "loop"},
                       {"files": [{"fd": 3}] * (p.ANALYZE_MAX_FILES + 1)}):
            with pytest.raises(RemoteError) as info:
                client.call("analyze", **params)
            assert info.value.code == p.INVALID_PARAMS, params
        assert client.call("status")["pid"] == d.proc.pid   # the connection goes on
