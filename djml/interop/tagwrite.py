"""`djml tags write` / `djml tags undo`: put djml's BPM, key, genre and a comment into
the files themselves, safely, and take it back.

Safety rules, in the order they are applied to each file:
1. only files below a configured library/samples folder are touched;
2. a file whose size or mtime differ from the last scan is refused (djml would be writing
   values measured on different audio): "run djml scan first";
3. fields that already hold the wanted text are left alone, so an unchanged file is
   never rewritten;
4. tags are written to a copy in the same folder (mode and times copied), flushed and
   fsynced; the copy's decoded audio must hash to the item's ``audio_hash`` (for
   MP4/M4A, which libsndfile cannot decode, its ``mdat`` audio bytes must equal the
   original's) — otherwise the copy is deleted and the original never touched;
5. the previous values are appended to the undo journal and fsynced *before*
   ``os.replace`` swaps the copy in, so a crash at any moment leaves either the old file
   or the new one plus a journal entry that can undo it;
6. the library learns the new size/mtime/inode and tag values, so the next scan sees an
   unchanged file and the item keeps its identity and labels.

The journal is JSON lines under ``<data_dir>/tag-history/<batch>.jsonl`` (one line per
file: item, path, {field: [old, new]}); undoing a batch renames it to ``….undone``. It
lives beside the database rather than in it so no schema change is needed and a person
can read exactly what was changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from djml import keys
from djml.config import Config
from djml.interop.model import ExportTrack
from djml.interop.tagio import SUPPORTED, TagError, TagFile, format_bpm
from djml.library import Library
from djml.safetext import dumps


_SEP = r"[·|,;/–-]"
_DOUBLED_SEPARATOR = re.compile(rf"(\s*{_SEP})(?:\s*{_SEP})+")
_EDGE_SEPARATOR = re.compile(rf"^(?:\s*{_SEP}\s*)+|(?:\s*{_SEP}\s*)+$")


@dataclass
class FileChange:
    item_id: int
    path: str
    changes: dict[str, tuple[str | None, str | None]]   # field -> (old, new)


@dataclass
class Outcome:
    written: list[FileChange] = field(default_factory=list)
    unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)     # (path, reason)
    batch: str | None = None


def wanted_values(track: ExportTrack, config: Config) -> dict[str, str]:
    """The text each field should hold; fields djml knows nothing about are absent."""
    values: dict[str, str] = {}
    if track.bpm:
        values["bpm"] = f"{track.bpm:.2f}"
    if track.key is not None:
        values["key"] = keys.id3(track.key)
    if track.genre:
        values["genre"] = track.genre
    if config.tag_template:
        values[config.tag_template_field] = render_template(config.tag_template, track)
    return values


def render_template(template: str, track: ExportTrack) -> str:
    """e.g. "{camelot} · energy {energy} · {bucket}" → "8A · energy 7 · peak-time"; unknown
    facts render as empty text and the separators around them are tidied away."""
    k = track.key
    facts = {
        "camelot": keys.camelot(k) if k is not None else "", "open_key": keys.open_key(k) if k is not None else "",
        "key": keys.standard(k) if k is not None else "", "key_id3": keys.id3(k) if k is not None else "",
        "bpm": round(track.bpm, 2) if track.bpm else 0, "energy": int(round(track.energy)) if track.energy else "",
        "bucket": track.bucket or track.sample_class or "", "genre": track.genre or "",
        "artist": track.artist or "", "title": track.display_title,
    }
    text = " ".join(template.format(**facts).split())
    text = _DOUBLED_SEPARATOR.sub(lambda m: m.group(1), text)
    return _EDGE_SEPARATOR.sub("", text)


def tags_write(library: Library, config: Config, tracks: list[ExportTrack], *, dry_run: bool = False,
               verify: bool = True, progress: Callable[[dict], None] | None = None) -> Outcome:
    outcome = Outcome()
    journal = None if dry_run else Journal.new(config)
    roots = [r.resolve() for r in config.roots]
    for done, track in enumerate(tracks):
        if progress is not None:
            progress({"stage": "checking" if dry_run else "tagging", "done": done, "total": len(tracks),
                      "file": os.path.basename(track.path)})
        try:
            change = _plan_one(library, config, track, roots)
        except (TagError, OSError) as exc:
            outcome.refused.append((track.path, str(exc)))
            continue
        if not change.changes:
            outcome.unchanged += 1
            continue
        if not dry_run:
            try:
                _rewrite(library, track.path, change, journal, verify=verify,
                         expected_hash=_audio_hash_of(library, track.item_id))
            except (TagError, OSError) as exc:
                outcome.refused.append((track.path, str(getattr(exc, "strerror", None) or exc)))
                continue
        outcome.written.append(change)
    if journal is not None:
        outcome.batch = journal.finish()
    return outcome


def _plan_one(library: Library, config: Config, track: ExportTrack, roots: list[Path]) -> FileChange:
    path = Path(track.path)
    if path.suffix.lower() not in SUPPORTED:
        raise TagError(f"{path.suffix or 'no extension'}: tag writing supports {', '.join(SUPPORTED)}")
    real = path.resolve()
    if not any(real.is_relative_to(root) for root in roots):
        raise TagError("outside the configured library and samples folders; refusing to modify it")
    _check_unchanged_since_scan(library, track.path)
    tag_file = TagFile(track.path)
    changes = {}
    for name, new in wanted_values(track, config).items():
        if name == "bpm":
            new = format_bpm(float(new), tag_file.system)
        old = tag_file.get(name)
        if old != new:
            changes[name] = (old, new)
    return FileChange(track.item_id, track.path, changes)


def _check_unchanged_since_scan(library: Library, path: str) -> None:
    known = library.location(path)
    st = os.stat(path)
    if known is None or known.size != st.st_size or known.mtime_ns != st.st_mtime_ns:
        raise TagError("file changed since the last scan; run `djml scan` first")


def _audio_hash_of(library: Library, item_id: int) -> str:
    row = library.conn.execute("SELECT audio_hash FROM items WHERE id = ?", (item_id,)).fetchone()
    return row[0]


def _rewrite(library: Library, path: str, change: FileChange, journal: "Journal | None", *,
             verify: bool, expected_hash: str | None, undo: bool = False) -> None:
    """Copy → tag the copy → fsync → verify audio → journal → os.replace → tell the library."""
    target = Path(path)
    tmp = target.with_name(f".{target.stem}.djml-tmp{target.suffix}")
    shutil.copy2(target, tmp)
    try:
        tag_file = TagFile(tmp)
        for name, (old, new) in change.changes.items():
            tag_file.set(name, old if undo else new)
        tag_file.save()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _preserve_owner(target, tmp)
        if verify:
            verify_audio_unchanged(target, tmp, expected_hash)
        if journal is not None:
            journal.record(change)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    final = TagFile(target)
    library.record_tag_write(path, {name: final.get(name) for name in change.changes})


def _preserve_owner(original: Path, copy: Path) -> None:
    st = original.stat()
    if (st.st_uid, st.st_gid) != (copy.stat().st_uid, copy.stat().st_gid):
        try:
            os.chown(copy, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # only root can give files away; the mode is still preserved


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_audio_unchanged(original: Path, copy: Path, expected_hash: str | None) -> None:
    """Raise TagError unless ``copy`` holds exactly the original's audio."""
    if copy.suffix.lower() in (".m4a", ".mp4"):
        if mp4_audio_bytes(original) != mp4_audio_bytes(copy):
            raise TagError("audio data changed while writing tags (MP4 mdat differs); file left untouched")
        return
    from djml.analysis.decode import Decoder, probe
    from djml.analysis.errors import AnalysisError

    try:
        decoder = Decoder(copy, target_sr=probe(copy).sample_rate)
        for _ in decoder.blocks():
            pass
    except AnalysisError as exc:
        raise TagError(f"the tagged copy does not decode ({exc}); file left untouched") from None
    if expected_hash is None:
        expected = Decoder(original, target_sr=probe(original).sample_rate)
        for _ in expected.blocks():
            pass
        expected_hash = expected.audio_hash
    if decoder.audio_hash != expected_hash:
        raise TagError("decoded audio differs from the library's audio hash; file left untouched")


