"""Runs one peer analyser over a list of audio files inside that peer's own venv and prints
one JSON object per file as soon as it is done: ``{"path", "bpm", "key", ...}`` or
``{"path", "error"}``. Started by benchmarks/accuracy_analysis.py as

    <peer venv>/bin/python benchmarks/peer_runner.py TOOL < paths.json

Only the standard library, numpy and the peer's own package are imported here, because each
peer lives in a venv whose pins clash with the others' (TensorFlow for tempocnn, the madmom
fork, Essentia). Keys come back as "A minor"; BPM as a float, or null without a pulse.
"""

from __future__ import annotations

import json
import os
import sys

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
           "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ESSENTIA_PROFILES = ("edma", "bgate", "temperley")


def essentia_tool():
    import essentia
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es
    rhythm = es.RhythmExtractor2013(method="multifeature")
    keys = {p: es.KeyExtractor(profileType=p, sampleRate=44100) for p in ESSENTIA_PROFILES}

    def run(path: str) -> dict:
        audio = es.MonoLoader(filename=path, sampleRate=44100)()
        bpm, *_ = rhythm(audio)
        out = {"bpm": float(bpm) if bpm > 0 else None}
        for p, ex in keys.items():
            k, scale, strength = ex(audio)
            out[f"key_{p}"] = f"{k} {scale}"
            out[f"key_{p}_strength"] = float(strength)
        return out
    return run


def madmom_tool():
    import numpy as np
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    rnn, dbn = RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=100)

    def run(path: str) -> dict:
        beats = dbn(rnn(path))
        if len(beats) < 3:
            return {"bpm": None, "beats": len(beats)}
        return {"bpm": float(60.0 / np.median(np.diff(beats))), "beats": len(beats)}
    return run


def tempocnn_tool():
    from tempocnn.classifier import TempoClassifier
    from tempocnn.feature import read_features
    clf = TempoClassifier("fcn")   # shipped in the wheel; deeptemp/deepsquare aliases download

    def run(path: str) -> dict:
        return {"bpm": float(clf.estimate_tempo(read_features(path), interpolate=False))}
    return run


TOOLS = {"essentia": essentia_tool, "madmom": madmom_tool, "tempocnn": tempocnn_tool}


def main() -> int:
    tool = sys.argv[1]
    paths = json.load(sys.stdin)
    try:
        run = TOOLS[tool]()
    except Exception as e:  # the peer does not import: every file gets the reason
        for p in paths:
            print(json.dumps({"path": p, "error": f"load: {type(e).__name__}: {e}"[:300]}), flush=True)
        return 1
    for p in paths:
        try:
            res = run(p)
        except Exception as e:  # one bad file must not stop the others
            res = {"error": f"{type(e).__name__}: {e}"[:300]}
        print(json.dumps({"path": p, **res}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
