"""Read and write the DJ fields (bpm, key, genre, comment, grouping and the ReplayGain
track gain and peak) with mutagen.

One adapter per tag system, because the same field lives in different places:

============  ==========  ======================  ==========  ===============  ========
format        bpm         key                     genre       comment          grouping
============  ==========  ======================  ==========  ===============  ========
MP3/AIFF/WAV  TBPM (int)  ID3 TKEY                ID3 TCON    ID3 COMM (desc "")  TIT1
FLAC/OGG/Opus BPM         INITIALKEY              GENRE       COMMENT          GROUPING
M4A/MP4       tmpo (int)  ----:com.apple.iTunes:  ©gen        ©cmt             ©grp
                          initialkey
============  ==========  ======================  ==========  ===============  ========

ReplayGain 2.0 (``replaygain_track_gain`` "-4.32 dB", ``replaygain_track_peak`` linear
"0.988553"): ID3 ``TXXX:REPLAYGAIN_TRACK_GAIN`` / ``TXXX:REPLAYGAIN_TRACK_PEAK`` (read
case-insensitively), Vorbis comments ``REPLAYGAIN_TRACK_GAIN`` / ``REPLAYGAIN_TRACK_PEAK``,
MP4 freeform ``----:com.apple.iTunes:replaygain_track_gain`` / ``…_peak``. Opus files
carry no ReplayGain fields (RFC 7845: players ignore them there); their own field is
``R128_TRACK_GAIN``, a Q7.8 integer against -23 LUFS, which the gain is converted to
(:func:`format_gain`); Opus has no peak field.

ID3 is saved as v2.3: every DJ program (rekordbox, Traktor, Serato, Mixxx, CDJs) reads
it, while v2.4 support is still patchy on older hardware.
"""

from __future__ import annotations

from pathlib import Path

FIELDS = ("bpm", "key", "genre", "comment", "grouping", "replaygain_track_gain", "replaygain_track_peak")
GAIN_FIELDS = ("replaygain_track_gain", "replaygain_track_peak")
REPLAYGAIN_REFERENCE_LUFS = -18.0    # ReplayGain 2.0's reference level
OPUS_REFERENCE_LUFS = -23.0          # R128_TRACK_GAIN's (RFC 7845 section 5.2.1)
SUPPORTED = (".mp3", ".aif", ".aiff", ".aifc", ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus",
             ".m4a", ".mp4")

_ID3 = {"bpm": "TBPM", "key": "TKEY", "genre": "TCON", "grouping": "TIT1"}
_TXXX = {"replaygain_track_gain": "REPLAYGAIN_TRACK_GAIN", "replaygain_track_peak": "REPLAYGAIN_TRACK_PEAK"}
_VORBIS = {"bpm": "BPM", "key": "INITIALKEY", "genre": "GENRE", "comment": "COMMENT", "grouping": "GROUPING",
           **_TXXX}
_OPUS = {**_VORBIS, "replaygain_track_gain": "R128_TRACK_GAIN"}
_MP4 = {"bpm": "tmpo", "key": "----:com.apple.iTunes:initialkey", "genre": "\xa9gen",
        "comment": "\xa9cmt", "grouping": "\xa9grp",
        "replaygain_track_gain": "----:com.apple.iTunes:replaygain_track_gain",
        "replaygain_track_peak": "----:com.apple.iTunes:replaygain_track_peak"}
_FREEFORM = ("key", "replaygain_track_gain", "replaygain_track_peak")


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
        self.opus = name == "OggOpus"

    def holds(self, field: str) -> bool:
        """Whether this format has a place for ``field`` (Opus has no peak field)."""
        return not (self.opus and field == "replaygain_track_peak")

    def _key(self, field: str) -> str:
        return (_MP4 if self.system == "mp4" else _OPUS if self.opus else _VORBIS)[field]

    def get(self, field: str) -> str | None:
        tags = self.file.tags
        if self.system == "id3":
            if field == "comment":
                frames = [f for f in tags.getall("COMM") if f.desc == ""]
                return str(frames[0].text[0]) if frames and frames[0].text else None
            if field in _TXXX:
                frames = [f for f in tags.getall("TXXX") if f.desc.upper() == _TXXX[field]]
                return str(frames[0].text[0]) if frames and frames[0].text else None
            frame = tags.get(_ID3[field])
            return str(frame.text[0]) if frame is not None and frame.text else None
        if not self.holds(field):
            return None
        if self.system == "vorbis":
            values = tags.get(self._key(field))
            return str(values[0]) if values else None
        values = tags.get(self._key(field))
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
            if field in _TXXX:
                for key in [k for k in tags.keys() if k.startswith("TXXX") and tags[k].desc.upper() == _TXXX[field]]:
                    del tags[key]
                if value is not None:
                    tags.add(id3.TXXX(encoding=3, desc=_TXXX[field], text=[value]))
                return
            frame_id = _ID3[field]
            tags.delall(frame_id)
            if value is not None:
                tags.add(getattr(id3, frame_id)(encoding=3, text=[value]))
            return
        if not self.holds(field):
            if value is None:
                return
            raise TagError(f"{field} has no place in this format")
        key = self._key(field)
        if value is None:
            if key in tags:
                del tags[key]
            return
        if self.system == "vorbis":
            tags[key] = [value]
        elif field == "bpm":
            tags[key] = [int(round(float(value)))]
        elif field in _FREEFORM:
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


def replaygain_gain(lufs: float) -> float:
    """ReplayGain 2.0's track gain (dB) for integrated loudness ``lufs``: what reaches -18 LUFS."""
    return REPLAYGAIN_REFERENCE_LUFS - lufs


def format_gain(lufs: float, opus: bool = False) -> str:
    """The ReplayGain 2.0 track gain for integrated loudness ``lufs``: "-4.32 dB" to reach
    -18 LUFS. For Opus the R128_TRACK_GAIN text instead: the gain to -23 LUFS in 1/256 dB
    steps ("-2406"), clamped to its signed 16-bit range."""
    if opus:
        return str(max(-32768, min(32767, int(round((OPUS_REFERENCE_LUFS - lufs) * 256)))))
    return f"{replaygain_gain(lufs):.2f} dB"


def format_peak(true_peak_db: float) -> str:
    """ReplayGain's track peak: linear amplitude, 1.0 = full scale (may exceed 1 for a true peak)."""
    return f"{10 ** (true_peak_db / 20):.6f}"
