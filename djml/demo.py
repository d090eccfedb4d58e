"""A demo library djml makes itself: synthesised tracks at known BPM and key, tagged like a
real collection, and a sample pack of one-shots in class-named folders.

The comment tag carries the truth ("made at 128 BPM in 4A") and :func:`generate` returns
it, so `djml demo` can show what djml found next to what was made. Generation is deterministic and idempotent: existing files are
kept, so rerunning the demo is a no-op rescan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from djml import keys

# (title, artist, genre, bpm, key, style, bucket hint) — a small, plausible DJ crate.
DEMO_TRACKS = [
    ("Morning Drift", "Low Sun", "Deep House", 118, keys.parse("Am"), "four_on_floor"),
    ("Velvet Floor", "Low Sun", "Deep House", 120, keys.parse("Dm"), "swing"),
    ("Night Bus", "Kilo Tape", "House", 122, keys.parse("Em"), "four_on_floor"),
    ("Warehouse Lights", "Kilo Tape", "Tech House", 124, keys.parse("Gm"), "four_on_floor"),
    ("Peak Stomper", "Ironclad", "Techno", 128, keys.parse("Fm"), "four_on_floor"),
    ("Strobe Logic", "Ironclad", "Techno", 130, keys.parse("Cm"), "four_on_floor"),
    ("Concrete Rain", "Subfield", "Dubstep", 140, keys.parse("F#m"), "halftime"),
    ("Amen Sunrise", "Breakfast Club", "Breakbeat", 132, keys.parse("C"), "breakbeat"),
    ("Roller Coaster", "Subfield", "Drum & Bass", 174, keys.parse("Bbm"), "dnb"),
    ("Slow Motion", "Tape Echo", "Hip-Hop", 90, keys.parse("Eb"), "swing"),
    ("Last Call", "Tape Echo", "Downtempo", 96, keys.parse("G"), "four_on_floor"),
    ("Closing Credits", "Low Sun", "Deep House", 116, keys.parse("A"), "four_on_floor"),
]

DEMO_SAMPLE_KINDS = ("kick", "snare", "hihat", "clap", "tom", "cymbal", "perc", "bass", "synth", "fx")
FOLDER_NAMES = {"kick": "Kicks", "snare": "Snares", "hihat": "Hats", "clap": "Claps", "tom": "Toms",
                "cymbal": "Cymbals", "perc": "Percussion", "bass": "Bass", "synth": "Synths", "fx": "FX"}


@dataclass
class DemoTrack:
    path: Path
    bpm: float
    key: int


@dataclass
class DemoLibrary:
    library: Path
    sample_dir: Path
    tracks: list[DemoTrack]
    samples: int
    unsorted: list[tuple[Path, str]]  # (path, true class): no folder name gives them away


def generate(root: Path, tracks: int = 12, seconds: float = 40.0, samples_per_kind: int = 3) -> DemoLibrary:
    """Write the demo into ``root/tracks`` (FLAC, tagged) and ``root/samples`` (WAV)."""
    from djml import synth

    library, sample_dir = root / "tracks", root / "samples"
    library.mkdir(parents=True, exist_ok=True)
    made_tracks: list[DemoTrack] = []
    for i in range(tracks):
        title, artist, genre, bpm, key, style = DEMO_TRACKS[i % len(DEMO_TRACKS)]
        if i >= len(DEMO_TRACKS):  # more tracks than the crate: vary tempo, keep the style
            bpm += i // len(DEMO_TRACKS)
            title = f"{title} (Remix {i // len(DEMO_TRACKS)})"
        path = library / f"{i + 1:02d} {artist} - {title}.flac"
        if not path.exists():
            y = synth.drum_track(bpm, key, seconds, style=style, seed=i)
            _write_tagged(path, y, synth.SR, artist=artist, title=title, genre=genre,
                          album="djml Demo Crate",
                          comment=f"made at {bpm} BPM in {keys.camelot(key)} ({style})")
        made_tracks.append(DemoTrack(path, float(bpm), key))
    made_samples = 0
    for kind in DEMO_SAMPLE_KINDS:
        folder = sample_dir / FOLDER_NAMES[kind]
        folder.mkdir(parents=True, exist_ok=True)
        for seed in range(samples_per_kind):
            path = folder / f"demo_{kind}_{seed + 1:02d}.wav"
            if not path.exists():
                synth.write_wav(path, synth.one_shot(kind, seed=seed))
            made_samples += 1
    loops = sample_dir / "Loops"
    loops.mkdir(parents=True, exist_ok=True)
    for bpm in (120, 128, 174):
        path = loops / f"demo_loop_{bpm}bpm.wav"
        if not path.exists():
            synth.write_wav(path, synth.loop(bpm, bars=2, seed=bpm))
        made_samples += 1
    unsorted_dir = sample_dir / "Unsorted"
    unsorted_dir.mkdir(parents=True, exist_ok=True)
    unsorted: list[tuple[Path, str]] = []
    for n, kind in enumerate(DEMO_SAMPLE_KINDS):
        path = unsorted_dir / f"sample_{n + 1:02d}.wav"
        if not path.exists():
            synth.write_wav(path, synth.one_shot(kind, seed=50 + n))
        unsorted.append((path, kind))
        made_samples += 1
    return DemoLibrary(library, sample_dir, made_tracks, made_samples, unsorted)


def _write_tagged(path: Path, y, sr: int, **tags: str) -> None:
    """Write FLAC and Vorbis-comment tags; a temporary name keeps half-written files out."""
    import os

    from mutagen.flac import FLAC

    from djml import synth

    tmp = path.with_name(f".{path.name}.part.flac")
    synth.write_wav(tmp, y, sr)
    audio = FLAC(tmp)
    for name, value in tags.items():
        audio[name] = value
    audio.save()
    os.replace(tmp, path)
