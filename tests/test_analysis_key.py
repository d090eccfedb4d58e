"""Key detection in all 24 keys on generated harmony and full tracks."""

import pytest

from djml import keys, synth
from djml.analysis import analyze


@pytest.mark.parametrize("key", range(24))
def test_all_24_keys(tmp_path, key):
    path = synth.write_wav(tmp_path / "k.wav", synth.chord_clip(key, seconds=8.0))
    a = analyze(path, kind="track")
    assert a.key == key, (keys.standard(key), a.key is not None and keys.standard(a.key))
    assert a.key_confidence > 0.3


@pytest.mark.parametrize("key", [0, 7, 21, 16])
def test_key_with_drums(tmp_path, key):
    path = synth.write_wav(tmp_path / "k.wav", synth.drum_track(124, key, 16.0, seed=key))
    assert analyze(path, kind="track").key == key


def test_to_dict_renders_notations(tmp_path):
    path = synth.write_wav(tmp_path / "k.wav", synth.chord_clip(21, seconds=8.0))
    d = analyze(path, kind="track").to_dict()
    assert (d["key"], d["key_id3"], d["camelot"], d["open_key"], d["key_index"]) == \
        ("A minor", "Am", "8A", "1m", 21)
