"""The sample sets' label rules and file readers (benchmarks/sample_sets.py, sf2.py,
gus_patch.py, shared_audio.py): small generated files with known contents, plus smoke
tests on the installed packages when they are there."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks import gus_patch, sample_sets as ss, sf2  # noqa: E402
from benchmarks.shared_audio import merge_shared_kits  # noqa: E402


# --------------------------------------------------------------------------- Sonic Pi names

@pytest.mark.parametrize("stem,label", [
    ("bd_haus", "kick"), ("sn_dub", "snare"), ("drum_bass_hard", "kick"), ("drum_heavy_kick", "kick"),
    ("drum_cymbal_closed", "hihat"), ("drum_cymbal_open", "hihat"), ("drum_cymbal_pedal", "hihat"),
    ("drum_cymbal_hard", "cymbal"), ("drum_splash_soft", "cymbal"), ("drum_tom_mid_hard", "tom"),
    ("drum_cowbell", "perc"), ("elec_hi_snare", "snare"), ("elec_hollow_kick", "kick"),
    ("elec_fuzz_tom", "tom"), ("elec_cymbal", "cymbal"), ("elec_blip", "perc"), ("elec_tick", "perc"),
    ("perc_snap", "perc"), ("perc_impact1", "fx"), ("perc_swoosh", "fx"), ("tabla_na", "perc"),
    ("bass_voxy_c", "bass"), ("glitch_bass_g", "bass"), ("glitch_perc3", "perc"), ("glitch_robot1", "fx"),
    ("loop_amen", "loop"), ("vinyl_scratch", "fx"), ("guit_em9", "synth"), ("ambi_choir", "vocal"),
    ("ambi_piano", "synth"), ("ambi_lunar_land", "fx"), ("mehackit_phone1", "fx"), ("misc_crow", "fx"),
])
def test_sonicpi_names_map_to_classes(stem, label):
    assert ss.sonicpi_label(stem) == label


def test_sonicpi_roll_and_unknown_prefixes_are_skipped():
    assert ss.sonicpi_label("drum_roll") is None
    assert ss.sonicpi_label("README") is None
    assert ss.sonicpi_label("zzz_new_thing") is None


def test_sonicpi_set_labels_every_installed_file(tmp_path):
    if not ss.SONICPI_DIR.is_dir():
        pytest.skip("sonic-pi-samples not installed")
    rows = ss.build_samples_sonicpi(tmp_path)
    files = sorted(ss.SONICPI_DIR.glob("*.flac"))
    assert len(rows) == len(files) - len([f for f in files if f.stem in ss.SONICPI_SKIP])
    assert {r["label"] for r in rows} <= set(ss.LABELS)
    assert (tmp_path / "samples_sonicpi" / "manifest.csv").exists()


# --------------------------------------------------------------------------- GUS patches

def write_patch(path: Path, samples: list[tuple[np.ndarray, int, float]], modes: int) -> None:
    """A minimal one-layer patch (the layout gus_patch.read_patch documents)."""
    blobs = []
    for audio, rate, root in samples:
        a = np.asarray(audio, np.float64)
        if modes & gus_patch.MODE_16BIT:
            q = np.round(a * 32767).astype(np.int64) + (32768 if modes & gus_patch.MODE_UNSIGNED else 0)
            raw = q.astype("<u2" if modes & gus_patch.MODE_UNSIGNED else "<i2").tobytes()
        else:
            q = np.round(a * 127).astype(np.int64) + (128 if modes & gus_patch.MODE_UNSIGNED else 0)
            raw = q.astype(np.uint8 if modes & gus_patch.MODE_UNSIGNED else np.int8).tobytes()
        head = struct.pack("<7sBIIIHIII", b"wave", 0, len(raw), 0, len(raw), rate, 8176, 12543854, round(root * 1000))
        head += bytes(gus_patch.SAMPLE_HEADER - len(head))
        blobs.append(head[:55] + bytes([modes]) + head[56:] + raw)
    body = b"".join(blobs)
    file_head = b"GF1PATCH110\0ID#000002\0" + b"tiny".ljust(60, b"\0")
    file_head += struct.pack("<BBBHHI", 1, 14, 0, len(samples), 127, len(body)) + bytes(36)
    inst = struct.pack("<H16sIB", 0, b"tiny inst", len(body), 1) + bytes(40)
    layer = struct.pack("<BBIB", 0, 0, len(body), len(samples)) + bytes(40)
    path.write_bytes(file_head + inst + layer + body)


@pytest.mark.parametrize("modes,tol", [(gus_patch.MODE_16BIT, 2 / 32768),
                                       (gus_patch.MODE_16BIT | gus_patch.MODE_UNSIGNED, 2 / 32768),
                                       (0, 2 / 128), (gus_patch.MODE_UNSIGNED, 2 / 128)])
def test_gus_patch_reads_back_what_was_written(tmp_path, modes, tol):
    t = np.arange(2000) / 22050
    a = 0.8 * np.sin(2 * np.pi * 220 * t) * np.exp(-t * 10)
    b = np.linspace(-0.5, 0.5, 300)
    write_patch(tmp_path / "x.pat", [(a, 22050, 261.626), (b, 44100, 440.0)], modes)
    patch = gus_patch.read_patch(tmp_path / "x.pat")
    assert patch.instrument == "tiny inst" and len(patch.samples) == 2
    s0, s1 = patch.samples
    assert (s0.rate, s1.rate) == (22050, 44100)
    assert s0.root_hz == pytest.approx(261.626) and s1.root_hz == pytest.approx(440.0)
    assert np.abs(s0.audio - a).max() < tol and np.abs(s1.audio - b).max() < tol
    assert not s0.looped and s0.seconds == pytest.approx(2000 / 22050)


def test_gus_patch_rejects_wrong_magic_and_truncation(tmp_path):
    (tmp_path / "bad.pat").write_bytes(b"RIFF" + bytes(200))
    with pytest.raises(gus_patch.PatchError, match="not a GUS patch"):
        gus_patch.read_patch(tmp_path / "bad.pat")
    write_patch(tmp_path / "ok.pat", [(np.zeros(1000), 44100, 440.0)], gus_patch.MODE_16BIT)
    data = (tmp_path / "ok.pat").read_bytes()
    (tmp_path / "cut.pat").write_bytes(data[:-100])
    with pytest.raises(gus_patch.PatchError, match="needs 2000 bytes"):
        gus_patch.read_patch(tmp_path / "cut.pat")


def test_freepats_drum_numbers_follow_the_gm_map():
    assert ss.freepats_drum_label(36)[0] == "kick"
    assert ss.freepats_drum_label(42)[0] == "hihat"
    assert ss.freepats_drum_label(26)[0] == "perc"      # GS snap
    assert ss.freepats_drum_label(25) is None           # a snare roll


def test_installed_freepats_drum_patches_all_parse():
    drums = sorted((ss.FREEPATS_DIR / "Drum_000").glob("*.pat"))
    if not drums:
        pytest.skip("freepats not installed")
    for p in drums:
        patch = gus_patch.read_patch(p)
        assert patch.samples and all(s.rate > 8000 and s.audio.size for s in patch.samples), p


# --------------------------------------------------------------------------- SoundFonts

def _chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def write_sf2(path: Path, samples: list[tuple[str, np.ndarray]], key_split: int = 60) -> None:
    """One preset (bank 0, program 5) -> one instrument with a global zone and two zones:
    keys 0..key_split-1 play sample 0, key_split..127 play sample 1."""
    pcm, headers, start = b"", b"", 0
    for name, audio in samples:
        q = np.round(np.asarray(audio) * 32767).astype("<i2")
        pcm += q.tobytes() + bytes(92)                               # 46 zero samples after each
        headers += struct.pack("<20sIIIIIBbHH", name.encode(), start, start + len(q), start, start + len(q),
                               44100, 60, 0, 0, 1)
        start += len(q) + 46
    headers += struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    gen = lambda op, amount: struct.pack("<HH", op, amount)            # noqa: E731
    igen = gen(48, 100) + gen(43, (key_split - 1) << 8) + gen(53, 0) \
        + gen(43, 127 << 8 | key_split) + gen(53, 1) + gen(0, 0)
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0) + struct.pack("<HH", 3, 0) + struct.pack("<HH", 5, 0)
    inst = struct.pack("<20sH", b"tiny instrument", 0) + struct.pack("<20sH", b"EOI", 3)
    pgen = gen(41, 0) + gen(0, 0)
    pbag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0)
    phdr = struct.pack("<20sHHHIII", b"tiny preset", 5, 0, 0, 0, 0, 0) + struct.pack("<20sHHHIII", b"EOP", 0, 0, 1, 0, 0, 0)
    mod = bytes(10)
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)) + _chunk(b"INAM", b"tiny\0"))
    sdta = _chunk(b"LIST", b"sdta" + _chunk(b"smpl", pcm))
    pdta = _chunk(b"LIST", b"pdta" + b"".join(_chunk(c, d) for c, d in (
        (b"phdr", phdr), (b"pbag", pbag), (b"pmod", mod), (b"pgen", pgen), (b"inst", inst),
        (b"ibag", ibag), (b"imod", mod), (b"igen", igen), (b"shdr", headers))))
    body = b"sfbk" + info + sdta + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_sf2_zones_pick_the_sample_of_each_key(tmp_path):
    low, high = np.linspace(-0.5, 0.5, 500), 0.25 * np.ones(300)
    write_sf2(tmp_path / "t.sf2", [("Low Kick(L)", low), ("High Snr", high)])
    font = sf2.SoundFont(tmp_path / "t.sf2")
    assert font.info["INAM"] == "tiny" and not font.compressed
    assert [s.name for s in font.samples] == ["Low Kick(L)", "High Snr"]
    preset = font.preset(0, 5)
    assert preset is not None and preset.name == "tiny preset" and font.preset(128, 0) is None
    assert [s.name for s in font.sounding_samples(preset, 36, 100)] == ["Low Kick(L)"]
    assert [s.name for s in font.sounding_samples(preset, 72, 100)] == ["High Snr"]
    zone = font.instruments[0].zones[0]
    assert zone.generators[48] == 100          # the global zone's attenuation reaches every zone
    assert np.abs(font.audio(font.samples[0]) - low).max() < 1e-4
    assert np.abs(font.audio(font.samples[1]) - high).max() < 1e-4
    assert ss._signature(font, 0, 5, 36, 100) == ("Low Kick",)   # stereo suffix merged


def test_sf2_rejects_non_soundfonts(tmp_path):
    (tmp_path / "x.sf2").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    with pytest.raises(sf2.SoundFontError):
        sf2.SoundFont(tmp_path / "x.sf2")


def test_black_pearl_names_give_a_label_to_every_layer():
    names = ["36-Pearl22Kick-1", "37-SideStick-2", "40-PearlSnareEdge-1", "44-SabianRockHatPeda",
             "44-SabianRockHatPe-1", "55-ZildjianA10Splash", "55-ZildjianA10Spla-3", "60-Paiste2002-22-1",
             "56-Cowbell-1", "43-Pearl16FloorTomEd"]
    labels = {n: lab for n, (lab, _) in ss.black_pearl_labels(names).items()}
    assert labels == {"36-Pearl22Kick-1": "kick", "37-SideStick-2": "perc", "40-PearlSnareEdge-1": "snare",
                      "44-SabianRockHatPeda": "hihat", "44-SabianRockHatPe-1": "hihat",
                      "55-ZildjianA10Splash": "cymbal", "55-ZildjianA10Spla-3": "cymbal",
                      "60-Paiste2002-22-1": "cymbal", "56-Cowbell-1": "perc", "43-Pearl16FloorTomEd": "tom"}


def test_real_black_pearl_sf2_smoke():
    if not ss.BLACK_PEARL_SF2.exists():
        pytest.skip("avldrums.lv2-soundfont not installed")
    font = sf2.SoundFont(ss.BLACK_PEARL_SF2)
    labels = ss.black_pearl_labels([s.name for s in font.samples])
    assert len(font.samples) == 118 and len(labels) == 118
    kick = next(s for s in font.samples if s.name.startswith("36-"))
    y = font.audio(kick)
    assert y.size == kick.end - kick.start and 0.3 < np.abs(y).max() <= 1.0


def test_gm_kit_notes_follow_the_map_unless_the_recording_is_named_otherwise():
    assert ss.kit_note_label(36, ("Std Kick",))[0] == "kick"
    assert ss.kit_note_label(56, ("Cow Bell",))[0] == "perc"          # not a cymbal "bell"
    assert ss.kit_note_label(37, ("Rim Tap",))[0] == "perc"           # side stick stays perc
    assert ss.kit_note_label(27, ("Hi-Hat Closed",))[0] == "hihat"    # GS orchestra kit
    assert ss.kit_note_label(39, ("Brush Snr 2",))[0] == "snare"      # brush kit's clap note
    assert ss.kit_note_label(45, ("Timpani 2",)) is None
    assert ss.kit_note_label(29, ("Scratch Push",))[0] == "fx"


@pytest.mark.parametrize("program,label", [(0, "synth"), (33, "bass"), (38, "bass"), (52, "vocal"),
                                           (81, "synth"), (89, "synth"), (98, "fx"), (119, "fx"),
                                           (122, "fx"), (117, "tom"), (115, "perc"), (47, None)])
def test_gm_programs_map_to_classes(program, label):
    got = ss.gm_program_label(program)
    assert (got[0] if got else None) == label


def test_hydrogen_kits_all_have_a_source_group():
    kits = {i.kit for i in ds.hydrogen_instruments()} if ds.HYDROGEN_DIR.is_dir() else set()
    if not kits:
        pytest.skip("hydrogen-drumkits not installed")
    assert kits <= ds.HYDROGEN_SOURCES.keys()
    assert ds.HYDROGEN_SOURCES["GMRockKit"] == ds.HYDROGEN_SOURCES["The Black Pearl 1.0"] == "blackpearl"


# --------------------------------------------------------------------------- shared recordings

def test_kits_sharing_a_recording_are_merged_and_other_sources_reported(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 11025

    def hit(f):  # a decaying noisy tone
        return (np.sin(2 * np.pi * f * t) + 0.3 * rng.standard_normal(len(t))) * np.exp(-t * 8)

    shared, other, third = hit(180), hit(900), hit(3000)
    files = {"a.wav": shared, "b.wav": 0.5 * shared, "c.wav": other, "d.wav": third, "e.wav": 0.7 * third}
    for name, y in files.items():
        sf.write(tmp_path / name, (0.9 * y / np.abs(y).max()).astype(np.float32), 11025)
    rows = [{"path": str(tmp_path / "a.wav"), "kit": "k1", "source": "s"},
            {"path": str(tmp_path / "b.wav"), "kit": "k2", "source": "s"},
            {"path": str(tmp_path / "c.wav"), "kit": "k3", "source": "s"},
            {"path": str(tmp_path / "d.wav"), "kit": "k4", "source": "s"},
            {"path": str(tmp_path / "e.wav"), "kit": "k5", "source": "other"}]
    merged, across = merge_shared_kits(rows, links=[("k3", "k9")])
    assert [r["kit"] for r in rows] == ["k1", "k1", "k3", "k4", "k5"]
    assert ["k1", "k2"] in merged
    assert across == [(str(tmp_path / "d.wav"), str(tmp_path / "e.wav"))]
