"""Issue 13.10: `tags undo` marked a batch undone although it refused a file, so that
file's change could never be undone (write, touch one file, undo, scan, undo → "nothing to
undo"). Refused files stay in the batch, the message says why and how to go on."""

from __future__ import annotations

import os

from djml.interop.tagio import TagFile
from files_support import djml, scanned_library, text


def test_a_refused_file_can_be_undone_after_a_scan(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music, count=3)
    before = {t: TagFile(t).get("bpm") for t in tracks}
    wrote = djml(home, "tags", "write", check=True)
    assert all(TagFile(t).get("bpm") for t in tracks), text(wrote)
    touched = tracks[1]
    st = os.stat(touched)
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))   # `touch`
    first = djml(home, "tags", "undo", text=True)
    assert first.returncode == 1
    assert f"refused {touched}" in first.stderr and "djml scan" in first.stderr
    assert "still to undo" in first.stderr and "--force" in first.stderr
    assert TagFile(touched).get("bpm") is not None                      # left as it was
    assert [TagFile(t).get("bpm") for t in (tracks[0], tracks[2])] == [before[tracks[0]], before[tracks[2]]]
    history = djml(home, "tags", "history", text=True, check=True).stdout
    assert "partly undone: 1 still to undo" in history
    djml(home, "scan", check=True)
    second = djml(home, "tags", "undo", text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"restored {touched}" in second.stdout
    assert TagFile(touched).get("bpm") == before[touched]
    assert "(undone)" in djml(home, "tags", "history", text=True, check=True).stdout
    third = djml(home, "tags", "undo", text=True)
    assert third.returncode != 0 and "nothing to undo" in third.stderr


def test_force_restores_a_field_edited_since(tmp_path):
    home, music = tmp_path / "home", tmp_path / "music"
    tracks = scanned_library(home, music, count=1)
    djml(home, "tags", "write", check=True)
    edited = TagFile(tracks[0])
    edited.set("key", "Gm")
    edited.save()
    djml(home, "scan", check=True)
    plain = djml(home, "tags", "undo", text=True)
    assert plain.returncode == 1 and "key was changed since djml wrote it" in plain.stderr
    assert TagFile(tracks[0]).get("key") == "Gm" and TagFile(tracks[0]).get("bpm") is None
    forced = djml(home, "tags", "undo", "--force", text=True)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert TagFile(tracks[0]).get("key") is None and TagFile(tracks[0]).get("bpm") is None
