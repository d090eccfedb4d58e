"""Read and write the five DJ fields (bpm, key, genre, comment, grouping) with mutagen.

One adapter per tag system, because the same field lives in different places:

============  ==========  ======================  ==========  ===============  ========
format        bpm         key                     genre       comment          grouping
============  ==========  ======================  ==========  ===============  ========
MP3/AIFF/WAV  TBPM (int)  ID3 TKEY                ID3 TCON    ID3 COMM (desc "")  TIT1
FLAC/OGG/Opus BPM         INITIALKEY              GENRE       COMMENT          GROUPING
M4A/MP4       tmpo (int)  ----:com.apple.iTunes:  ©gen        ©cmt             ©grp
                          initialkey
============  ==========  ======================  ==========  ===============  ========

ID3 is saved as v2.3: every DJ program (rekordbox, Traktor, Serato, Mixxx, CDJs) reads
it, while v2.4 support is still patchy on older hardware.
"""

from __future__ import annotations

from pathlib import Path

FIELDS = ("bpm", "key", "genre", "comment", "grouping")
SUPPORTED = (".mp3", ".aif", ".aiff", ".aifc", ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus",
             ".m4a", ".mp4")

_ID3 = {"bpm": "TBPM", "key": "TKEY", "genre": "TCON", "grouping": "TIT1"}
_VORBIS = {"bpm": "BPM", "key": "INITIALKEY", "genre": "GENRE", "comment": "COMMENT", "grouping": "GROUPING"}
_MP4 = {"bpm": "tmpo", "key": "----:com.apple.iTunes:initialkey", "genre": "\xa9gen",
        "comment": "\xa9cmt", "grouping": "\xa9grp"}


class TagError(Exception):
    """A file whose tags cannot be read or written (the message says why)."""


class TagFile:
    """The DJ fields of one file; ``set`` then ``save`` writes only the tag block."""

    def __init__(self, path: str | Path):
        import mutagen

        self.path = str(path)
        try:
            self.file = mutagen.File(self.path)
        except Exception as exc:  # mutagen raises many types for odd files
            raise TagError(f"cannot read tags: {exc}") from None
        if self.file is None:
            raise TagError("not a file format mutagen can tag")
        if self.file.tags is None:
            self.file.add_tags()
        name = type(self.file).__name__
        self.system = "mp4" if name == "MP4" else "id3" if name in ("MP3", "AIFF", "WAVE", "EasyMP3") else (
            "vorbis" if hasattr(self.file.tags, "vendor") else None)
        if self.system is None:
            raise TagError(f"{name} files are not supported for tag writing")

    def get(self, field: str) -> str | None:
        tags = self.file.tags
        if self.system == "id3":
            if field == "comment":
                frames = [f for f in tags.getall("COMM") if f.desc == ""]
                return str(frames[0].text[0]) if frames and frames[0].text else None
            frame = tags.get(_ID3[field])
            return str(frame.text[0]) if frame is not None and frame.text else None
        if self.system == "vorbis":
            values = tags.get(_VORBIS[field])
            return str(values[0]) if values else None
        values = tags.get(_MP4[field])
        if not values:
            return None
        value = values[0]
        return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def set(self, field: str, value: str | None) -> None:
        """Set a field; None removes it (what undo does for fields that did not exist)."""
        tags = self.file.tags
        if self.system == "id3":
            from mutagen import id3

            if field == "comment":
                for key in [k for k in tags.keys() if k.startswith("COMM") and tags[k].desc == ""]:
                    del tags[key]
                if value is not None:
                    tags.add(id3.COMM(encoding=3, lang="eng", desc="", text=[value]))
                return
            frame_id = _ID3[field]
            tags.delall(frame_id)
            if value is not None:
                tags.add(getattr(id3, frame_id)(encoding=3, text=[value]))
            return
        key = (_VORBIS if self.system == "vorbis" else _MP4)[field]
        if value is None:
            if key in tags:
                del tags[key]
            return
        if self.system == "vorbis":
            tags[key] = [value]
        elif field == "bpm":
            tags[key] = [int(round(float(value)))]
        elif field == "key":
            from mutagen.mp4 import MP4FreeForm

            tags[key] = [MP4FreeForm(value.encode("utf-8"))]
        else:
            tags[key] = [value]

    def save(self) -> None:
        try:
            if self.system == "id3":
                self.file.save(v2_version=3)
            else:
                self.file.save()
        except Exception as exc:
            raise TagError(f"cannot write tags: {exc}") from None


def format_bpm(bpm: float, system: str) -> str:
    """The BPM as the field's format wants it. ID3's TBPM is defined as a whole number of
    beats per minute and MP4's tmpo is an integer, so both get "128" for 128.35 (readers
    that parse TBPM strictly reject "128.35"); Vorbis comments are free text, where DJ
    software reads and writes decimals, so FLAC/Opus keep up to two ("128.35"). The exact
    tempo also travels in the comment template ({bpm}) and in rekordbox/Traktor exports."""
    if system in ("id3", "mp4") or abs(bpm - round(bpm)) < 0.005:
        return str(int(round(bpm)))
    return f"{bpm:.2f}".rstrip("0").rstrip(".")
