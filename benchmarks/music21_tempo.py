"""The ``music21_abc`` source of the cross-source music benchmark: ABC tunes of the music21
corpus that carry a ``Q:`` tempo mark, written out as MIDI files whose meta events hold what
the tune's own header says (tempo from ``Q:``, time signature from ``M:``, key signature
from ``K:`` when the notes confirm it). The MIDI files then go through the same clip, truth
and render rules as every other MIDI source (benchmarks/music_sets.py).

Only tunes with one tempo mark and one time signature, a strict major/minor ``K:``, and
never a tune of the ``key_music21`` set (so a piece is never in two sources). Each tune is
transposed by -6..+5 semitones (seeded) so keys spread over all 24, truth transposed with it.
The key is written only when the label passes the score checks of ``key_music21``
(``datasets.label_checks``: the final note is the tonic and >= 90 % of note time is in the
scale).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.smf import encode_smf

N_TUNES = 60
TPQ = 480
PROGRAMS = (0, 4, 21, 24, 40, 48, 73)   # piano, e-piano, accordion, guitar, violin, strings, flute


def key_signature_sharps(tonic: int, minor: bool) -> int:
    """Sharps (negative: flats) of the signature of a key, the spelling with fewer
    accidentals (F# major: 6 sharps rather than 6 flats)."""
    major_tonic = (tonic + 3) % 12 if minor else tonic
    return min((sf for sf in range(-7, 8) if (7 * sf) % 12 == major_tonic), key=lambda sf: (abs(sf), -sf))


def tune_midi(score, shift: int, program: int, qpm: float, ts: tuple[int, int],
              key: tuple[int, bool] | None) -> bytes:
    """The tune's notes (ties merged, transposed by ``shift``) as an SMF with one tempo, one
    time signature and, if given, one key signature at tick 0."""
    us = int(round(60e6 / qpm))
    meta = [(0, b"\xff\x51\x03" + us.to_bytes(3, "big")),
            (0, b"\xff\x58\x04" + bytes([ts[0], ts[1].bit_length() - 1, 24, 8]))]
    if key is not None:
        sf = key_signature_sharps(key[0], key[1])
        meta.append((0, b"\xff\x59\x02" + bytes([sf & 0xFF, int(key[1])])))
    events = [(0, bytes([0xC0, program]))]
    for el in score.stripTies().flatten().notes:
        start = int(round(float(el.offset) * TPQ))
        end = start + max(24, int(round(float(el.quarterLength) * TPQ * 0.95)))
        for p in el.pitches:
            m = p.midi + shift
            if 0 <= m < 128:
                events.append((start + 1, bytes([0x90, m, 88])))
                events.append((end, bytes([0x80, m, 0])))
    return encode_smf(sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90)), tpq=TPQ, meta=meta)


def write_tunes(midi_dir: Path, exclude: set[tuple[str, str]], limit: int | None = None,
                seed: int = 21) -> list[Path]:
    """Write up to N_TUNES MIDI files (idempotent) and return their paths."""
    import music21
    from music21 import converter, meter, tempo

    from benchmarks import datasets
    from benchmarks.music_truth import beat_level

    root = Path(music21.__file__).parent
    tunes = []
    for f in sorted((root / "corpus").rglob("*.abc")):
        for idx, (txt, kf) in enumerate(datasets._abc_tunes(f)):
            head = txt.split("\nK:")[0]
            parsed = datasets.parse_abc_key(kf)
            if re.search(r"(?m)^Q:", head) and parsed and parsed[1] in ("major", "minor"):
                tunes.append((str(f.relative_to(root)), idx, txt, parsed))
    rng = random.Random(seed)
    rng.shuffle(tunes)
    want = min(limit, N_TUNES) if limit else N_TUNES
    midi_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for corpus_file, idx, txt, (tonic, mode) in tunes:
        if len(out) >= want:
            break
        if (corpus_file, str(idx)) in exclude:
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(corpus_file).parent.name}_{Path(corpus_file).stem}_{idx}")
        path = midi_dir / f"{name}.mid"
        r = random.Random(f"{seed}:{name}")
        shift = (r.randrange(12) - tonic + 6) % 12 - 6
        program = r.choice(PROGRAMS)
        if path.exists():
            out.append(path)
            continue
        if path.with_suffix(".skip").exists():   # found unusable before
            continue
        try:
            score = converter.parse(txt, format="abc")
            marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
            sigs = {(t.numerator, t.denominator) for t in score.recurse().getElementsByClass(meter.TimeSignature)}
            ts = sigs.pop() if len(sigs) == 1 else None
            if len({m.getQuarterBPM() for m in marks}) != 1 or ts is None or beat_level(*ts) is None:
                path.with_suffix(".skip").touch()
                continue
            key_index = tonic + (12 if mode == "minor" else 0)
            checks = datasets.label_checks(score, "abc", key_index, shift)
            key = ((tonic + shift) % 12, mode == "minor") if checks["label_verified"] else None
            data = tune_midi(score, shift, program, float(marks[0].getQuarterBPM()), ts, key)
        except Exception as e:  # a tune music21 cannot parse: skip it, keep going
            datasets.log(f"music21_abc: skip {name}: {type(e).__name__}: {e}")
            continue
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        out.append(path)
    return out


def key_music21_pieces(cache: Path) -> set[tuple[str, str]]:
    """(corpus file, tune index) of every ``key_music21`` piece (building that set if missing)
    and of ``key_music21_extra`` (which the key model trains on as well; built if missing,
    so the two never share a tune)."""
    from benchmarks import datasets
    rows = datasets.ensure("key_music21", cache) + datasets.ensure("key_music21_extra", cache)
    return {(r["corpus_file"], str(r["abc_index"])) for r in rows}
