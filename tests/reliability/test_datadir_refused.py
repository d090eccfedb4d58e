"""Issue 13: `retry` and `scan` accepted paths inside the data folder, and the daemon
decoded its own database as audio. Refused with a reason, on the command line and over
the protocol, with and without a daemon."""

from __future__ import annotations

import pytest

from djml.client import RemoteError
from files_support import djml, library_paths, text, write_track
from daemon_support import running_daemon


def test_scan_refuses_the_data_folder_without_a_daemon(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    write_track(music / "a.wav", seconds=2.0)
    djml(home, "init", "--library", music, check=True)
    djml(home, "scan", check=True)
    data = home / "data"
    for target in (data, data / "library.db"):
        proc = djml(home, "scan", target, text=True)
        assert proc.returncode == 2, text(proc)
        assert "inside djml's data folder" in proc.stderr and "not music" in proc.stderr
    assert library_paths(home) == [str(music / "a.wav")]


def test_the_daemon_refuses_to_scan_or_retry_its_data_folder(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    home.mkdir()
    with running_daemon(home, music) as d:
        data = home / "data"
        with d.client() as client:
            for method, params in (("retry", {"path": str(data / "library.db")}),
                                   ("scan", {"paths": [str(data)]}),
                                   ("scan", {"paths": [str(data / "library.db")]})):
                with pytest.raises(RemoteError) as refused:
                    client.call(method, **params)
                assert refused.value.code == "forbidden"
                assert "inside djml's data folder" in refused.value.message
        assert d.count("SELECT COUNT(*) FROM jobs") == 0
        proc = d.djml("scan", str(data / "library.db"))
        assert proc.returncode == 2 and "inside djml's data folder" in proc.stderr
