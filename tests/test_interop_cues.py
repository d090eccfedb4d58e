"""Cue points and gain in the rekordbox and Traktor exports: ExportTracks built here (not
from the structure analysis), written, then read back with xml.etree and pyrekordbox."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from djml import config as config_mod
from djml import db
from djml.analysis.result import Analysis
from djml.cues import CUE_KINDS, Cue
from djml.interop import cuemarks, rekordbox, traktor
from djml.interop.collect import collect
from djml.interop.model import ExportTrack
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.query import Filters
from djml.tags import Tags

BPM = 128.0
BAR = 4 * 60 / BPM                              # 1.875 s


def at_bar(kind: str, bar: int, first_beat: float = 0.1) -> Cue:
    return Cue(kind, bar, first_beat + (bar - 1) * BAR)


CUES = [at_bar("mix_in", 1), at_bar("intro_end", 17), at_bar("first_drop", 33), at_bar("breakdown", 65),
        at_bar("breakdown", 97), at_bar("outro_start", 129), at_bar("mix_out", 145)]


def track(item_id: int = 1, cues: list[Cue] | None = None, **extra) -> ExportTrack:
    fields = dict(item_id=item_id, path=f"/music/track {item_id}.flac", kind="track", title=f"T{item_id}",
                  duration=300.0, bpm=BPM, key=9, first_beat=0.1, lufs=-8.25, lra=5.5, true_peak_db=-0.4,
                  cues=list(CUES if cues is None else cues))
    return ExportTrack(**{**fields, **extra})


def test_pads_go_by_kind_and_only_the_first_of_a_kind_gets_one():
    assert cuemarks.pads(CUES) == [0, 1, 2, 3, None, 4, 5]
    assert cuemarks.pads([at_bar("first_drop", 33)]) == [CUE_KINDS.index("first_drop")]
    assert cuemarks.cue_name(CUES[1]) == "Intro end (bar 17)"


def test_rekordbox_position_marks(tmp_path):
    out = tmp_path / "rb.xml"
    rekordbox.export([track(), track(2, cues=[])], [], out, bucket_order=[])
    element = ET.parse(out).getroot().find("COLLECTION/TRACK[@TrackID='1']")
    marks = element.findall("POSITION_MARK")
    memory = [m for m in marks if m.get("Num") == "-1"]
    hot = [m for m in marks if m.get("Num") != "-1"]
    assert len(memory) == len(CUES) and len(hot) == len(CUE_KINDS)          # second breakdown: memory only
    for mark, cue in zip(memory, CUES):
        assert float(mark.get("Start")) == pytest.approx(cue.seconds, abs=5e-4)
        assert mark.get("Name") == cuemarks.cue_name(cue) and mark.get("Type") == "0"
    by_pad = {int(m.get("Num")): m for m in hot}
    assert sorted(by_pad) == list(range(len(CUE_KINDS)))
    drop = by_pad[CUE_KINDS.index("first_drop")]
    assert float(drop.get("Start")) == pytest.approx(0.1 + 32 * BAR, abs=5e-4)
    assert tuple(int(drop.get(c)) for c in ("Red", "Green", "Blue")) == cuemarks.COLOURS["first_drop"]
    colours = {tuple(m.get(c) for c in ("Red", "Green", "Blue")) for m in hot}
    assert len(colours) == len(CUE_KINDS)                                 # one colour per kind
    assert ET.parse(out).getroot().find("COLLECTION/TRACK[@TrackID='2']/POSITION_MARK") is None


def test_rekordbox_marks_read_by_pyrekordbox(tmp_path):
    pyrekordbox = pytest.importorskip("pyrekordbox")
    out = tmp_path / "rb.xml"
    rekordbox.export([track()], [], out, bucket_order=[])
    marks = pyrekordbox.RekordboxXml(str(out)).get_track(TrackID=1).marks
    hot = {m.Num: m for m in marks if m.Num >= 0}
    assert len(marks) == len(CUES) + len(CUE_KINDS)
    assert all(m.Type == "cue" for m in marks)
    assert hot[CUE_KINDS.index("outro_start")].Start == pytest.approx(0.1 + 128 * BAR, abs=5e-4)
    assert sorted(m.Start for m in marks if m.Num == -1) == pytest.approx([c.seconds for c in CUES], abs=5e-4)


def test_traktor_cue_v2_and_loudness(tmp_path):
    out = tmp_path / "collection.nml"
    traktor.export([track()], [], out, bucket_order=[])
    entry = ET.parse(out).getroot().find("COLLECTION/ENTRY")
    cues = entry.findall("CUE_V2")
    assert cues[0].get("NAME") == "AutoGrid" and cues[0].get("HOTCUE") == "0"
    ours = cues[1:]
    assert len(ours) == len(CUES)
    for element, cue in zip(ours, CUES):
        assert float(element.get("START")) == pytest.approx(cue.seconds * 1000, abs=1e-3)   # milliseconds
        assert element.get("NAME") == cuemarks.cue_name(cue)
        assert element.get("LEN") == "0.000000" and element.get("REPEATS") == "-1"
    assert [e.get("TYPE") for e in ours] == ["1", "0", "0", "0", "0", "0", "2"]   # fade-in ... fade-out
    assert [e.get("HOTCUE") for e in ours] == ["1", "2", "3", "4", "-1", "5", "6"]
    loudness = entry.find("LOUDNESS")
    assert float(loudness.get("PEAK_DB")) == pytest.approx(-0.4)
    assert float(loudness.get("ANALYZED_DB")) == pytest.approx(-18 - -8.25)
    assert loudness.get("PERCEIVED_DB") == loudness.get("ANALYZED_DB")
    order = [child.tag for child in entry]
    assert order.index("TEMPO") < order.index("LOUDNESS") < order.index("MUSICAL_KEY") < order.index("CUE_V2")


def test_without_loudness_or_cues_nothing_is_invented(tmp_path):
    out = tmp_path / "collection.nml"
    traktor.export([track(cues=[], lufs=None, true_peak_db=None)], [], out, bucket_order=[])
    entry = ET.parse(out).getroot().find("COLLECTION/ENTRY")
    assert entry.find("LOUDNESS") is None and [c.get("NAME") for c in entry.findall("CUE_V2")] == ["AutoGrid"]


def test_collect_reads_cues_and_loudness_from_the_analysis(tmp_path):
    """The analysis JSON's "cues" (djml.cues dicts) and loudness reach the ExportTrack."""
    cfg = config_mod.from_dict({"library": [str(tmp_path)], "data_dir": str(tmp_path / "data")},
                               tmp_path / "config.toml")
    library = Library(db.connect(cfg.db_path))
    path = tmp_path / "a.wav"
    path.write_bytes(b"x" * 100)
    analysis = Analysis(path=str(path), kind="track", analyzer_version=6, audio_hash="h1", duration=300.0,
                        sample_rate=44100, channels=2, loudness=-10.0, peak_db=-0.5, lufs=-8.25, lra=5.5,
                        true_peak_db=-0.4, bpm=BPM, key=9, energy=6.0, first_beat=0.1,
                        feature_vector=np.zeros(4, np.float32))
    _, item_id = library.record_result(FileResult(str(path), FileStat.of(path), Tags(), analysis))
    stored = [c.to_dict() for c in reversed(CUES)] + [{"kind": "from_a_newer_djml", "bar": 3, "seconds": 4.0}]
    library.conn.execute("UPDATE analyses SET data = json_set(data, '$.cues', json(?)) WHERE item_id = ?",
                         (json.dumps(stored), item_id))
    (exported,) = collect(library.conn, Filters(kind="track")).tracks
    assert exported.cues == CUES                                     # track order, unknown kinds skipped
    assert (exported.lufs, exported.lra, exported.true_peak_db) == (-8.25, 5.5, -0.4)
