"""The cross-source music benchmark's readers and truth rules, on small MIDI/WAD bytes made
here (no audio, no installed packages)."""

import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import music_sets  # noqa: E402
from benchmarks.music21_tempo import key_signature_sharps  # noqa: E402
from benchmarks.music_sets import (  # noqa: E402
    Piece,
    bar_count_check,
    batch_smf,
    load_manifest,
    loop_bars,
    onset_envelope,
    plan_piece_clips,
    section_events,
    write_manifest,
)
from benchmarks.music_truth import (  # noqa: E402
    KEY_IN_SCALE_MIN,
    beat_level,
    bpm_at_beat_level,
    clock_tempo,
    constant_spans,
    key_check,
    pitch_class_time,
    signature_key,
)
from benchmarks.smf import SmfError, encode_smf, parse_smf, read_wad_lumps, write_vlq  # noqa: E402


def tempo(us: int) -> bytes:
    return b"\xff\x51\x03" + us.to_bytes(3, "big")


def timesig(num: int, den: int) -> bytes:
    return b"\xff\x58\x04" + bytes([num, den.bit_length() - 1, 24, 8])


def keysig(sharps: int, minor: int) -> bytes:
    return b"\xff\x59\x02" + bytes([sharps & 0xFF, minor])


def notes(pitches, tpq=480, step=1, length=None, channel=0, start=0):
    """One note per ``step`` quarter notes, cycling through ``pitches``."""
    ev = []
    length = length or step
    for i, p in enumerate(pitches):
        t = int(start + i * step * tpq)
        ev += [(t, bytes([0x90 | channel, p, 90])), (t + int(length * tpq) - 1, bytes([0x80 | channel, p, 0]))]
    return ev


# --------------------------------------------------------------------------- SMF reader

def test_parse_smf_reads_meta_events_and_pairs_notes():
    data = encode_smf(notes([60, 64, 67]), tpq=480,
                      meta=[(0, tempo(400000)), (0, timesig(6, 8)), (0, keysig(-3, 1))])
    smf = parse_smf(data)
    assert smf.tpq == 480
    assert smf.tempos == [(0, 400000)]
    assert smf.time_signatures == [(0, 6, 8)]
    assert smf.key_signatures == [(0, -3, 1)]
    assert [(n.start, n.pitch) for n in smf.notes] == [(0, 60), (480, 64), (960, 67)]
    assert smf.seconds(480) == pytest.approx(0.4)


def test_running_status_and_note_on_velocity_zero_as_release():
    # delta 0 note-on C4, then running status: delta 96 "E4 vel 0" (release), delta 0 C4 vel 0
    track = (b"\x00\x90\x3c\x50" + write_vlq(96) + b"\x3c\x00" + b"\x00\xff\x2f\x00")
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(track)) + track
    smf = parse_smf(data)
    assert [(n.start, n.end, n.pitch) for n in smf.notes] == [(0, 96, 60)]


def test_tempo_map_with_a_change():
    data = encode_smf(notes([60] * 4), meta=[(0, tempo(500000)), (960, tempo(250000))])
    smf = parse_smf(data)
    assert smf.seconds(960) == pytest.approx(1.0)
    assert smf.seconds(1440) == pytest.approx(1.25)


def test_damaged_track_keeps_what_was_read():
    good = encode_smf(notes([60, 62]))
    truncated = good[:-7]  # cut into the last note-off and the end-of-track
    smf = parse_smf(truncated)
    assert smf.notes[0].pitch == 60


def test_non_midi_and_smpte_are_refused():
    with pytest.raises(SmfError):
        parse_smf(b"RIFF....")
    smpte = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 0xE728) + b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
    with pytest.raises(SmfError):
        parse_smf(smpte)


def test_wad_directory():
    lumps = [(b"D_E1M1\0\0", encode_smf(notes([60]))), (b"PLAYPAL\0", b"\x01\x02\x03")]
    body, directory, offset = b"", b"", 12
    for name, data in lumps:
        directory += struct.pack("<ii8s", offset + len(body), len(data), name)
        body += data
    wad = b"IWAD" + struct.pack("<ii", len(lumps), 12 + len(body)) + body + directory
    got = read_wad_lumps(wad)
    assert [n for n, _ in got] == ["D_E1M1", "PLAYPAL"]
    assert parse_smf(got[0][1]).notes[0].pitch == 60
    with pytest.raises(SmfError):
        read_wad_lumps(wad[:-8])  # directory runs past the end


# --------------------------------------------------------------------------- truth rules

