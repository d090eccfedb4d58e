"""Track structure on the beat grid: per-bar energy, sections, and typed cue points.

Why: a DJ mixes on phrases. The beat grid (``bpm`` + ``first_beat``) says where the beats
are, not where a section starts, where the intro ends or where to bring the next track in.
Everything here is derived from per-frame band powers and onset fluxes that the track pass
already computes (no second decode, numpy only, a few milliseconds per track):

1. **Beat and bar features.** Frames are pooled per beat: power in seven bands (below
   200 Hz = kick and bass, octaves up to 6.4 kHz, above = hats and cymbals), the mean
   onset flux of the low and the treble bands, and the low band's quiet level (the bass
   between the kicks), all in dB, floored 40 dB under the track's top so silence and
   dither do not dominate.
2. **Downbeat.** The grid knows beats, not bars. Sections (step 3) are found once on bars
   from the first beat; each boundary then votes for the beat near it where the beat
   features change most, and the phase with the most (change-weighted) votes is beat 1 —
   sections start on downbeats. Choosing the phase whose bars split at the least cost
   was tried and rejected: bars straddling the chord changes inside a section vary less,
   so a wrong phase often costs less. A track that never changes keeps the first beat. A
   bar's features are the median of its sounding beats.
3. **Sections.** Bars are split into sections by dynamic programming: the cost is the
   within-section squared deviation of the bar features (each scaled by its own
   bar-to-bar noise) plus a penalty per boundary that is smallest on an 8-bar phrase grid,
   larger on its 4-bar half and largest elsewhere; the grid's phase is the one of eight
   whose best split costs least. So boundaries snap to 8/16/32-bar phrases when the music
   is phrased that way and still land on odd bars when it is not.
4. **Levels and cues.** A section's *deficit* is how far (dB, each clipped at DEFICIT_CLIP)
   its total level, its level below 200 Hz (kick and bass) and that band's quiet level
   (bass between the kicks) sit below the track's top (90th percentile of bars). A section
   is "full" when its level and low band are within LEVEL_DB and LOW_DB of the top and a
   bass line moves in it: the pitch classes of the 40-200 Hz band (a whole-bar transform of
   a 16x decimated signal: 0.3 Hz bins, fine enough for bass pitch) change from bar to bar
   by at least BASS_MOTION of the track's top change. A bass line follows the chords; a
   kick, a drone or an ambient texture sounds the same every bar, though it fills the low
   band as a bass line does (the quiet-level cue took those intros for full).
   mix_in: the first bar with sound. intro_end: the start of the first full section.
   outro_start: the bar after the last full section. breakdown: each drop out of full
   level between them; first_drop: the return to full level after the first breakdown.
   mix_out: where to start the next track — the outro start, or without an outro the
   phrase 16 bars before the music ends (in a track under 32 bars, half its length before
   the end, so that it never mixes out where it mixes in).

Parameters were chosen on the structure benchmark's tuning family only and scored on the
held-out one (benchmarks/structure.py, docs/analysis.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from djml.analysis import fft, spectral
from djml.cues import Cue, in_track_order

BAND_EDGES_HZ = (200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0)   # 7 bands: kick/bass ... hats
BEATS_PER_BAR = 4
NOVELTY_BEATS = 2            # beats each side when boundaries vote for the downbeat
LOW_QUIET = 0.25             # quantile of a beat's low-band frames that stands for its bass
EARLY_BEAT = 0.15           # a grid beat this close (share of a beat) before t=0 counts as t=0
MIN_BARS = 8                 # fewer whole bars: no structure (a loop or a clip)
FLOOR_DB = 40.0              # features floored this far below the track's top
NOISE_FLOOR_DB = 2.0         # a feature's bar-to-bar noise is at least this (dB)
MIN_SECTION_BARS = 4
PHRASE_BARS = 8
BOUNDARY_PENALTY = 24.0      # per boundary, in squared noise units
OFF_HALF_PHRASE = 8.0        # extra penalty on the 4-bar half of the phrase grid
OFF_GRID = 24.0              # extra penalty anywhere else
MAX_SECTION_BARS = 256       # DP window (long DJ mixes): a longer section is split
TOP_QUANTILE = 0.9
DEFICIT_CLIP = 12.0          # dB: one missing layer cannot outweigh the others
LEVEL_DB = 4.0               # "full": level within this of the top (dB), ...
LOW_DB = 3.0                 # ... the band below 200 Hz within this ...
BASS_MOTION = 0.2            # ... and its bass chroma's bar-to-bar change at least this share of the top
BASS_HZ = (40.0, 200.0)      # the bass line's band (pitch classes of its whole-bar spectrum)
BASS_DECIMATION = 16         # the bass signal's rate: the analysis rate / this
SOUND_DB = 40.0              # a bar more than this under the top is silent
MIX_OUT_BARS = 16            # without an outro, start the next track this long before the end
STRIP_BARS = 512             # bar_energy keeps at most this many values (longer: pooled)

# Columns of the bar features: 7 bands, total level, low flux, treble flux, low quiet level.
_TOTAL, _LOW_QUIET = 7, 10
_FULLNESS = (_TOTAL, 0, _LOW_QUIET)   # level, kick and bass (the band below 200 Hz), bass between kicks


@dataclass
class Structure:
    """The bar grid, its sections and cues; arrays are for benchmarks, not stored."""

    downbeat: float                  # seconds of bar 1
    bar_seconds: float
    boundaries: list[int]            # bar numbers (1-based) where a section starts, bar 1 excluded
    cues: list[Cue]
    bar_energy: list[float]          # 0..1 fullness per bar (pooled to <= STRIP_BARS values)
    bar_energy_step: int             # bars per bar_energy value
    beat_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beat_features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def band_starts(sr: int, n_mels: int) -> np.ndarray:
    """First mel band of each structure band, for ``np.add.reduceat(melpow, starts, axis=1)``."""
    starts = [0] + [spectral.mel_band_index(sr, n_mels, hz) for hz in BAND_EDGES_HZ]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError("structure bands need more mel bands")
    return np.array(starts, dtype=np.int64)


def analyse_structure(bands: np.ndarray, low_flux: np.ndarray, high_flux: np.ndarray, fps: float,
                      bpm: float | None, first_beat: float | None, duration: float,
                      bass: np.ndarray, bass_sr: float) -> Structure | None:
    """Structure of a track from per-frame band powers ``bands`` (frames, 7; linear) and the
    low / treble onset fluxes at ``fps`` frames per second, on the grid of ``bpm`` from
    ``first_beat``; ``bass`` is the mono signal at ``bass_sr`` (BASS_DECIMATION times under
    the analysis rate). None without a tempo or with fewer than MIN_BARS whole bars."""
    if not bpm or bpm <= 0 or len(bands) == 0:
        return None
    beat = 60.0 / bpm
    first = float(first_beat or 0.0) % beat
    if first > (1.0 - EARLY_BEAT) * beat:      # a beat just before t=0 is the track's first
        first -= beat
    count = int(np.floor((min(duration, len(bands) / fps) - first) / beat))
    if count < BEATS_PER_BAR * MIN_BARS:
        return None
    beat_times = first + beat * np.arange(count + 1)
    per_beat = _to_db(beat_features(bands, low_flux, high_flux, beat_times, fps, beat))
    found = bar_grid(per_beat)
    if found is None:
        return None
    phase, x, boundaries, phrase = found
    deficit = bar_deficits(x)
    downbeat = float(beat_times[phase])
    bar_seconds = beat * BEATS_PER_BAR
    motion = bass_motion(bass_chroma(bass, bass_sr, downbeat, bar_seconds, len(x)))
    cues = find_cues(boundaries, phrase, deficit, motion, x[:, _TOTAL], downbeat, bar_seconds)
    strip, step = energy_strip(deficit)
    return Structure(downbeat=round(downbeat, 4), bar_seconds=bar_seconds,
                     boundaries=[b + 1 for b in boundaries], cues=cues, bar_energy=strip,
                     bar_energy_step=step, beat_times=beat_times[:-1], beat_features=per_beat)


def beat_features(bands: np.ndarray, low_flux: np.ndarray, high_flux: np.ndarray, beat_times: np.ndarray,
                  fps: float, beat: float) -> np.ndarray:
    """(beats, 10) linear features, each beat pooled from half a beat before it to half a beat
    after (a grid a little off still puts each onset in its own beat): mean band powers, mean
    low and treble flux, and the low band's quiet level (LOW_QUIET quantile of its frames in
    the half beat before the beat, where a kick's tail has decayed and sustained bass
    remains)."""
    centres = beat_times[:-1] * fps
    starts = np.clip(np.round(centres - beat * fps / 2).astype(np.int64), 0, len(bands))
    ends = np.clip(np.round(centres + beat * fps / 2).astype(np.int64), starts, len(bands))
    means = _pool(np.column_stack([bands, low_flux, high_flux]).astype(np.float64), starts, ends)
    return np.column_stack([means, _quiet(bands[:, 0].astype(np.float64), centres, beat * fps / 2)])


def bar_grid(per_beat: np.ndarray) -> tuple[int, np.ndarray, list[int], int] | None:
    """(downbeat phase 0..3, bar features, section starts, phrase phase).

    Sections are first found on bars from the first beat; then each of their boundaries
    votes for the beat, within two of it, where the beat features change most (NOVELTY_BEATS
    after against before, squared distance, weighted by that change): sections start on
    downbeats. Only boundaries vote, so chord changes inside a section do not. With another
    winning phase the bars and sections are computed again."""
    x = _on_bars(per_beat, 0)
    if x is None:
        return None
    cuts, phrase, _ = sections(x / _noise(x))
    votes = np.zeros(BEATS_PER_BAR)
    k, novelty = beat_novelty(per_beat / _noise(per_beat))
    for cut in cuts:
        near = (k >= BEATS_PER_BAR * cut - 2) & (k <= BEATS_PER_BAR * cut + 2)
        if near.any():
            i = np.flatnonzero(near)[int(np.argmax(novelty[near]))]
            votes[k[i] % BEATS_PER_BAR] += novelty[i]
    phase = int(np.argmax(votes))      # no boundaries: the first beat
    if phase == 0:
        return phase, x, cuts, phrase   # the bars are those already cut
    x = _on_bars(per_beat, phase)
    if x is None:
        return None
    cuts, phrase, _ = sections(x / _noise(x))
    return phase, x, cuts, phrase


def beat_novelty(z: np.ndarray, window: int = NOVELTY_BEATS) -> tuple[np.ndarray, np.ndarray]:
    """(beat indices k, squared distance between the mean of ``window`` beats from k and of
    the ``window`` beats before k)."""
    if len(z) < 2 * window + 1:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    sums = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
    k = np.arange(window, len(z) - window + 1)
    after = (sums[k + window] - sums[k]) / window
    before = (sums[k] - sums[k - window]) / window
    return k, ((after - before) ** 2).sum(axis=1)


def _on_bars(per_beat: np.ndarray, phase: int) -> np.ndarray | None:
    """Bar features with bar 1 on beat ``phase``, each the median of its sounding beats (a
    fill or the next section's first hit in one beat does not move it); None when fewer
    than MIN_BARS bars fit."""
    n_bars = (len(per_beat) - phase) // BEATS_PER_BAR
    if n_bars < MIN_BARS:
        return None
    beats = per_beat[phase:phase + n_bars * BEATS_PER_BAR].copy()
    silent = beats[:, _TOTAL] <= beats[:, _TOTAL].max() - SOUND_DB
    beats[silent & ~np.all(silent.reshape(n_bars, -1), axis=1).repeat(BEATS_PER_BAR)] = np.nan
    return np.nanmedian(beats.reshape(n_bars, BEATS_PER_BAR, -1), axis=1)


def _pool(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of the rows ``x[start:end]`` for each pair of frame indices (0 when empty)."""
    sums = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    return (sums[ends] - sums[starts]) / np.maximum(ends - starts, 1)[:, None]


def _quiet(x: np.ndarray, centres: np.ndarray, frames: float) -> np.ndarray:
    """LOW_QUIET quantile of ``x`` over the ``frames`` frames before each centre (frames
    before the start or past the end repeat the edge frame)."""
    width = max(1, int(round(frames)))
    first = np.round(centres).astype(np.int64) - width
    idx = np.clip(first[:, None] + np.arange(width)[None, :], 0, len(x) - 1)
    return np.quantile(x[idx], LOW_QUIET, axis=1)


def _to_db(x: np.ndarray) -> np.ndarray:
    """Bands, their total, the two fluxes and the low band's quiet level in dB, each floored
    FLOOR_DB under its top."""
    cols = np.column_stack([x[:, :7], x[:, :7].sum(axis=1), x[:, 7:10]])
    db = 10.0 * np.log10(np.maximum(cols, 1e-12))
    return np.maximum(db, db.max(axis=0) - FLOOR_DB)


def _noise(x: np.ndarray) -> np.ndarray:
    """Each column's robust step-to-step noise, at least NOISE_FLOOR_DB: dividing by it makes
    sections differ by a few noise units whatever the feature's own range."""
    if len(x) < 2:
        return np.full(x.shape[1], NOISE_FLOOR_DB)
    return np.maximum(1.4826 * np.median(np.abs(np.diff(x, axis=0)), axis=0), NOISE_FLOOR_DB)


def sections(z: np.ndarray, penalty: float = BOUNDARY_PENALTY, min_bars: int = MIN_SECTION_BARS,
             half_cost: float = OFF_HALF_PHRASE, off_cost: float = OFF_GRID) -> tuple[list[int], int, float]:
    """(0-based bar indices where a new section starts (never 0), phrase-grid phase 0..7, its
    cost): the least-cost split of the bar features ``z`` over the eight phases (ties: the
    lowest)."""
    rel = (np.arange(len(z))[None, :] - np.arange(PHRASE_BARS)[:, None]) % PHRASE_BARS
    extra = np.where(rel == 0, 0.0, np.where(rel % (PHRASE_BARS // 2) == 0, half_cost, off_cost))
    costs, cuts = _split(z, penalty + extra, min_bars)
    phase = int(np.argmin(costs))
    return (cuts[phase], phase, float(costs[phase])) if np.isfinite(costs[phase]) else ([], 0, 0.0)


def _split(z: np.ndarray, boundary_cost: np.ndarray, min_bars: int) -> tuple[np.ndarray, list[list[int]]]:
    """Optimal partitions (dynamic programming) of the rows of ``z`` into runs of at least
    ``min_bars``, one per row of ``boundary_cost`` (phases, bars): squared deviation from each
    run's mean plus ``boundary_cost[phase, start]`` for every run but the first. Returns the
    total cost and the run starts per phase; all phases share one pass over the bars."""
    n, phases = len(z), len(boundary_cost)
    sums = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
    sq = np.concatenate([[0.0], np.cumsum((z * z).sum(axis=1))])
    best = np.full((phases, n + 1), np.inf)
    best[:, 0] = 0.0
    back = np.zeros((phases, n + 1), dtype=np.int64)
    entry = np.concatenate([np.zeros((phases, 1)), boundary_cost[:, 1:]], axis=1)   # no cost to start at 0
    rows = np.arange(phases)
    for end in range(min_bars, n + 1):
        starts = np.arange(max(0, end - MAX_SECTION_BARS), end - min_bars + 1)
        starts = starts[(starts == 0) | (starts >= min_bars)]
        if len(starts) == 0:
            continue
        seg = sums[end] - sums[starts]
        cost = sq[end] - sq[starts] - (seg * seg).sum(axis=1) / (end - starts)
        total = best[:, starts] + entry[:, starts] + cost[None, :]
        i = np.argmin(total, axis=1)
        best[:, end], back[:, end] = total[rows, i], starts[i]
    cuts = []
    for p in range(phases):
        found, end = [], n
        while end > 0 and np.isfinite(best[p, n]):
            end = int(back[p, end])
            if end > 0:
                found.append(end)
        cuts.append(sorted(found))
    return best[:, n], cuts


def bass_chroma(bass: np.ndarray, sr: float, downbeat: float, bar_seconds: float, n_bars: int) -> np.ndarray:
    """(bars, 12) power per pitch class of the BASS_HZ band of each bar (Hann window over
    the whole bar; a bar starting before the file starts at 0, one past its end is padded)."""
    length = max(1, int(round(bar_seconds * sr)))
    n_fft = 1 << (length - 1).bit_length()
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    band = (freqs >= BASS_HZ[0]) & (freqs <= BASS_HZ[1])
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0)).astype(np.int64) % 12
    fold = np.eye(12)[pitch_class]                      # (bins, 12): each bin to its pitch class
    starts = np.maximum(np.round((downbeat + bar_seconds * np.arange(n_bars)) * sr).astype(np.int64), 0)
    padded = np.concatenate([np.asarray(bass, np.float32), np.zeros(length, np.float32)])
    window = np.hanning(length).astype(np.float32)
    out = np.zeros((n_bars, 12))
    for first in range(0, n_bars, 64):                  # 64 bars per transform: bounded memory
        chunk = starts[first:first + 64]
        frames = np.zeros((len(chunk), n_fft), np.float32)
        idx = np.minimum(chunk[:, None] + np.arange(length)[None, :], len(padded) - 1)
        frames[:, :length] = padded[idx] * window
        out[first:first + len(chunk)] = (np.abs(fft.rfft(frames)[:, band]) ** 2) @ fold
    return out


def bass_motion(chroma: np.ndarray) -> np.ndarray:
    """Per bar, 1 - cosine similarity of its bass chroma with the previous bar's (0 for bar 1)."""
    unit = chroma / np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-12)
    return np.concatenate([[0.0], 1.0 - (unit[1:] * unit[:-1]).sum(axis=1)])


def bar_deficits(x: np.ndarray) -> np.ndarray:
    """(bars, 3): dB by which the level, the low band and its quiet level (the bass under the
    kicks) sit under the track's top (TOP_QUANTILE of bars), each clipped at DEFICIT_CLIP."""
    cols = x[:, _FULLNESS]
    top = np.quantile(cols, TOP_QUANTILE, axis=0)
    return np.clip(top - cols, 0.0, DEFICIT_CLIP)


def find_cues(boundaries: list[int], phrase: int, deficit: np.ndarray, motion: np.ndarray,
              total_db: np.ndarray, downbeat: float, bar_seconds: float) -> list[Cue]:
    """Typed cues from the sections (0-based start bars, phrase grid phase ``phrase``),
    per-bar deficits (:func:`bar_deficits`) and bass motion (:func:`bass_motion`); see the
    module docstring for what each kind means."""
    n = len(deficit)
    starts = [0, *boundaries]
    ends = [*boundaries, n]
    top_motion = float(np.quantile(motion[1:], TOP_QUANTILE)) if n > 1 else 0.0
    full = [_is_full(deficit[a:b].mean(axis=0), float(np.median(motion[a + 1:b])) if b - a > 1 else 0.0,
                     top_motion) for a, b in zip(starts, ends)]
    sounding = np.flatnonzero(total_db > total_db.max() - SOUND_DB)
    first_sound, last_sound = int(sounding[0]), int(sounding[-1])

    def cue(kind: str, bar_index: int) -> Cue:      # bar 1 may start a hair before the file
        return Cue(kind, bar_index + 1, max(0.0, downbeat + bar_index * bar_seconds))

    out = [cue("mix_in", first_sound)]
    if not any(full):
        return out
    first_full = full.index(True)
    last_full = len(full) - 1 - full[::-1].index(True)
    intro_end, outro_start = starts[first_full], ends[last_full]
    if intro_end > first_sound:
        out.append(cue("intro_end", intro_end))
    drops = [starts[i] for i in range(first_full + 1, last_full + 1) if full[i] and not full[i - 1]]
    breaks = [starts[i] for i in range(first_full + 1, last_full + 1) if not full[i] and full[i - 1]]
    out += [cue("breakdown", b) for b in breaks]
    if drops:
        out.append(cue("first_drop", drops[0]))
    if outro_start <= last_sound:
        out.append(cue("outro_start", outro_start))
        out.append(cue("mix_out", outro_start))
    else:
        # a mix takes at most half the track: a short one would otherwise mix out where it
        # mixes in; where the phrase line falls on the first sound, take the unsnapped point
        mix = max(1, min(MIX_OUT_BARS, (last_sound + 1 - first_sound) // 2))
        latest = last_sound + 1 - mix
        on_grid = latest - (latest - phrase) % PHRASE_BARS
        out.append(cue("mix_out", on_grid if on_grid > first_sound else latest))
    return in_track_order(out)


def _is_full(deficit: np.ndarray, motion: float, top_motion: float) -> bool:
    """Near the top in level and in the low band (kick and bass), with a moving bass line
    (``motion``: the section's median bar-to-bar bass chroma change; ``top_motion``: the
    track's). Onset fluxes are not used: in near-silent low or treble bands the dB rises of
    noise are as large as those of drums."""
    level, low, _ = deficit
    return level <= LEVEL_DB and low <= LOW_DB and motion >= BASS_MOTION * top_motion


def energy_strip(deficit: np.ndarray) -> tuple[list[float], int]:
    """(0..1 fullness per bar, pooled by whole bars to at most STRIP_BARS values; bars per value)."""
    deficit = deficit.mean(axis=1)
    step = max(1, -(-len(deficit) // STRIP_BARS))
    usable = len(deficit) // step * step
    pooled = deficit[:usable].reshape(-1, step).mean(axis=1) if usable else deficit
    return [round(float(v), 2) for v in 1.0 - pooled / DEFICIT_CLIP], step
