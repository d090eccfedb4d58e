"""Audio analysis: path in, :class:`Analysis` out (pure; safe in worker processes).

Public API (others code against these names):
``ANALYZER_VERSIONS``, ``AnalysisError``, ``Analysis``, ``FEATURE_NAMES``,
``SAMPLE_MAX_SECONDS``, ``probe(path)``, ``analyze(path, kind=None, *, bpm_range)``.

Imports only numpy, scipy's compiled pocketfft (not the scipy.fft package, see
analysis.fft), soundfile and soxr, plus miniaudio's FLAC decoder when installed (not
librosa: its filters/beat modules compile numba code for seconds in every new worker
process).

Importing the package loads only the layout names (:mod:`djml.analysis.layout`, no
imports) and the error type; ``Analysis``, ``probe`` and ``analyze`` are loaded on first
use (module ``__getattr__``). Why: a worker's result is an ``Analysis`` from
:mod:`djml.analysis.result`, and unpickling it imports this package first; the process
that receives results (the daemon, a scan's parent) needs only that record (numpy and
:mod:`djml.keys`) and the layout, never the decoders and DSP modules its workers run.

Modules: decode (read once, hash, resample), loudness (BS.1770 LUFS, LRA, true peak,
fed by the decoder at the native rate), spectral (STFT and derived features),
tempo, key, rhythm (beat/bar pattern of the onsets), features (timbre stats, feature
vector), layout (names and sizes of the stored vectors), bands (the onset envelopes' band edges), track and sample pipelines,
analyzer (``analyze``: picks the pipeline, builds the record), result (the Analysis
record).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from djml.analysis.errors import AnalysisError
from djml.analysis.layout import FEATURE_DOC, FEATURE_NAMES, LOGMEL_SHAPE, RHYTHM_NAMES
from djml.analysis_versions import ANALYZER_VERSIONS  # defined apart: see that module

SAMPLE_MAX_SECONDS = 30.0
DEFAULT_BPM_RANGE = (70.0, 180.0)   # the folding range (config bpm_min / bpm_max)

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "Analysis": "djml.analysis.result",
    "probe": "djml.analysis.analyzer",
    "analyze": "djml.analysis.analyzer",
}

__all__ = [
    "ANALYZER_VERSIONS", "AnalysisError", "Analysis", "FEATURE_NAMES", "FEATURE_DOC",
    "LOGMEL_SHAPE", "RHYTHM_NAMES", "SAMPLE_MAX_SECONDS", "probe", "analyze",
]

if TYPE_CHECKING:
    from djml.analysis.analyzer import analyze, probe
    from djml.analysis.result import Analysis


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value      # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