@pytest.mark.parametrize("sig,quarters,meter", [
    ((4, 4), 1.0, "duple"), ((2, 4), 1.0, "duple"), ((3, 4), 1.0, "triple"),
    ((6, 8), 1.5, "compound"), ((12, 8), 1.5, "compound"), ((9, 8), 1.5, "compound"),
    ((2, 2), 2.0, "duple"),
])
def test_beat_level(sig, quarters, meter):
    level = beat_level(*sig)
    assert (level.quarters, level.meter) == (quarters, meter)


@pytest.mark.parametrize("sig", [(5, 4), (7, 8), (3, 8), (6, 4), (1, 8)])
def test_no_beat_level_for_irregular_or_ambiguous_meters(sig):
    assert beat_level(*sig) is None


def test_six_eight_counts_the_dotted_quarter():
    # 120 eighth notes... quarter = 120 per minute -> dotted quarter = 80 BPM
    assert bpm_at_beat_level(500000, beat_level(6, 8)) == pytest.approx(80.0)
    assert bpm_at_beat_level(500000, beat_level(4, 4)) == pytest.approx(120.0)


@pytest.mark.parametrize("sharps,minor,expect", [
    (0, 0, (0, "major")), (0, 1, (9, "minor")), (1, 0, (7, "major")), (-1, 1, (2, "minor")),
    (-3, 0, (3, "major")), (4, 1, (1, "minor")), (6, 0, (6, "major")), (-6, 0, (6, "major")),
])
def test_signature_key(sharps, minor, expect):
    assert signature_key(sharps, minor) == expect


@pytest.mark.parametrize("tonic,minor", [(t, m) for t in range(12) for m in (False, True)])
def test_key_signature_sharps_round_trips(tonic, minor):
    sf = key_signature_sharps(tonic, minor)
    assert -7 <= sf <= 7
    assert signature_key(sf, int(minor)) == (tonic, "minor" if minor else "major")


def hist_of(pcs_seconds: dict[int, float]) -> list[float]:
    h = [0.0] * 12
    for pc, s in pcs_seconds.items():
        h[pc] = s
    return h


def test_key_check_accepts_a_matching_signature():
    c_major = hist_of({0: 4, 2: 1, 4: 2, 5: 1, 7: 3, 9: 1, 11: 1})
    assert key_check(c_major, 0, "major").ok


def test_key_check_refuses_default_c_major_on_music_in_e_flat():
    eb_major = hist_of({3: 4, 5: 1, 7: 2, 8: 1, 10: 3, 0: 1, 2: 1})
    kc = key_check(eb_major, 0, "major")
    assert not kc.ok and kc.in_scale < KEY_IN_SCALE_MIN


def test_key_check_refuses_a_signature_whose_relative_tonic_dominates():
    a_minor_notes = hist_of({9: 4, 0: 2, 4: 3, 2: 1, 5: 1, 11: 1, 7: 0.5})
    assert not key_check(a_minor_notes, 0, "major").ok       # labelled C major
    assert key_check(a_minor_notes, 9, "minor").ok           # labelled A minor


def test_key_check_minor_allows_raised_sixth_and_seventh():
    a_harmonic = hist_of({9: 4, 11: 1, 0: 2, 2: 1, 4: 3, 5: 1, 8: 1.5})  # G#
    assert key_check(a_harmonic, 9, "minor").ok


def test_key_check_without_pitched_notes():
    assert not key_check([0.0] * 12, 0, "major").ok


def test_pitch_class_time_ignores_drums_and_clips_to_the_span():
    ev = notes([60, 62], step=1) + notes([36, 36], channel=9)
    smf = parse_smf(encode_smf(ev, meta=[(0, tempo(500000))]))
    h = pitch_class_time(smf, 0, 480)   # first quarter only
    assert h[0] == pytest.approx(0.5, abs=0.01) and h[2] == 0 and sum(h) == pytest.approx(h[0])


def test_constant_spans_split_at_changes_only():
    meta = [(0, tempo(500000)), (0, timesig(4, 4)), (0, keysig(0, 0)),
            (1920, tempo(500000)),              # same value again: no cut
            (3840, tempo(400000)),              # real change
            (5760, timesig(3, 4))]
    smf = parse_smf(encode_smf(notes([60] * 16), meta=meta))
    spans = constant_spans(smf)
    assert [(s.start, s.us_per_quarter, s.time_signature) for s in spans] == [
        (0, 500000, (4, 4)), (3840, 400000, (4, 4)), (5760, 400000, (3, 4))]
    assert all(s.key_signature == (0, 0) for s in spans)


def test_missing_time_signature_is_the_smf_default_and_flagged():
    smf = parse_smf(encode_smf(notes([60] * 8), meta=[(0, tempo(500000))]))
    (span,) = constant_spans(smf)
    assert span.time_signature == (4, 4) and span.meter_default


# --------------------------------------------------------------------------- clips

