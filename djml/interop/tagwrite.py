"""`djml tags write` / `djml tags undo`: put djml's BPM, key, genre, a comment and the
ReplayGain 2.0 track gain and peak (from the BS.1770 loudness) into the files themselves,
safely, and take it back.

Safety rules, in the order they are applied to each file:
1. only files below a configured library/samples folder are touched;
2. a file whose size or mtime differ from the last scan is refused (djml would be writing
   values measured on different audio): "run djml scan first";
3. fields that already hold the wanted text are left alone, so an unchanged file is
   never rewritten;
4. tags are written to a hidden copy in the same folder (mode and times copied), flushed
   and fsynced (:mod:`djml.tagtemps` names and registers it so that a scan never imports
   it and a killed write's leftover is deleted); the copy's decoded audio must hash to the item's ``audio_hash`` (for
   MP4/M4A, which libsndfile cannot decode, its ``mdat`` audio bytes must equal the
   original's) — otherwise the copy is deleted and the original never touched;
5. the previous values are appended to the undo journal and fsynced *before*
   ``os.replace`` swaps the copy in, so a crash at any moment leaves either the old file
   or the new one plus a journal entry that can undo it;
6. the library learns the new size/mtime/inode and tag values, so the next scan sees an
   unchanged file and the item keeps its identity and labels.

The journal is JSON lines under ``<data_dir>/tag-history/<batch>.jsonl`` (one line per
file: item, path, {field: [old, new]}); undoing moves each restored file's line to
``<batch>.jsonl.undone``, while a file undo refused (changed since the last scan, edited
since, unreadable) stays in ``<batch>.jsonl`` so a later undo can still restore it. It
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
from djml.interop.tagio import SUPPORTED, TagError, TagFile, format_bpm, format_gain, format_peak
from djml.library import Library
from djml.private import make_folder
from djml.safetext import dumps
from djml.tagtemps import register, sweep, sweep_folders, temporary_for


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
    left: int = 0           # undo: files refused, still in the batch for a later undo


def wanted_values(track: ExportTrack, config: Config) -> dict[str, str]:
    """The text each field should hold; fields djml knows nothing about are absent."""
    values: dict[str, str] = {}
    if track.bpm:
        values["bpm"] = f"{track.bpm:.2f}"
    if track.key is not None:
        values["key"] = keys.id3(track.key)
    if track.genre:
        values["genre"] = track.genre
    if track.lufs is not None:
        values["replaygain_track_gain"] = format_gain(track.lufs)
    if track.true_peak_db is not None:
        values["replaygain_track_peak"] = format_peak(track.true_peak_db)
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
    if not dry_run:
        clean_leftovers(config, [Path(t.path).parent for t in tracks])
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
                _rewrite(library, config, track.path, change, journal, verify=verify,
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
    _check_writable(track.path)
    tag_file = TagFile(track.path)
    changes = {}
    for name, new in wanted_values(track, config).items():
        if not tag_file.holds(name):
            continue
        if name == "bpm":
            new = format_bpm(float(new), tag_file.system)
        elif name == "replaygain_track_gain" and tag_file.opus:
            new = format_gain(track.lufs, opus=True)
        old = tag_file.get(name)
        if old != new:
            changes[name] = (old, new)
    return FileChange(track.item_id, track.path, changes)


def _check_unchanged_since_scan(library: Library, path: str) -> None:
    known = library.location(path)
    st = os.stat(path)
    if known is None or known.size != st.st_size or known.mtime_ns != st.st_mtime_ns:
        raise TagError("file changed since the last scan; run `djml scan` first")


def _check_writable(path: str) -> None:
    """A file without write permission is one its owner protected: even root (who could
    replace it) leaves it alone. The copy is written beside the file, so its folder must
    be writable too."""
    mode = os.stat(path).st_mode
    if not mode & 0o222 or not os.access(path, os.W_OK):
        raise TagError(f"the file is read-only (mode {mode & 0o777:o}); tags left as they are")
    if not os.access(os.path.dirname(path) or ".", os.W_OK | os.X_OK):
        raise TagError("its folder is read-only (tags are written to a copy beside the file); tags left as they are")


def _audio_hash_of(library: Library, item_id: int) -> str:
    row = library.conn.execute("SELECT audio_hash FROM items WHERE id = ?", (item_id,)).fetchone()
    return row[0]


def clean_leftovers(config: Config, folders: list[Path]) -> list[str]:
    """Delete the tagged copies a killed `tags write`/`undo` left behind (see djml.tagtemps)."""
    return sweep(config.data_dir) + sweep_folders(folders)


def _rewrite(library: Library, config: Config, path: str, change: FileChange, journal: "Journal | None", *,
             verify: bool, expected_hash: str | None, undo: bool = False) -> None:
    """Copy → tag the copy → fsync → verify audio → journal → os.replace → tell the library."""
    target = Path(path)
    tmp = temporary_for(target)
    register(config.data_dir, tmp)
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
        make_folder(folder)           # the journals name files and tag values: owner only
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
    """Every batch, newest first: id, files, pending (files still to undo), undone.

    A batch is ``<id>.jsonl`` while files are left to undo and ``<id>.jsonl.undone`` for
    the files already restored; a partly undone batch has both."""
    folder = history_dir(config)
    if not folder.is_dir():
        return []
    found: dict[str, dict] = {}
    for path in folder.iterdir():
        for suffix, part in ((".jsonl", "pending"), (".jsonl.undone", "done")):
            if path.name.endswith(suffix):
                batch = path.name[:-len(suffix)]
                entry = found.setdefault(batch, {"batch": batch, "files": 0, "pending": 0,
                                                 "path": str(folder / f"{batch}.jsonl")})
                lines = len(path.read_text(encoding="utf-8").splitlines())
                entry["files"] += lines
                if part == "pending":
                    entry["pending"] = lines
    for entry in found.values():
        entry["undone"] = entry["pending"] == 0
    return sorted(found.values(), key=lambda b: b["batch"], reverse=True)


def tags_undo(library: Library, config: Config, batch: str | None = None, *, verify: bool = True,
              force: bool = False, progress: Callable[[dict], None] | None = None) -> Outcome:
    """Restore the previous values of a batch (default: the newest one not fully undone).

    A field someone changed since djml wrote it is left alone and reported: undo never
    overwrites a newer edit unless ``force``. A file changed since the last scan is
    refused until `djml scan` has seen it. Refused files stay in the batch (``Outcome.left``
    counts them), so `djml tags undo` can finish the job later; only the files restored
    (or already as before) leave it. Running undo again after a crash finishes the job.
    """
    every = batches(config)
    candidates = [b for b in every if not b["undone"] and (batch is None or b["batch"] == batch)]
    if not candidates:
        if batch and any(b["batch"] == batch for b in every):
            raise TagError(f"batch {batch} is already undone")
        raise TagError(f"no batch {batch} to undo" if batch else "nothing to undo")
    chosen = candidates[0]
    outcome = Outcome(batch=chosen["batch"])
    entries = [json.loads(line) for line in Path(chosen["path"]).read_text(encoding="utf-8").splitlines()]
    clean_leftovers(config, [Path(e["path"]).parent for e in entries])
    left, done = [], []
    for number, entry in enumerate(entries):
        path = entry["path"]
        if progress is not None:
            progress({"stage": "restoring", "done": number, "total": len(entries), "file": os.path.basename(path)})
        refused_before = len(outcome.refused)
        try:
            change = _undo_plan(entry, path, outcome, force=force)
            if change is not None:
                _check_unchanged_since_scan(library, path)
                _check_writable(path)
                _rewrite(library, config, path, change, None, verify=verify,
                         expected_hash=_audio_hash_of(library, entry["item_id"]), undo=True)
                outcome.written.append(change)
        except (TagError, OSError) as exc:
            outcome.refused.append((path, str(getattr(exc, "strerror", None) or exc)))
        (left if len(outcome.refused) > refused_before else done).append(entry)
    _settle_journal(Path(chosen["path"]), done, left)
    outcome.left = len(left)
    return outcome


def _settle_journal(pending: Path, done: list[dict], left: list[dict]) -> None:
    """Move the restored entries to ``….undone`` and keep the refused ones pending.

    Done entries are appended first: a crash in between leaves them in both files, and
    undoing them again finds the old values already there (nothing is lost or redone)."""
    if done:
        with open(f"{pending}.undone", "a", encoding="utf-8") as f:
            f.write("".join(dumps(e) + "\n" for e in done))
            f.flush()
            os.fsync(f.fileno())
    if not left:
        pending.unlink()
    elif done:
        tmp = pending.with_name(pending.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(dumps(e) + "\n" for e in left))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, pending)
    _fsync_dir(pending.parent)


def _undo_plan(entry: dict, path: str, outcome: Outcome, *, force: bool = False) -> FileChange | None:
    current = TagFile(path)
    changes = {}
    refused_before = len(outcome.refused)
    for name, (old, new) in entry["changes"].items():
        now = current.get(name)
        if now == old:
            continue                                  # already restored (or never written)
        if now != new and not force:
            outcome.refused.append((path, f"{name} was changed since djml wrote it ({now!r}); left as is"
                                          " (--force restores it anyway)"))
            continue
        changes[name] = (old, now)
    if not changes:
        if len(outcome.refused) == refused_before:
            outcome.unchanged += 1
        return None
    return FileChange(entry["item_id"], path, changes)
