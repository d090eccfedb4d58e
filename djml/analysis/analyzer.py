"""Path in, :class:`~djml.analysis.result.Analysis` out: picks the track or sample
pipeline and assembles the record (the work behind :func:`djml.analysis.analyze`).

Kept out of the package ``__init__`` so that importing :mod:`djml.analysis` (which
unpickling a worker's result does) loads none of this: see the package docstring.
"""

from __future__ import annotations

import math
import os

import soundfile as sf

from djml.analysis import DEFAULT_BPM_RANGE, SAMPLE_MAX_SECONDS
from djml.analysis.decode import probe as _probe
from djml.analysis.errors import AnalysisError
from djml.analysis.features import feature_vector
from djml.analysis.result import Analysis
from djml.analysis_versions import ANALYZER_VERSIONS


def probe(path: str | os.PathLike) -> tuple[float, int, int]:
    """(duration s, sample rate, channels) from the header; raises AnalysisError."""
    info = _probe(path)
    return info.duration, info.sample_rate, info.channels


def analyze(path: str | os.PathLike, kind: str | None = None, *,
            bpm_range: tuple[float, float] = DEFAULT_BPM_RANGE) -> Analysis:
    """Analyse one file. kind None = "sample" if shorter than SAMPLE_MAX_SECONDS else "track".

    Raises AnalysisError (only) for input that cannot be analysed.
    """
    path = os.fspath(path)
    if kind not in (None, "track", "sample"):
        raise ValueError(f"kind must be 'track', 'sample' or None, not {kind!r}")
    if not bpm_range[0] > 0 or not bpm_range[1] >= 2 * bpm_range[0] * 0.99:
        raise ValueError("bpm_range must be positive and span at least an octave")
    try:
        if kind is None:
            kind = "sample" if _probe(path).duration < SAMPLE_MAX_SECONDS else "track"
        return _analyze_sample(path, bpm_range) if kind == "sample" else _analyze_track(path, bpm_range)
    except AnalysisError:
        raise
    except MemoryError:
        raise AnalysisError("file too large to analyse") from None
    except (sf.LibsndfileError, EOFError) as exc:
        # a decoder error escaping decode.py still means corrupt input, not a bug
        raise AnalysisError(f"truncated or corrupt audio: {exc}") from None
    except OSError as exc:
        raise AnalysisError("file vanished" if not os.path.exists(path) else f"cannot read file: {exc}") from None


def _analyze_track(path: str, bpm_range: tuple[float, float]) -> Analysis:
    from djml.analysis.track import analyze_track   # here: a process analysing samples never needs it

    t = analyze_track(path, bpm_range)
    est = t.tempo
    values = {
        "log_duration": _log1p(t.duration), "loudness_db": t.loudness, "peak_db": t.peak_db,
        "crest_db": t.peak_db - t.loudness, **t.timbre, "onset_rate": t.onset_rate,
        "rhythm_strength": est.pulse_clarity if est else 0.0,
        "bpm_norm": est.bpm / 100.0 if est else 0.0, "attack_log": 0.0, "decay_log": 0.0,
    }
    return Analysis(
        path=path, kind="track", analyzer_version=ANALYZER_VERSIONS["track"], audio_hash=t.audio_hash,
        duration=t.duration, sample_rate=t.sample_rate, channels=t.channels,
        loudness=t.loudness, peak_db=t.peak_db, lufs=t.lufs, lra=t.lra, true_peak_db=t.true_peak_db,
        bpm=est.bpm if est else None, bpm_confidence=est.confidence if est else None,
        bpm_candidates=est.candidates if est else [], bpm_ambiguous=est.ambiguous if est else False,
        first_beat=est.first_beat if est else None,
        key=t.key, key_confidence=t.key_confidence if t.key is not None else None,
        energy=t.energy, rhythm_strength=est.pulse_clarity if est else 0.0,
        timbre=t.timbre, feature_vector=feature_vector(values), logmel=None, rhythm=t.rhythm,
        **_structure_fields(t.structure),
    )


def _structure_fields(shape) -> dict:  # noqa: ANN001 - structure.Structure | None
    if shape is None:
        return {}
    return {"first_downbeat": shape.downbeat, "cues": [c.to_dict() for c in shape.cues],
            "bar_energy": shape.bar_energy, "bar_energy_step": shape.bar_energy_step}


def _analyze_sample(path: str, bpm_range: tuple[float, float]) -> Analysis:
    from djml.analysis.sample import analyze_sample

    s = analyze_sample(path, bpm_range)
    values = {
        "log_duration": _log1p(s.duration), "loudness_db": s.loudness, "peak_db": s.peak_db,
        "crest_db": s.peak_db - s.loudness, **s.timbre, "onset_rate": s.onset_rate,
        "rhythm_strength": s.rhythm_strength,
        "bpm_norm": s.loop_bpm / 100.0 if s.loop_bpm else 0.0,
        "attack_log": _log10(s.attack + 1e-3), "decay_log": _log10(s.decay + 1e-3),
    }
    timbre = dict(s.timbre, onset_rate=s.onset_rate)
    return Analysis(
        path=path, kind="sample", analyzer_version=ANALYZER_VERSIONS["sample"], audio_hash=s.audio_hash,
        duration=s.duration, sample_rate=s.sample_rate, channels=s.channels,
        loudness=s.loudness, peak_db=s.peak_db, lufs=s.lufs, lra=s.lra, true_peak_db=s.true_peak_db,
        timbre=timbre,
        sample_type=s.sample_type, attack=s.attack, decay=s.decay, brightness=s.brightness,
        noisiness=s.noisiness, pitch_hz=s.pitch_hz, note=s.note,
        pitch_confidence=s.pitch_confidence, loop_bpm=s.loop_bpm,
        key=s.key, key_confidence=s.key_confidence if s.key is not None else None,
        feature_vector=feature_vector(values), logmel=s.logmel,
    )


def _log1p(x: float) -> float:
    return math.log1p(max(x, 0.0))


def _log10(x: float) -> float:
    return math.log10(max(x, 1e-9))
