"""The Analysis record handed from workers to the daemon (picklable, JSON-renderable)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from djml import keys

_BIG_ARRAYS = ("feature_vector", "logmel", "rhythm")


@dataclass
class Analysis:
    """Result of :func:`djml.analysis.analyze`.

    loudness is RMS dBFS over all channels (not LUFS: no K-weighting or gating); lufs is
    the ITU-R BS.1770-4 integrated loudness, lra the EBU Tech 3342 loudness range (LU) and
    true_peak_db the 4x-oversampled peak estimate (dBTP), see djml.analysis.loudness.
    lufs is None for audio under 400 ms or silent, lra for audio under 3 s.
    Track-only fields are None for samples and vice versa; see the package docstring.
    """

    path: str
    kind: str
    analyzer_version: int
    audio_hash: str
    duration: float
    sample_rate: int
    channels: int
    loudness: float
    peak_db: float
    lufs: float | None = None
    lra: float | None = None
    true_peak_db: float | None = None
    bpm: float | None = None
    bpm_confidence: float | None = None
    bpm_candidates: list[float] = field(default_factory=list)
    bpm_ambiguous: bool = False
    first_beat: float | None = None
    key: int | None = None
    key_confidence: float | None = None
    energy: float | None = None
    rhythm_strength: float | None = None
    timbre: dict[str, float] = field(default_factory=dict)
    sample_type: str | None = None
    attack: float | None = None
    decay: float | None = None
    brightness: float | None = None
    noisiness: float | None = None
    pitch_hz: float | None = None
    note: str | None = None
    pitch_confidence: float | None = None
    loop_bpm: float | None = None
    feature_vector: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    logmel: np.ndarray | None = None
    rhythm: np.ndarray | None = None     # tracks: RHYTHM_NAMES pattern (djml.analysis.rhythm)
    first_downbeat: float | None = None  # tracks: seconds of bar 1 (djml.analysis.structure)
    cues: list[dict] = field(default_factory=list)        # djml.cues.Cue.to_dict() in track order
    bar_energy: list[float] = field(default_factory=list)  # 0..1 fullness per bar_energy_step bars
    bar_energy_step: int | None = None

    def to_dict(self) -> dict:
        """JSON-safe dict without the big arrays; key rendered in every notation
        (key, key_id3, camelot, open_key strings) plus the integer as key_index."""
        out = {}
        for f in fields(self):
            if f.name in _BIG_ARRAYS:
                continue
            out[f.name] = _json_safe(getattr(self, f.name))
        if self.key is not None:
            out.update(keys.render_all(self.key))   # "key" becomes e.g. "A minor"
            out["key_index"] = self.key
        return out


def _json_safe(value):  # noqa: ANN001, ANN202 - recursive over plain containers
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
