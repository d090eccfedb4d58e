"""Reading artist/title/genre/BPM/key/comment from every format a DJ library holds.

AIFF and WAV carry ID3 in a chunk; mutagen's easy view does not map it, so these files
used to come in with no artist or title at all (search, exports and recommendations then
showed bare file names). Files are made by ffmpeg (as a user's converter would) and tagged
by mutagen's ID3 writer (as DJ software does)."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from djml import synth
from djml.tags import read_tags

FFMPEG = shutil.which("ffmpeg")


def _ffmpeg(path, **metadata) -> None:
    args = [FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
    for name, value in metadata.items():
        args += ["-metadata", f"{name}={value}"]
    if path.suffix == ".aiff":
        args += ["-write_id3v2", "1"]
    subprocess.run([*args, str(path)], check=True)


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize("ext", ["mp3", "m4a", "flac", "opus", "aiff"])
def test_tags_written_by_ffmpeg_are_read(tmp_path, ext):
    path = tmp_path / f"track.{ext}"
    try:
        _ffmpeg(path, artist="Kilo Tape", title="Night Bus", genre="Metal", date="2021")
    except subprocess.CalledProcessError:
        pytest.skip(f"this ffmpeg cannot encode .{ext}")
    tags = read_tags(path)
    assert (tags.artist, tags.title, tags.genre, tags.year) == ("Kilo Tape", "Night Bus", "Metal", 2021)


@pytest.mark.parametrize("ext", ["aiff", "wav"])
def test_id3_chunks_of_aiff_and_wav_are_read(tmp_path, ext):
    """What rekordbox, Traktor and Mp3tag write into AIFF/WAV: an ID3 chunk."""
    from mutagen import File, id3

    path = tmp_path / f"track.{ext}"
    if ext == "wav":
        synth.write_wav(path, synth.one_shot("kick", seed=1))
    elif FFMPEG is None:
        pytest.skip("ffmpeg is not installed")
    else:
        _ffmpeg(path)
    audio = File(path)
    if audio.tags is None:
        audio.add_tags()
    for frame in (id3.TPE1(encoding=3, text=["Låg Sol"]), id3.TIT2(encoding=3, text=["Morgon"]),
                  id3.TCON(encoding=3, text=["Deep House"]), id3.TBPM(encoding=3, text=["122"]),
                  id3.TKEY(encoding=3, text=["Am"]), id3.TALB(encoding=3, text=["Crate"]),
                  id3.COMM(encoding=3, lang="eng", desc="", text=["warm-up"])):
        audio.tags.add(frame)
    audio.save()
    tags = read_tags(path)
    assert (tags.artist, tags.title, tags.album, tags.genre) == ("Låg Sol", "Morgon", "Crate", "Deep House")
    assert (tags.bpm, tags.key, tags.comment) == (122.0, "Am", "warm-up")


def test_numeric_id3_genres_become_names(tmp_path):
    from mutagen import File, id3

    path = tmp_path / "old.wav"
    synth.write_wav(path, synth.one_shot("snare", seed=2))
    audio = File(path)
    audio.add_tags()
    audio.tags.add(id3.TCON(encoding=0, text=["(9)"]))  # ID3v1-style "Metal"
    audio.save()
    assert read_tags(path).genre == "Metal"


def _riff_wav(path, info: dict[bytes, bytes]) -> None:
    """A WAV with a RIFF LIST/INFO chunk (what ffmpeg, Audacity and many packs write)."""
    synth.write_wav(path, synth.one_shot("hihat", seed=3))
    data = path.read_bytes()
    body = b"".join(k + struct.pack("<I", len(v) + 1) + v + b"\x00" + (b"\x00" if (len(v) + 1) % 2 else b"")
                    for k, v in info.items())
    chunk = b"LIST" + struct.pack("<I", len(body) + 4) + b"INFO" + body
    out = data[:4] + struct.pack("<I", len(data) - 8 + len(chunk)) + data[8:] + chunk
    path.write_bytes(out)


def test_riff_info_tags_of_wav_are_read_and_id3_wins(tmp_path):
    from mutagen import File, id3

    path = tmp_path / "info.wav"
    _riff_wav(path, {b"IART": "Dirty Løve".encode(), b"INAM": b"Hat Loop", b"IGNR": b"Techno"})
    tags = read_tags(path)
    assert (tags.artist, tags.title, tags.genre) == ("Dirty Løve", "Hat Loop", "Techno")
    audio = File(path)
    audio.add_tags()
    audio.tags.add(id3.TIT2(encoding=3, text=["From ID3"]))
    audio.save()
    tags = read_tags(path)
    assert (tags.artist, tags.title) == ("Dirty Løve", "From ID3")


def test_untagged_and_broken_files_give_empty_tags(tmp_path):
    plain = tmp_path / "plain.wav"
    synth.write_wav(plain, synth.one_shot("clap", seed=4))
    assert read_tags(plain).artist is None
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x04\x00\x00\xff\xff\xff\xff" + b"\x00" * 64)
    assert read_tags(junk).title is None
