"""The learned key decision: a transposition-shared logistic model over the 24 keys.

For every candidate key (tonic t, mode m) the pooled chroma vectors of
:mod:`djml.analysis.chroma` are rotated so that t sits at index 0, and the key's logit is a
mode-specific linear function of those rotated vectors plus a few per-key scores of the
profile method (:func:`djml.analysis.key.key_scores`):

    logit(t, m) = W[m] · [ sqrt(roll(v, -t)) for v in VECTORS ] + U[m] · S[:, 12 m + t] + b[m]

Sharing the weights over the 12 tonics is 12-fold transposition augmentation made exact:
training on all rotations of an example changes nothing, and transposing the audio rotates
the prediction with it. The profile scores as inputs let the model keep what the profile
method gets right and learn where it fails (mostly major against its parallel minor).

The weights are ``key_model.json`` next to this module (a few hundred numbers), rebuilt by
``python -m djml.models.key_train``, which also records there which decision (``method``:
this model, the profile method, or ``mode``: the profile key with this model choosing among
it, its parallel and its relative) scored best leave-one-source-out; :func:`decide` follows it. Inference is numpy only; the file records the feature
layout it was trained on and :func:`load` refuses one that does not match the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from djml.analysis import chroma
from djml.analysis import key as keymod

FORMAT = 1
MODEL_PATH = Path(__file__).resolve().with_name("key_model.json")
# per-key scores of the profile method on the pooled chroma: (name, vector, profile)
SCALARS: tuple[tuple[str, str, str | tuple[str, ...]], ...] = (
    ("treble_default", "treble", keymod.DEFAULT_PROFILE),
    ("treble_krumhansl", "treble", "krumhansl"),
    ("treble_temperley", "treble", "temperley"),
    ("bass_default", "bass", keymod.DEFAULT_PROFILE),
)
N_FEATURES = 12 * len(chroma.VECTORS) + len(SCALARS)


class KeyModelError(RuntimeError):
    """The key model file does not match this code (a packaging or rebuild error)."""


METHODS = ("model", "profile", "mode")


def mode_candidates(key: int) -> tuple[int, int, int]:
    """A key, its parallel and its relative (index = tonic + 12 * minor): the keys whose
    confusion is a mode error, the choice the ``mode`` method leaves to the model."""
    tonic, minor = key % 12, key >= 12
    relative = (tonic + 9) % 12 + 12 if not minor else (tonic + 3) % 12
    return key, (key + 12) % 24, relative


@dataclass(frozen=True)
class KeyModel:
    weights: np.ndarray       # (2, N_FEATURES): major, minor
    bias: np.ndarray          # (2,)
    info: dict
    method: str = "model"     # which decision won leave-one-source-out when the file was built

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        """(24,) logits, index = key (tonic + 12 * minor) as in djml.keys."""
        phi = design(pooled)                                     # (24, F)
        mode = np.repeat([0, 1], 12)
        return np.einsum("kf,kf->k", phi, self.weights[mode]) + self.bias[mode]

    def choose_mode(self, pooled: np.ndarray, key: int) -> int:
        """The most probable of `key`, its parallel and its relative under this model."""
        cands = mode_candidates(key)
        return cands[int(np.argmax(self.logits(pooled)[list(cands)]))]

    def predict(self, pooled: np.ndarray) -> tuple[int | None, float]:
        """(key, probability of that key) or (None, 0.0) without treble pitch content."""
        if not has_pitch(pooled):
            return None, 0.0
        z = self.logits(pooled)
        p = np.exp(z - z.max())
        p /= p.sum()
        best = int(np.argmax(p))
        return best, round(float(p[best]), 3)


def has_pitch(pooled: np.ndarray) -> bool:
    """Whether the pooled chroma has treble pitch content to decide a key from."""
    return bool(np.isfinite(pooled).all() and pooled[0].max() > 0)


def design(pooled: np.ndarray) -> np.ndarray:
    """(24, N_FEATURES) inputs of every candidate key from (len(VECTORS), 12) pooled chroma."""
    pooled = np.asarray(pooled, dtype=np.float64)
    rows = np.arange(12)[:, None] + np.arange(12)[None, :]          # rows[t] = roll(., -t) index
    rotated = np.sqrt(np.maximum(pooled, 0.0))[:, rows % 12]        # (V, 12 tonics, 12)
    vec = rotated.transpose(1, 0, 2).reshape(12, -1)                # (12, 12 V)
    index = {name: i for i, name in enumerate(chroma.VECTORS)}
    scalars = np.stack([_scores(pooled[index[v]], prof) for _, v, prof in SCALARS], axis=1)  # (24, S)
    return np.concatenate([np.tile(vec, (2, 1)), scalars], axis=1)


def _scores(v: np.ndarray, profile: str | tuple[str, ...]) -> np.ndarray:
    if v.std() < 1e-9:
        return np.zeros(24)
    return keymod.key_scores(v, profile)


def layout() -> dict:
    """What a model file must have been trained on to be usable by this code."""
    return {"format": FORMAT, "feature_version": chroma.FEATURE_VERSION,
            "vectors": list(chroma.VECTORS), "scalars": [name for name, _, _ in SCALARS],
            "segment_seconds": chroma.SEGMENT_SECONDS, "bass_range": list(chroma.BASS_RANGE),
            "treble_range": list(chroma.TREBLE_RANGE)}


def decide(pooled: np.ndarray, profile_chroma: np.ndarray, model: KeyModel | None = None
           ) -> tuple[int | None, float]:
    """The analyzer's key, by the decision the (shipped) model file says scored best
    leave-one-source-out (its ``method``): the model's over the 24 keys, the profile
    method's, or ``mode``: the profile method's tonic region with the model choosing among
    that key, its parallel and its relative (the profile method's misses are mostly mode
    errors; its confidence is kept)."""
    model = model or load()
    if model.method == "model":
        return model.predict(pooled)
    key, confidence = keymod.detect_key(profile_chroma)
    if model.method == "mode" and key is not None and has_pitch(pooled):
        key = model.choose_mode(pooled, key)
    return key, confidence


def to_json(weights: np.ndarray, bias: np.ndarray, info: dict, method: str = "model") -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    body = {**layout(), "weights": np.round(weights, 6).tolist(), "method": method,
            "bias": np.round(bias, 6).tolist(), "info": info}
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def from_json(text: str) -> KeyModel:
    body = json.loads(text)
    expected = layout()
    wrong = [k for k, v in expected.items() if body.get(k) != v]
    if wrong:
        raise KeyModelError(f"key model was trained for another feature layout ({', '.join(wrong)} "
                            "differ); rebuild it with: python -m djml.models.key_train")
    weights, bias = np.asarray(body["weights"], np.float64), np.asarray(body["bias"], np.float64)
    if weights.shape != (2, N_FEATURES) or bias.shape != (2,):
        raise KeyModelError(f"key model weights have shape {weights.shape}, expected (2, {N_FEATURES})")
    if body.get("method") not in METHODS:
        raise KeyModelError(f"key model method {body.get('method')!r} is not one of {METHODS}")
    return KeyModel(weights, bias, body.get("info", {}), body["method"])


@lru_cache(maxsize=1)
def load(path: str | None = None) -> KeyModel:
    """The shipped model (cached per process)."""
    return from_json(Path(path or MODEL_PATH).read_text(encoding="utf-8"))
