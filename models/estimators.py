"""sklearn-style estimators that carry their own metadata and feature spec.

``Estimator.fit(rows, labels)`` / ``predict_proba(rows)`` work on library rows (not raw
matrices), so the feature assembly a model was trained with is always the one it predicts
with. ``save``/``load`` write one file holding the fitted object and a JSON-able metadata
dict (task, classes, feature schema, training-data hash, metrics, created_at, library
versions) that the registry also copies into the ``models`` table.

Backends are chosen by name from :data:`djml.models.backends.BACKENDS` (rf, et, hgb,
hybrid, cnn; the table says what each is for).

sklearn and torch are imported inside methods: importing this module stays cheap.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from djml.models.backends import BACKENDS
from djml.models.features import FeatureSpec, ItemRow

FORMAT = 1


class ModelFileError(Exception):
    """A saved model cannot be read (corrupt, foreign, or from an incompatible version)."""


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scikit-learn", "torch", "djml"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


def training_hash(item_keys: Sequence[Any], labels: Sequence[str], spec: FeatureSpec) -> str:
    """Identity of the training data: which items with which labels under which features."""
    h = hashlib.sha256()
    for key, label in sorted(zip(map(str, item_keys), labels)):
        h.update(f"{key}\t{label}\n".encode())
    h.update(repr(spec.describe()).encode())
    return h.hexdigest()


class Estimator:
    """A fitted (or fit-able) classifier for one task."""

    def __init__(self, task: str, backend: str, features: FeatureSpec, *, seed: int = 0,
                 params: dict[str, Any] | None = None):
        if backend not in BACKENDS:   # djml.models.backends
            raise ValueError(f"unknown model {backend!r} (choose from {', '.join(BACKENDS)})")
        self.task = task
        self.backend = backend
        self.features = features
        self.seed = seed
        self.params = dict(params or {})
        self.classes_: list[str] = []
        self.model: Any = None
        self.metadata: dict[str, Any] = {}

    # -- fitting -------------------------------------------------------------------------

    def fit(self, rows: Sequence[ItemRow], labels: Sequence[str], *,
            weights: Sequence[float] | None = None,
            extra: tuple[np.ndarray, Sequence[str], np.ndarray] | None = None,
            item_keys: Sequence[Any] | None = None) -> "Estimator":
        """Fit on library rows. ``extra`` = (X, labels, weights) already in this spec's
        feature space (the shipped base set that user corrections fine-tune)."""
        if len(rows) != len(labels):
            raise ValueError("rows and labels differ in length")
        X = None
        if rows:
            self.features.fit(rows)
            X = self.features.transform(rows)
        y = list(labels)
        w = np.ones(len(y), np.float32) if weights is None else np.asarray(weights, np.float32)
        if extra is not None:
            X = extra[0] if X is None else np.concatenate([extra[0], X])
            y = list(extra[1]) + y
            w = np.concatenate([np.asarray(extra[2], np.float32), w])
        if X is None or len(set(y)) < 2:
            raise ValueError("need labelled items of at least two classes")
        return self.fit_arrays(X, y, w, item_keys=item_keys or [r.id for r in rows])

    def fit_arrays(self, X: np.ndarray, y: Sequence[str], w: np.ndarray | None = None, *,
                   item_keys: Sequence[Any] = ()) -> "Estimator":
        """Fit on an already-assembled matrix (training scripts, cross-validation)."""
        self.classes_ = sorted({str(c) for c in y})
        index = {c: i for i, c in enumerate(self.classes_)}
        yi = np.array([index[c] for c in y], dtype=np.int64)
        w = np.ones(len(yi), np.float32) if w is None else np.asarray(w, np.float32)
        self.model = BACKENDS[self.backend].fit_fn()(X, yi, w, len(self.classes_), seed=self.seed, **self.params)
        self.metadata = {
            "task": self.task,
            "backend": self.backend,
            "classes": self.classes_,
            "features": self.features.describe(),
            "training_hash": training_hash(list(item_keys) or list(range(len(y))), list(y), self.features),
            "n_train": int(len(y)),
            "class_counts": {c: int((yi == i).sum()) for i, c in enumerate(self.classes_)},
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(),
            "metrics": {},
        }
        if X.ndim == 2:  # the baseline that explain() occludes features with
            self.metadata["feature_means"] = X.mean(axis=0).round(5).tolist()
        return self

    # -- predicting ----------------------------------------------------------------------

    @property
    def needs_patches(self) -> bool:
        """The model also reads the rows' log-mel patches (a forest blended with a CNN)."""
        return bool(getattr(self.model, "needs_patches", False))

    def predict_proba(self, rows: Sequence[ItemRow]) -> np.ndarray:
        patches = self.features.patches(rows) if self.needs_patches else None
        return self.predict_proba_arrays(self.features.transform(rows), patches)

    def predict_proba_arrays(self, X: np.ndarray, patches: np.ndarray | None = None) -> np.ndarray:
        if self.model is None:
            raise ValueError("estimator is not fitted")
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)), np.float32)
        extra = {} if patches is None else {"patches": patches}
        return BACKENDS[self.backend].predict_fn()(self.model, X, len(self.classes_), **extra)

    def predict(self, rows: Sequence[ItemRow]) -> list[str]:
        proba = self.predict_proba(rows)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def explain(self, rows: Sequence[ItemRow], top: int = 5) -> list[list[tuple[str, float]]]:
        """Why: per item, the features that moved the winning class most (occlusion: each
        feature replaced by its training mean, the drop in the winner's probability)."""
        X = self.features.transform(rows)
        if X.ndim != 2:
            return [[] for _ in rows]
        patches = self.features.patches(rows) if self.needs_patches else None
        base = self.predict_proba_arrays(X, patches)
        winner = base.argmax(axis=1)
        means = np.asarray(self.metadata.get("feature_means") or X.mean(axis=0), np.float32)
        names = self.features.names
        out = []
        for i in range(len(X)):
            probe = np.repeat(X[i:i + 1], X.shape[1], axis=0)
            probe[np.arange(X.shape[1]), np.arange(X.shape[1])] = means
            one = None if patches is None else patches[i:i + 1]   # the CNN's input is not perturbed
            drop = base[i, winner[i]] - self.predict_proba_arrays(probe, one)[:, winner[i]]
            order = np.argsort(-np.abs(drop))[:top]
            out.append([(names[j], float(drop[j])) for j in order])
        return out

    # -- persistence ---------------------------------------------------------------------

    def dumps(self) -> bytes:
        """gzip-compressed pickle (tree arrays shrink ~4x: the shipped model stays < 5 MB)."""
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
            pickle.dump({"format": FORMAT, "metadata": self.metadata, "estimator": self}, gz,
                        protocol=pickle.HIGHEST_PROTOCOL)
        return buf.getvalue()

    def save(self, path: Path) -> str:
        """Write atomically; returns the sha256 of the file contents."""
        data = self.dumps()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def loads(cls, data: bytes, origin: str = "<bytes>") -> "Estimator":
        try:
            blob = pickle.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
        except Exception as exc:  # corrupt, truncated, or classes that no longer exist
            raise ModelFileError(f"cannot read model {origin}: {type(exc).__name__}: {exc}") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT or not isinstance(blob.get("estimator"), cls):
            raise ModelFileError(f"{origin} is not a djml model file (format {FORMAT})")
        return blob["estimator"]

    @classmethod
    def load(cls, path: Path) -> "Estimator":
        """A pickled personal model, or a portable ``.npz`` (the shipped format)."""
        if Path(path).suffix == ".npz":
            from djml.models import portable

            return portable.load(Path(path))
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelFileError(f"cannot read model {path}: {exc.strerror or exc}") from None
        return cls.loads(data, str(path))
