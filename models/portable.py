"""The shipped model's file format: numpy arrays (``.npz``) + a JSON card, no pickle.

Why: the shipped weights must load on whatever scikit-learn / torch the user has (or
none: evaluating the exported forest needs numpy only), offline, and must refuse clearly
when they were built for other inputs. The JSON records the format, the sample analyzer
version and feature layout the weights expect, and the library versions they were built
with; :func:`load` checks the first two (the arrays themselves mean the same under any
numpy) and refuses with a :class:`ModelFileError` that says how to rebuild.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from djml.models.cnn_arrays import CNNFormatError
from djml.models.estimators import Estimator, ModelFileError
from djml.models.forest_arrays import ForestArrays

PORTABLE_FORMAT = 1
REBUILD = "python -m djml.models.train_default"


def card_path(npz: Path) -> Path:
    return Path(npz).with_suffix(".json")


def save(est: Estimator, npz: Path, *, version_prefix: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``npz`` (forest arrays) and its JSON card; returns the card. The version id is
    ``version_prefix`` + the first 8 hex digits of the arrays' sha256, or with a calibration
    map of the arrays' and the map's together (content-named)."""
    if not isinstance(est.model, ForestArrays):
        raise TypeError("only exported forests (ForestArrays) are saved portably")
    buf = io.BytesIO()
    np.savez_compressed(buf, **est.model.to_arrays())
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    # the version names what the model answers: the arrays and the calibration map
    named = hashlib.sha256(data + json.dumps(est.model.calibration, sort_keys=True).encode()).hexdigest() \
        if est.model.calibration else digest
    npz = Path(npz)
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(npz)
    meta = {k: v for k, v in est.metadata.items() if k not in ("metrics", "feature_means")}
    card = {"version": f"{version_prefix}{named[:8]}", "format": PORTABLE_FORMAT, "backend": est.backend,
            "sha256": digest, "temperature": est.model.temperature, "calibration": est.model.calibration,
            "metadata": meta,
            "metrics": est.metadata.get("metrics", {}), **(extra or {})}
    card_path(npz).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return card


def load(npz: Path) -> Estimator:
    """The estimator of a portable model; ModelFileError if unreadable or built for another
    format, analyzer version or feature layout than this djml's."""
    npz = Path(npz)
    try:
        card = json.loads(card_path(npz).read_text(encoding="utf-8"))
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"cannot read model {npz}: {exc}") from None
    check(card, str(npz))
    meta = card["metadata"]
    est = Estimator(meta["task"], card["backend"], _features(meta["features"]))
    est.classes_ = list(meta["classes"])
    try:
        est.model = ForestArrays.from_arrays(arrays, float(card["temperature"]), card.get("calibration"))
    except CNNFormatError as exc:
        raise ModelFileError(f"{npz}: {exc}; rebuild with `{REBUILD}`") from None
    est.metadata = {**meta, "metrics": card.get("metrics", {})}
    return est


def check(card: dict[str, Any], origin: str) -> None:
    """Refuse a card of another format, analyzer version or feature layout."""
    from djml.analysis_versions import ANALYZER_VERSIONS
    from djml.models.shipped_data import expected_names

    if card.get("format") != PORTABLE_FORMAT:
        raise ModelFileError(f"{origin}: model format {card.get('format')!r}, this djml reads "
                             f"format {PORTABLE_FORMAT}; rebuild with `{REBUILD}`")
    meta = card.get("metadata", {})
    built_for = meta.get("analyzer_version")
    if built_for != ANALYZER_VERSIONS["sample"]:
        raise ModelFileError(f"{origin}: built for sample analyzer version {built_for}, this djml "
                             f"analyses with version {ANALYZER_VERSIONS['sample']}; rebuild with `{REBUILD}`")
    names = meta.get("features", {}).get("names")
    if names != expected_names():
        raise ModelFileError(f"{origin}: built for another feature layout ({len(names or [])} columns, "
                             f"this djml makes {len(expected_names())}); rebuild with `{REBUILD}`")


def _features(desc: dict[str, Any]):
    from djml.models.features import SampleFeatures
    from djml.models.shipped_data import logmel_shape

    if desc.get("type") != "SampleFeatures":
        raise ModelFileError(f"portable models carry SampleFeatures, not {desc.get('type')}")
    spec = SampleFeatures()
    spec.names = list(desc["names"])
    spec.dim = sum(n.startswith("sample_vec_") for n in spec.names)
    frames, mels = logmel_shape()
    spec.patch = frames * mels
    return spec
