"""Cue points where a DJ looks first: `djml show` (bar and m:ss.s, and the energy strip
with the cues marked) and the strip renderer the TUI shares (djml.strip)."""

from __future__ import annotations

import numpy as np

from djml import config as config_mod
from djml import db, strip
from djml.analysis import FEATURE_NAMES, Analysis
from djml.cues import Cue, cues_from_json
from djml.library import Library
from djml.pipeline import FileResult, FileStat
from djml.tags import Tags

BAR_S = 4 * 60 / 124.0
CUES = [Cue("mix_in", 1, 0.0), Cue("intro_end", 17, 16 * BAR_S), Cue("breakdown", 49, 48 * BAR_S),
        Cue("first_drop", 65, 64 * BAR_S), Cue("outro_start", 97, 96 * BAR_S), Cue("mix_out", 97, 96 * BAR_S)]
ENERGY = [0.5] * 16 + [0.9] * 32 + [0.3] * 16 + [1.0] * 32 + [0.5] * 16


def _track(library: Library, root, n: int, **fields) -> int:
    a = Analysis(path=str(root / f"t{n}.wav"), kind="track", analyzer_version=6, audio_hash=f"cue-{n}",
                 duration=216.8, sample_rate=44100, channels=2, loudness=-9.0, peak_db=-0.5, bpm=124.0,
                 feature_vector=np.zeros(len(FEATURE_NAMES), np.float32), **fields)
    result = FileResult(path=a.path, stat=FileStat(1, n, n, 1), tags=Tags(artist="Anna Lee", title=f"Drive {n}"),
                        analysis=a)
    return library.record_result(result)[1]


def test_show_prints_each_cue_with_bar_and_time_and_the_strip(djml_home, run_djml, tmp_path):
    library = Library(db.connect(config_mod.load().db_path))
    with_cues = _track(library, tmp_path, 1, cues=[c.to_dict() for c in CUES], bar_energy=ENERGY, bar_energy_step=1)
    without = _track(library, tmp_path, 2)
    out = run_djml("show", str(with_cues), check=True).stdout
    lines = out.splitlines()
    assert any("intro end" in x and "bar   17" in x and "0:31.0" in x for x in lines), out
    assert any("first drop" in x and "bar   65" in x and "2:03.9" in x for x in lines), out
    assert any("mix out" in x and "bar   97" in x and "3:05.8" in x for x in lines), out
    line = next(x.strip() for x in lines if "█" in x)
    assert line.startswith("▶") and line.index("I") < line.index("B") < line.index("D") < line.index("O")
    assert "I intro end" in out and "D first drop" in out                  # the legend
    assert "Cues" not in run_djml("show", str(without), check=True).stdout


def test_strip_pools_bars_and_marks_cues_by_priority():
    values = [0.0] * 8 + [1.0] * 8
    cells = strip.cells(values, 1, [Cue("mix_in", 1, 0.0), Cue("intro_end", 9, 10.0)], 8)
    assert "".join(ch for ch, _ in cells) == "▶▁▁▁I███"
    assert [k for _, k in cells if k] == ["mix_in", "intro_end"]
    same_column = strip.cells(values, 1, [Cue("mix_out", 13, 1.0), Cue("outro_start", 13, 1.0)], 8)
    assert [k for _, k in same_column if k] == ["outro_start"]           # outro start wins over mix out
    pooled = strip.cells([0.2, 0.4], 64, [Cue("intro_end", 65, 1.0)], 10)   # 64 bars per value
    assert [k for _, k in pooled] == [None, "intro_end"]
    assert strip.cells([], 1, CUES, 10) == [] and strip.clock(59.96) == "1:00.0"


def test_unknown_cue_kinds_from_a_newer_djml_are_skipped():
    stored = [c.to_dict() for c in CUES] + [{"kind": "vocal_in", "bar": 3, "seconds": 5.0}, {"bar": 2}]
    assert [(c.kind, c.bar) for c in cues_from_json(stored)] == [(c.kind, c.bar) for c in CUES]
