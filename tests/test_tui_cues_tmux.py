"""The energy strip end to end: a generated track with known sections in a watched folder,
`djml tui` in tmux (80×24, NO_COLOR), `d` starts the daemon, which analyses the track; the
library screen shows the focused track's strip with its cues marked, from the daemon's
``show`` over the socket. The daemon is stopped by the pid in its pid file."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from djml import keys, synth
from test_tui_tmux import start_tui, stop_own_daemon, wait_for

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]
FULL = {"kick", "clap", "hihat", "bass", "chords"}


def test_library_strip_marks_the_cues_of_the_focused_track(tmp_path):
    home, tracks = tmp_path / "home", tmp_path / "tracks"
    home.mkdir()
    tracks.mkdir()
    (home / "config.toml").write_text(f'library = ["{tracks}"]\nworkers = 1\nsettle_seconds = 0.2\n')
    sections = [(16, {"chords"}), (32, FULL), (16, {"chords", "hihat"}), (32, FULL), (16, {"kick", "clap", "hihat"})]
    synth.write_wav(tracks / "arranged.wav",
                    synth.arrangement(128.0, keys.parse("8A"), sections, style="breakbeat", seed=2))
    session = start_tui(home, "cues")
    pid_file = home / "data" / "daemon.pid"
    try:
        wait_for(session, "No djml daemon is running")
        subprocess.run(["tmux", "send-keys", "-t", session, "d"], check=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:      # until the daemon has analysed the track
            subprocess.run(["tmux", "send-keys", "-t", session, "L"], check=True)
            subprocess.run(["tmux", "send-keys", "-t", session, "r"], check=True)
            try:
                screen = wait_for(session, "I 17", timeout=3)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("the strip never showed the intro end at bar 17")
        line = next(x for x in screen.splitlines() if "I 17" in x)
        assert "▶" in line and "B 49" in line and "D 65" in line and "O 97" in line, line
        assert any(ch in line for ch in "▁▂▃▄▅▆▇█"), line
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        stop_own_daemon(pid_file)
