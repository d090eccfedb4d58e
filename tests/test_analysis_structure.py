"""Structure and cue points (djml.analysis.structure): generated tracks with known sections,
the pure pieces on hand-made features, and the cues stored in the library's analysis JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from djml import db, keys, synth
from djml.analysis import analyze, structure
from djml.analysis.track import analyze_track
from djml.cues import cues_from_json
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

DRUMS = {"kick", "clap", "hihat"}
FULL = DRUMS | {"bass", "chords"}


def _by_kind(cues) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for c in cues:
        out.setdefault(c.kind, []).append(c.bar)
    return out


@pytest.fixture(scope="module")
def drums_at_17(tmp_path_factory):
    """16 bars of chords, then the whole groove from bar 17 for 48 bars."""
    path = tmp_path_factory.mktemp("structure") / "drums_at_17.wav"
    return synth.write_wav(path, synth.arrangement(124.0, keys.parse("8A"), [(16, {"chords"}), (48, FULL)]))


def test_drums_entering_at_bar_17_end_the_intro_there(drums_at_17):
    a = analyze(drums_at_17, "track")
    cues = cues_from_json(a.cues)
    kinds = _by_kind(cues)
    assert kinds["intro_end"] == [17], a.cues
    assert kinds["mix_in"] == [1]
    intro_end = next(c for c in cues if c.kind == "intro_end")
    assert intro_end.seconds == pytest.approx(16 * 4 * 60 / 124.0, abs=0.1)
    assert a.first_downbeat == pytest.approx(0.0, abs=0.05)
    assert a.bar_energy_step == 1 and len(a.bar_energy) == pytest.approx(64, abs=1)
    assert max(a.bar_energy[:15]) < min(a.bar_energy[17:60])    # the strip shows the drums entering


def test_breakdown_drop_and_outro_of_an_arrangement(tmp_path):
    # breakbeat: on four-on-the-floor arrangements with a kick-less breakdown the v5 tempo is
    # often ~0.5 % off, and a drifting grid moves cues by a bar (docs/analysis.md, limits)
    sections = [(16, DRUMS | {"snare"}), (32, FULL | {"snare"}), (16, {"chords", "hihat"}),
                (32, FULL | {"snare"}), (16, DRUMS | {"snare"})]
    path = synth.write_wav(tmp_path / "a.wav",
                           synth.arrangement(128.0, keys.parse("5A"), sections, style="breakbeat", seed=3))
    kinds = _by_kind(cues_from_json(analyze(path, "track").cues))
    assert kinds["intro_end"] == [17]
    assert kinds["breakdown"] == [49]
    assert kinds["first_drop"] == [65]
    assert kinds["outro_start"] == [97] and kinds["mix_out"] == [97]


def test_structure_is_deterministic(drums_at_17):
    first = analyze_track(str(drums_at_17), (70.0, 180.0)).structure
    second = analyze_track(str(drums_at_17), (70.0, 180.0)).structure
    assert first.cues == second.cues and first.boundaries == second.boundaries
    assert first.bar_energy == second.bar_energy
    np.testing.assert_array_equal(first.beat_features, second.beat_features)


def test_sections_find_step_changes_on_the_phrase_grid():
    rng = np.random.default_rng(0)
    levels = np.repeat([0.0, 6.0, 2.0, 6.0], [16, 32, 8, 24])
    z = levels[:, None] + rng.normal(0, 1, (len(levels), 3))
    cuts, phase, cost = structure.sections(z)
    assert cuts == [16, 48, 56] and phase == 0 and cost > 0
    assert structure.sections(z) == (cuts, phase, cost)       # pure: same input, same answer


def test_downbeat_is_where_the_section_changes_fall():
    rng = np.random.default_rng(1)
    per_beat = np.full((2 + 4 * 48, 11), -30.0) + rng.normal(0, 0.3, (2 + 4 * 48, 11))
    per_beat[2 + 4 * 16:2 + 4 * 32, :] += 12.0        # a section from beat 66 to 130: bar 1 on beat 2
    phase, x, cuts, _ = structure.bar_grid(per_beat)
    assert phase == 2 and cuts == [16, 32] and len(x) == 48
    assert structure.bar_grid(np.full((4 * 32, 11), -20.0))[0] == 0   # nothing changes: the first beat


def test_no_structure_without_a_tempo_or_for_a_short_clip():
    bands = np.ones((2000, 7), np.float32)
    flux = np.ones(2000, np.float32)
    bass = np.zeros(int(46.0 * 1378.125), np.float32)
    assert structure.analyse_structure(bands, flux, flux, 43.07, None, None, 46.0, bass, 1378.125) is None
    assert structure.analyse_structure(bands[:300], flux[:300], flux[:300], 43.07, 120.0, 0.0, 7.0, bass,
                                       1378.125) is None


def test_cues_land_in_the_stored_analysis(tmp_path, drums_at_17):
    a = analyze(drums_at_17, "track")
    library = Library(db.connect(tmp_path / "lib.db"))
    result = FileResult(path=str(drums_at_17), stat=FileStat(1, 1, 1, 1), tags=Tags(), analysis=a)
    item_id = library.record_result(result)[1]
    data = json.loads(library.conn.execute("SELECT data FROM analyses WHERE item_id = ?", (item_id,)).fetchone()[0])
    assert cues_from_json(data["cues"]) == cues_from_json(a.cues)
    assert data["bar_energy"] == a.bar_energy and data["first_downbeat"] == a.first_downbeat


def test_a_bass_line_moves_and_a_drone_or_a_kick_does_not():
    """The bass cue tells a bass line following the chords from a low drone or a kick,
    which fill the band below 200 Hz just as much."""
    sr, bar = 1378.125, 2.0
    t = np.arange(int(8 * bar * sr)) / sr
    drone = np.sin(2 * np.pi * 55.0 * t)
    line = np.sin(2 * np.pi * np.array([55.0, 73.42, 61.74, 82.41])[(t // bar).astype(int) % 4] * t)
    kick = np.where((t % (bar / 4)) < 0.15, np.sin(2 * np.pi * 50.0 * (t % (bar / 4))), 0.0)
    motion = {name: structure.bass_motion(structure.bass_chroma(y.astype(np.float32), sr, 0.0, bar, 8))[1:]
              for name, y in (("drone", drone), ("line", line), ("kick", kick + 0.3 * drone))}
    assert motion["line"].min() > 0.5
    assert motion["drone"].max() < 0.05 and motion["kick"].max() < 0.05


@pytest.mark.parametrize("bars,mix_out", [(160, 145), (32, 17), (29, 9), (20, 9), (15, 9), (12, 7), (1, 1)])
def test_mix_out_of_a_track_without_an_outro(bars, mix_out):
    # full from the first bar to the last: the next track starts on the phrase line 16 bars
    # before the end, or half the track before it when that is shorter (the demo's 15-20 bar
    # tracks once got mix out = mix in, at bar 1)
    deficit, total = np.zeros((bars, 3)), np.zeros(bars)
    cues = structure.find_cues([], 0, deficit, np.ones(bars), total, 0.0, 2.0)
    kinds = {c.kind: c.bar for c in cues}
    assert kinds["mix_in"] == 1 and "outro_start" not in kinds
    assert kinds["mix_out"] == mix_out
