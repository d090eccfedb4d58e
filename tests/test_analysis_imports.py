"""What a fresh process imports to analyse one sample or read one file's tags: a one-shot
needs neither the track pipeline (tempo, key, structure) nor every mutagen format module,
which cost `djml analyze` of one one-shot about a third of its CPU."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from djml import synth
from djml.tags import read_tags

TRACK_MODULES = ("djml.analysis.tempo", "djml.analysis.tempo_model", "djml.analysis.track",
                 "djml.analysis.key_model", "djml.analysis.structure")


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("sound", ["one-shot", "loop"])
def test_a_one_shot_is_analysed_without_the_track_pipeline(tmp_path, sound):
    path = synth.write_wav(tmp_path / "s.wav", synth.one_shot("kick", seed=1) if sound == "one-shot"
                           else synth.loop(124.0, bars=2, seed=1))
    modules = loaded_after(f"from djml.analysis import analyze; a = analyze({str(path)!r}, 'sample'); "
                           "assert (a.loop_bpm is not None) == " + str(sound == "loop"))
    imported = [m for m in TRACK_MODULES if m in modules]
    if sound == "one-shot":
        assert imported == []
    else:   # a loop takes the tempo path (and so the same decision as the track it came from)
        assert "djml.analysis.tempo" in imported


def test_a_wav_tag_read_imports_only_its_format(tmp_path):
    path = synth.write_wav(tmp_path / "s.wav", synth.one_shot("snare", seed=2))
    modules = loaded_after(f"from djml.tags import read_tags; read_tags({str(path)!r})")
    assert "mutagen.wave" in modules
    assert not {"mutagen.mp4", "mutagen.asf", "mutagen.flac", "mutagen.mp3"} & modules


def test_a_misnamed_file_is_read_by_what_it_is(tmp_path):
    from mutagen.flac import FLAC

    flac = tmp_path / "hit.flac"
    sf.write(flac, np.zeros(4410, np.float32), 44100)
    tagged = FLAC(flac)
    tagged["title"] = "Not A Wave"
    tagged.save()
    misnamed = flac.rename(tmp_path / "hit.wav")
    assert read_tags(misnamed).title == "Not A Wave"