def piece_of(ev, meta, source="simutrans"):
    return Piece(source, f"{source}:test", "test.mid", parse_smf(encode_smf(ev, meta=meta)))


def test_clips_come_from_single_tempo_spans_with_truth_at_the_beat_level():
    # 6/8 at quarter = 90: 60 s of eighth notes (C major scale), then a tempo change
    tpq = 480
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    eighths = [(i * tpq // 2, p) for i, p in enumerate(scale * 40)]   # 320 eighths = 106 s
    ev = []
    for t, p in eighths:
        ev += [(t, bytes([0x90, p, 80])), (t + 200, bytes([0x80, p, 0]))]
    change = len(eighths) * tpq // 2
    ev += [(change + i * tpq, bytes([0x90, 60, 80])) for i in range(40)]
    ev += [(change + i * tpq + 100, bytes([0x80, 60, 0])) for i in range(40)]
    meta = [(0, tempo(int(60e6 / 90))), (0, timesig(6, 8)), (0, keysig(0, 0)),
            (change, tempo(int(60e6 / 150)))]
    clips = plan_piece_clips(piece_of(ev, meta), random.Random(0))
    assert clips
    for c in clips:
        assert c.bpm == pytest.approx(60.0, abs=0.01) or c.bpm == pytest.approx(100.0, abs=0.01)
        assert c.meter == "compound" and c.beat_level == "dotted quarter"
        assert c.key == "C" and c.mode == "major"
        assert (c.end_tick - c.start_tick) % (3 * tpq) == 0   # whole 6/8 bars
        assert c.start_tick >= change or c.end_tick <= change  # never across the change
    long = [c for c in clips if c.kind == "long"]
    assert long and all(27.0 <= c.duration <= 62.0 for c in long)


def test_no_clip_without_a_beat_level():
    ev = notes([60] * 200, step=1)
    meta = [(0, tempo(500000)), (0, timesig(5, 4))]
    assert plan_piece_clips(piece_of(ev, meta), random.Random(0)) == []


def test_key_left_out_when_the_signature_disagrees_with_the_notes():
    eb = [63, 65, 67, 68, 70, 72, 74, 75]
    ev = notes(eb * 12, step=0.5)
    meta = [(0, tempo(500000)), (0, timesig(4, 4)), (0, keysig(0, 0))]
    clips = plan_piece_clips(piece_of(ev, meta), random.Random(1))
    assert clips and all(c.key is None and c.mode is None for c in clips)
    assert all(c.key_check["signature"] == "C major" and not c.key_check["ok"] for c in clips)


# --------------------------------------------------------------------------- sections

def test_section_events_restore_state_and_release_notes():
    tpq = 480
    ev = [(0, bytes([0xC0, 33])), (0, bytes([0xB0, 7, 90])), (0, bytes([0x90, 40, 80])),
          (tpq, bytes([0x80, 40, 0])),                           # released before the cut
          (2 * tpq - 10, bytes([0x90, 50, 80])),                 # begun before the cut
          (2 * tpq + 10, bytes([0x80, 50, 0])),
          (3 * tpq, bytes([0x90, 60, 80])), (6 * tpq, bytes([0x80, 60, 0]))]  # crosses the end
    smf = parse_smf(encode_smf(ev))
    out = section_events(smf, 2 * tpq, 4 * tpq)
    assert (0, bytes([0xC0, 33])) in out and (0, bytes([0xB0, 7, 90])) in out
    assert all(m[1] != 50 for _, m in out if m[0] & 0xF0 in (0x80, 0x90))
    assert (tpq, bytes([0x90, 60, 80])) in out and (2 * tpq, bytes([0x80, 60, 0])) in out


def test_batch_smf_places_sections_where_it_says():
    a = parse_smf(encode_smf(notes([60] * 8), meta=[(0, tempo(500000))]))
    b = parse_smf(encode_smf(notes([70] * 8, start=240), tpq=480, meta=[(0, tempo(300000))]))
    data, starts = batch_smf([(a, 0, 4 * 480, 500000), (b, 0, 4 * 480, 300000)])
    merged = parse_smf(data)
    on_b = [merged.seconds(n.start) for n in merged.notes if n.pitch == 70]
    on_a = [merged.seconds(n.start) for n in merged.notes if n.pitch == 60]
    assert on_a[0] == pytest.approx(starts[0], abs=1e-3)
    assert on_b[0] - starts[1] == pytest.approx(0.5 * 0.3, abs=1e-3)   # half a beat in
    assert on_b[1] - on_b[0] == pytest.approx(0.3, abs=1e-3)            # its own tempo


# --------------------------------------------------------------------------- Sonic Pi rule

def test_loop_bars_puts_the_tempo_in_one_octave():
    assert loop_bars(2.0) == 1            # 120 BPM
    assert loop_bars(8.0) == 4            # 4 bars = 120, not 2 bars = 60
    assert loop_bars(0.5) is None         # one bar would be 480 BPM


def test_bar_count_check_on_a_click_loop():
    sr, bpm, bars = 22050, 120.0, 2
    dur = bars * 4 * 60 / bpm
    y = np.zeros(int(dur * sr), dtype=np.float32)
    rng = np.random.default_rng(0)
    for k in range(bars * 8):   # eighth-note clicks, accented beats
        a = int(k * 30 / bpm * sr)
        y[a:a + 200] += (1.0 if k % 2 == 0 else 0.4) * rng.standard_normal(200).astype(np.float32)
    env, fps = onset_envelope(y, sr)
    ok, info = bar_count_check(env, fps, dur, bars)
    assert ok, info
    ok3, info3 = bar_count_check(env, fps, dur, 3)   # a wrong count: 3 bars of 90 BPM
    assert not ok3 and info3["alternatives"]["bars-1"] > info3["pulse"]


# --------------------------------------------------------------------------- manifest

def test_manifest_round_trip_keeps_other_sources(tmp_path):
    f = tmp_path / "a.wav"
    f.write_bytes(b"x")
    write_manifest(tmp_path, [{"path": str(f), "source": "freedoom", "piece_id": "p"},
                              {"path": str(tmp_path / "gone.wav"), "source": "freedoom", "piece_id": "q"}])
    write_manifest(tmp_path, [{"path": str(f), "source": "hydrogen", "piece_id": "h"}])
    rows = load_manifest(cache=tmp_path)
    assert sorted(r["source"] for r in rows) == ["freedoom", "hydrogen"]   # missing file dropped
    assert [r["piece_id"] for r in load_manifest(["hydrogen"], cache=tmp_path)] == ["h"]
    with pytest.raises(ValueError):
        load_manifest(["nope"], cache=tmp_path)
    with pytest.raises(FileNotFoundError):
        load_manifest(cache=tmp_path / "empty")


# --------------------------------------------------------------------------- converter clocks

def test_a_mus_clock_tempo_gives_clips_without_a_tempo_truth():
    # Doom music converted from MUS: 89 ticks a quarter at 631,578 us = the 140 Hz MUS clock
    smf = parse_smf(encode_smf(notes([60, 64, 67] * 200, tpq=89), tpq=89, meta=[(0, tempo(631578))]))
    assert clock_tempo(smf)
    clips = plan_piece_clips(Piece("freedoom", "freedoom:test", "t.mid", smf), random.Random(0))
    assert clips and all(c.bpm is None for c in clips)


@pytest.mark.parametrize("tpq,us,meta_ts", [(96, 500000, False), (89, 631578, True), (89, 500000, False)])
def test_an_ordinary_tempo_is_not_a_clock(tpq, us, meta_ts):
    meta = [(0, tempo(us))] + ([(0, timesig(4, 4))] if meta_ts else [])
    smf = parse_smf(encode_smf(notes([60] * 200, tpq=tpq), tpq=tpq, meta=meta))
    assert not clock_tempo(smf)
    clips = plan_piece_clips(Piece("freedoom", "freedoom:test", "t.mid", smf), random.Random(0))
    assert clips and all(c.bpm == pytest.approx(60e6 / us, abs=0.01) for c in clips)


def test_the_plan_does_not_depend_on_what_is_already_rendered(tmp_path, monkeypatch):
    fonts = {}
    for name in ("FontA", "FontB", "FontC"):
        (tmp_path / f"{name}.sf2").write_bytes(b"")
        fonts[name] = tmp_path / f"{name}.sf2"
    monkeypatch.setattr(music_sets, "SOUNDFONTS", fonts)
    midi = tmp_path / "midi"
    midi.mkdir()
    for i in range(3):
        meta = [(0, tempo(int(60e6 / (90 + 10 * i)))), (0, timesig(4, 4))]
        (midi / f"piece{i}.mid").write_bytes(encode_smf(notes([60, 62, 64, 65] * 60, step=0.5), meta=meta))
    out = tmp_path / "set"
    where = ("glob", [midi, "*.mid"])
    fresh, pending = music_sets.plan_midi_source("simutrans", out, None, where)
    assert len(pending) == len(fresh) > 3
    for row in fresh[::2]:   # a build stopped half-way
        Path(row["path"]).parent.mkdir(parents=True, exist_ok=True)
        Path(row["path"]).write_bytes(b"x")
    again, pending_again = music_sets.plan_midi_source("simutrans", out, None, where)
    assert again == fresh
    assert [it["seed"] for _, _, it in pending_again] == [it["seed"] for _, _, it in pending][1::2]
