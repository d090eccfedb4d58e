"""Corrupt input raises AnalysisError with a reason; identity hash is about audio only."""

import os
import struct

import numpy as np
import pytest
import soundfile as sf

from djml import synth
from djml.analysis import AnalysisError, analyze, probe


@pytest.fixture()
def clip():
    return synth.drum_track(120, 9, 3.0, seed=5)


def _expect(path, reason):
    with pytest.raises(AnalysisError) as info:
        analyze(path)
    assert reason in str(info.value)
    with pytest.raises(AnalysisError):
        probe(path)


def test_zero_bytes(tmp_path):
    p = tmp_path / "z.wav"
    p.write_bytes(b"")
    _expect(p, "empty")


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".flac", ".ogg", ".m4a"])
def test_random_bytes(tmp_path, suffix):
    p = tmp_path / f"r{suffix}"
    p.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(AnalysisError):
        analyze(p)


def test_text_file(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("not audio at all\n" * 100)
    _expect(p, "not an audio file")


def test_vanished(tmp_path):
    _expect(tmp_path / "gone.flac", "file vanished")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_unreadable(tmp_path, clip):
    p = synth.write_wav(tmp_path / "locked.wav", clip)
    p.chmod(0)
    _expect(p, "permission denied")


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_truncated(tmp_path, clip, suffix):
    p = synth.write_wav(tmp_path / f"full{suffix}", np.tile(clip, 4))
    data = p.read_bytes()
    q = tmp_path / f"cut{suffix}"
    q.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnalysisError) as info:
        analyze(q)
    assert "truncated or corrupt" in str(info.value)


def test_wav_container_holding_ogg(tmp_path, clip):
    ogg = tmp_path / "x.ogg"
    sf.write(ogg, clip, synth.SR, format="OGG", subtype="VORBIS")
    payload = ogg.read_bytes()
    fmt = struct.pack("<HHIIHH", 0x6750, 1, synth.SR, 16000, 1, 0)   # WAVE_FORMAT_OGG_VORBIS_MODE_3
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    p = tmp_path / "fake.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    _expect(p, "not an audio file")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(AnalysisError):
        analyze(tmp_path)


def test_hash_same_audio_wav_flac_and_retag(tmp_path, clip):
    stereo = np.stack([clip, 0.5 * clip], axis=1)
    wav = synth.write_wav(tmp_path / "a.wav", stereo)
    flac = synth.write_wav(tmp_path / "a.flac", stereo)
    tagged = tmp_path / "b.flac"
    with sf.SoundFile(tagged, "w", synth.SR, 2, format="FLAC", subtype="PCM_16") as f:
        f.title = "retagged"
        f.write(np.clip(np.rint(stereo * 32767), -32768, 32767).astype(np.int16))
    hashes = {analyze(p).audio_hash for p in (wav, flac, tagged)}
    assert len(hashes) == 1 and len(hashes.pop()) == 32


def test_hash_differs_for_different_audio(tmp_path, clip):
    a = synth.write_wav(tmp_path / "a.wav", clip)
    b = synth.write_wav(tmp_path / "b.wav", clip * 0.5)
    mono_vs_stereo = synth.write_wav(tmp_path / "c.wav", np.stack([clip, clip], axis=1))
    assert len({analyze(p).audio_hash for p in (a, b, mono_vs_stereo)}) == 3


def test_probe(tmp_path, clip):
    p = synth.write_wav(tmp_path / "a.flac", np.stack([clip, clip], axis=1))
    duration, sr, channels = probe(p)
    assert (round(duration, 3), sr, channels) == (3.0, synth.SR, 2)
    assert analyze(p, kind="sample").kind == "sample"


def test_flac_readers_agree(tmp_path, clip, monkeypatch):
    """dr_flac (miniaudio, when installed) and libsndfile give the same PCM: same hash,
    same features. FLAC is lossless, so any difference would be a decoder bug."""
    from djml.analysis import decode

    p = synth.write_wav(tmp_path / "a.flac", np.stack([clip, 0.3 * clip], axis=1))
    first = analyze(p)
    monkeypatch.setattr(decode, "_drflac_open", lambda *args: None)   # force libsndfile
    second = analyze(p)
    assert first.audio_hash == second.audio_hash
    np.testing.assert_array_equal(first.feature_vector, second.feature_vector)


def test_flac_with_a_damaged_frame_is_corrupt(tmp_path, clip):
    """A bit-flipped frame mid-file fails its CRC; dr_flac would skip it silently, the
    decoder must report it (libsndfile stops with an error)."""
    p = synth.write_wav(tmp_path / "full.flac", np.tile(clip, 4))
    data = bytearray(p.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    q = tmp_path / "damaged.flac"
    q.write_bytes(bytes(data))
    with pytest.raises(AnalysisError, match="truncated or corrupt"):
        analyze(q)


def test_flac_without_length_gets_a_clear_error(tmp_path, clip):
    """A FLAC written to a pipe has total samples 0 in STREAMINFO ("unknown"); libsndfile
    then fails mid-read with an internal seek error. Say what it is and how to fix it."""
    p = synth.write_wav(tmp_path / "full.flac", clip)
    data = bytearray(p.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0          # STREAMINFO comes first
    data[21] &= 0xF0                                              # 36-bit total samples = 0
    data[22:26] = bytes(4)
    q = tmp_path / "streamed.flac"
    q.write_bytes(bytes(data))
    _expect(q, "length unknown")