def mp4_audio_bytes(path: Path) -> bytes:
    """Concatenated payload of every top-level ``mdat`` atom (the coded audio)."""
    out = []
    with open(path, "rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            offset = 8
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                offset = 16
            elif size == 0:
                size = os.fstat(f.fileno()).st_size - f.tell() + 8
            if size < offset:
                raise TagError(f"{path}: corrupt MP4 atom {kind!r}")
            if kind == b"mdat":
                out.append(f.read(size - offset))
            else:
                f.seek(size - offset, os.SEEK_CUR)
    return b"".join(out)


# -- undo -------------------------------------------------------------------------------

def history_dir(config: Config) -> Path:
    return config.data_dir / "tag-history"


class Journal:
    """Append-only JSON lines, fsynced per file, so undo survives a crash mid-batch."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0

    @classmethod
    def new(cls, config: Config) -> "Journal":
        folder = history_dir(config)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        return cls(folder / f"{stamp}.jsonl")

    def record(self, change: FileChange) -> None:
        line = {"item_id": change.item_id, "path": change.path,
                "changes": {k: list(v) for k, v in change.changes.items()},
                "written_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.count += 1

    def finish(self) -> str | None:
        """The batch id, or None when nothing was written (no empty journals are kept)."""
        return self.path.stem if self.count else None


def batches(config: Config) -> list[dict]:
    """Every batch, newest first: id, files, undone."""
    folder = history_dir(config)
    if not folder.is_dir():
        return []
    result = []
    for path in folder.iterdir():
        if path.name.endswith(".jsonl") or path.name.endswith(".jsonl.undone"):
            lines = path.read_text(encoding="utf-8").splitlines()
            result.append({"batch": path.name.split(".")[0], "files": len(lines),
                           "undone": path.name.endswith(".undone"), "path": str(path)})
    return sorted(result, key=lambda b: b["batch"], reverse=True)


def tags_undo(library: Library, config: Config, batch: str | None = None, *, verify: bool = True,
              progress: Callable[[dict], None] | None = None) -> Outcome:
    """Restore the previous values of a batch (default: the newest one not undone).

    A field someone changed since djml wrote it is left alone and reported: undo never
    overwrites a newer edit. Running undo again after a crash finishes the job.
    """
    candidates = [b for b in batches(config) if not b["undone"] and (batch is None or b["batch"] == batch)]
    if not candidates:
        raise TagError(f"no batch {batch} to undo" if batch else "nothing to undo")
    chosen = candidates[0]
    outcome = Outcome(batch=chosen["batch"])
    lines = Path(chosen["path"]).read_text(encoding="utf-8").splitlines()
    for done, line in enumerate(lines):
        entry = json.loads(line)
        path = entry["path"]
        if progress is not None:
            progress({"stage": "restoring", "done": done, "total": len(lines), "file": os.path.basename(path)})
        try:
            change = _undo_plan(entry, path, outcome)
            if change is None:
                continue
            _check_unchanged_since_scan(library, path)
            _rewrite(library, path, change, None, verify=verify,
                     expected_hash=_audio_hash_of(library, entry["item_id"]), undo=True)
            outcome.written.append(change)
        except (TagError, OSError) as exc:
            outcome.refused.append((path, str(getattr(exc, "strerror", None) or exc)))
    os.replace(chosen["path"], chosen["path"] + ".undone")
    return outcome


def _undo_plan(entry: dict, path: str, outcome: Outcome) -> FileChange | None:
    current = TagFile(path)
    changes = {}
    for name, (old, new) in entry["changes"].items():
        now = current.get(name)
        if now == old:
            continue                                  # already restored (or never written)
        if now != new:
            outcome.refused.append((path, f"{name} was changed since djml wrote it ({now!r}); left as is"))
            continue
        changes[name] = (old, new)
    if not changes:
        outcome.unchanged += 1
        return None
    return FileChange(entry["item_id"], path, changes)
