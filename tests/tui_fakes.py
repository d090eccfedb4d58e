"""An in-process stand-in for the daemon link, with fixed data, for the TUI's unit and
snapshot tests (deterministic: no clock, no sockets). Integration tests use the real
daemon instead (tests/test_tui_daemon.py)."""

from __future__ import annotations

import asyncio
import copy
import functools
from pathlib import Path
from typing import Any

from djml import compat, keys, protocol
from djml.client import RemoteError
from djml.config import from_dict
from djml.protocol import METHOD_NOT_FOUND, NOT_FOUND
from djml.tui.app import DjmlApp


def _item(i: int, kind: str, name: str, bpm: float | None, camelot: str | None, key: str | None,
          energy: float | None, label: str | None = None, **extra: Any) -> dict[str, Any]:
    artist, _, title = name.partition(" - ")
    return {
        "id": i, "kind": kind, "artist": artist if title else None, "title": title or None, "album": None,
        "genre": extra.pop("genre", None), "year": None, "duration": extra.pop("duration", 300.0),
        "bpm": bpm, "bpm_confidence": 0.8 if bpm else None, "bpm_ambiguous": False, "key_confidence": 0.9,
        "energy": energy, "loudness": -9.0, "sample_type": extra.pop("sample_type", None),
        "path": extra.pop("path", f"/music/{'tracks' if kind == 'track' else 'samples'}/{name}.wav"),
        "user_label": label, "label_source": "user" if label else None, "folder_label": None,
        "predicted_label": None, "predicted_confidence": None,
        "key": key, "key_id3": None, "camelot": camelot, "open_key": None, "missing": False, "label": label,
        "labels": [], **extra,
    }


# A 112-bar track: drums-only intro, groove, a breakdown, the drop, a drums-only outro.
_ENERGY = [0.55] * 16 + [0.9] * 32 + [0.3] * 16 + [0.95] * 32 + [0.55] * 16
_CUES = [{"kind": k, "bar": b, "seconds": round((b - 1) * 4 * 60 / 124.0, 3)} for k, b in (
    ("mix_in", 1), ("intro_end", 17), ("breakdown", 49), ("first_drop", 65), ("outro_start", 97), ("mix_out", 97))]
ANALYSIS = {"analyzer_version": 6, "analyzed_at": "2026-01-01T00:00:00",
            "data": {"cues": _CUES, "bar_energy": _ENERGY, "bar_energy_step": 1, "first_downbeat": 0.0}}

ITEMS = [
    _item(1, "track", "Anna Lee - Night Drive", 124.0, "8A", "A minor", 6, genre="techno", analysis=ANALYSIS),
    _item(2, "track", "Bo Marsh - Lantern", 126.0, "9A", "E minor", 7, genre="techno"),
    _item(3, "track", "Cleo Ray - Tidewater", 122.0, "8B", "C major", 4, genre="house"),
    _item(4, "track", "Dex Wu - Afterglow", 128.0, "7A", "D minor", 8, "peak-time", genre="techno"),
    _item(5, "sample", "kick_punchy_01", None, None, None, None, "kick", duration=0.4),
    _item(6, "sample", "snare_tight_02", None, None, None, None, "clap", duration=0.3, user_label=None,
          label_source="folder", folder_label="clap", path="/music/samples/Claps/snare_tight_02.wav"),
    _item(7, "sample", "hat_closed_03", None, None, None, None, duration=0.1),
]

REVIEW = [
    {"item_id": 6, "task": "sample_type", "label": "snare", "confidence": 0.41,
     "top": [["snare", 0.41], ["clap", 0.37], ["perc", 0.12]], "model_version": "sample_type-v1",
     "reasons": ["low confidence 0.41"]},
    {"item_id": 2, "task": "bucket", "label": "peak-time", "confidence": 0.48,
     "top": [["peak-time", 0.48], ["warm-up", 0.32], ["closing", 0.2]], "model_version": "bucket-v2",
     "reasons": ["low confidence 0.48"]},
    {"item_id": 7, "task": "sample_type", "label": "hihat", "confidence": 0.45,
     "top": [["hihat", 0.45], ["cymbal", 0.4], ["perc", 0.15]], "model_version": "sample_type-v1",
     "reasons": ["low confidence 0.45"]},
]

RECOMMEND = [
    {"id": 2, "artist": "Bo Marsh", "title": "Lantern", "path": "/music/tracks/Bo Marsh - Lantern.wav",
     "bpm": 126.0, "camelot": "9A", "energy": 7, "score": 0.82, "rank": 1,
     "reasons": ["8A → 9A (+1, compatible)", "124 → 126 BPM (+1.6%)", "timbre similarity 0.91"],
     "explanation": "8A → 9A (+1, compatible) · 124 → 126 BPM (+1.6%) · timbre similarity 0.91"},
    {"id": 4, "artist": "Dex Wu", "title": "Afterglow", "path": "/music/tracks/Dex Wu - Afterglow.wav",
     "bpm": 128.0, "camelot": "7A", "energy": 8, "score": 0.74, "rank": 2,
     "reasons": ["8A → 7A (-1, compatible)", "124 → 128 BPM (+3.2%)", "timbre similarity 0.80"],
     "explanation": "8A → 7A (-1, compatible) · 124 → 128 BPM (+3.2%) · timbre similarity 0.80"},
]

STATUS = {
    "pid": 4242, "version": "0.1.0", "protocol": 1, "uptime": 3725.0, "workers": 1, "workers_running": True,
    "watching": ["/music/tracks", "/music/samples"], "polling": False,
    "queue": {"queued": 3, "running": 1, "failed": 1, "settling": 0, "in_flight": 1, "done": 120,
              "failures": 1, "files_per_second": 2.5},
    "library": {"tracks": 4, "samples": 3, "missing": 0, "failed": 1, "labels": 2, "queued_jobs": 4},
    "models": [],
}

MODELS = [
    {"version": "sample_type-v2", "task": "sample_type", "estimator": "hgb", "active": 1,
     "metrics": '{"holdout_accuracy": 0.91, "n_holdout": 34}', "created_at": "2026-11-20T10:00:00"},
    {"version": "sample_type-v1", "task": "sample_type", "estimator": "hgb", "active": 0,
     "metrics": '{"holdout_accuracy": 0.84, "n_holdout": 25}', "created_at": "2026-11-19T10:00:00"},
    {"version": "bucket-v2", "task": "bucket", "estimator": "rf", "active": 1,
     "metrics": '{"holdout_accuracy": 0.66, "n_holdout": 12}', "created_at": "2026-11-20T11:00:00"},
    {"version": "bucket-v1", "task": "bucket", "estimator": "rf", "active": 0,
     "metrics": '{"holdout_accuracy": 0.58, "n_holdout": 12}', "created_at": "2026-11-18T11:00:00"},
]

def _version(version, name, active, accuracy, n, accepted, reason, drift=None, status="trained"):
    return {"version": version, "name": name, "active": active, "status": status, "reason": reason,
            "figure": {"what": "held-out", "accuracy": accuracy, "correct": round(accuracy * n), "n": n,
                       "low": max(0.0, accuracy - 0.25), "high": min(1.0, accuracy + 0.15)},
            "acceptance": {"accepted": accepted[0], "corrected": accepted[1], "n": sum(accepted),
                           "rate": accepted[0] / sum(accepted)} if sum(accepted) else None,
            "drift": drift, "shadow": None}


HISTORY = {"tasks": [
    {"task": "bucket", "training": None,
     "runs": [{"finished_at": "2026-11-20T11:00:00", "status": "activated",
               "reason": "schedule weekly: 12 new label(s)"}],
     "versions": [
         _version("bucket-v1", "bucket v1", False, 0.58, 12, (14, 9), "manual"),
         _version("bucket-v2", "bucket v2", True, 0.66, 12, (17, 4), "schedule weekly: 12 new label(s)",
                  drift={"drifted": True, "features": ["bpm", "band_low"], "labels": ["BPM", "low-band energy"],
                         "n_items": 41, "message": "BPM and low-band energy: new items are faster and heavier"
                                                   " than what bucket v2 learned from"}),
     ]},
    {"task": "sample_type", "runs": [],
     "training": {"task": "sample_type", "reason": "drift: length", "stage": "shadow evaluation", "step": 3,
                  "steps": 5, "elapsed": 12.0, "eta": 8.0, "detail": None},
     "versions": [
         _version("sample_type-v1", "sample_type v1", False, 0.84, 25, (0, 0), "shipped", status="shipped"),
         _version("sample_type-v2", "sample_type v2", True, 0.91, 34, (30, 3), "labels: at least 20 new"),
     ]},
]}

FAILED = [{"location_id": 9, "id": None, "path": "/music/tracks/broken.mp3",
           "error": "cannot decode: not an audio file", "last_seen": "2026-11-20T09:00:00"}]


class FakeLink:
    """Answers the protocol methods the TUI uses from the tables above; records calls."""

    def __init__(self, connected: bool = True, fail: set[str] | None = None) -> None:
        self.connected = connected
        self.server = {"pid": 4242, "protocol": 1, "version": "0.1.0"}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail or set()
        self.labels: list[tuple[int, str, str]] = []
        self.accepted: list[tuple[int, int]] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def call(self, method: str, **params: Any) -> Any:
        self.calls.append((method, params))
        if method not in protocol.METHODS:   # the fake answers only what the real daemon knows
            raise RemoteError(METHOD_NOT_FOUND, f"no method {method!r}")
        protocol.check_params(method, params)
        if method in self.fail:
            raise RemoteError("internal", f"{method} failed on purpose")
        by_id = {i["id"]: i for i in ITEMS}
        if method == "review.list":
            done = {(i, t) for i, t, _ in self.labels}
            return [copy.deepcopy(r) for r in REVIEW if (r["item_id"], r["task"]) not in done]
        if method == "show":
            ref = params["ref"]
            if ref not in by_id:
                raise RemoteError(NOT_FOUND, f"no item matches {ref!r}")
            return copy.deepcopy(by_id[ref])
        if method == "query":
            rows = [i for i in ITEMS if not params.get("kind") or i["kind"] == params["kind"]]
            if params.get("key"):   # "8A" or "8A~" (8A and the keys that mix with it), as the daemon
                key = keys.parse(params["key"].rstrip("~"))
                wanted = compat.compatible_keys(key, compat.RELAXED) if params["key"].endswith("~") else [key]
                rows = [i for i in rows if i["camelot"] in {keys.camelot(k) for k in wanted}]
            sort, descending = params.get("sort") or "id", bool(params.get("descending"))
            known = sorted((r for r in rows if r.get(sort) is not None), key=lambda r: (r[sort], r["id"]),
                           reverse=descending)
            rows = known + sorted((r for r in rows if r.get(sort) is None), key=lambda r: r["id"],
                                  reverse=descending)   # empty values last, as the daemon
            offset, limit = params.get("offset", 0), params.get("limit", 100)
            return {"items": copy.deepcopy(rows[offset:offset + limit]), "more": offset + limit < len(rows),
                    "limit": limit, "offset": offset}
        if method == "recommend":
            seed = by_id[params["ref"]]
            items = copy.deepcopy(RECOMMEND) if seed["kind"] == "track" else []
            return {"seed": {**copy.deepcopy(seed), "resolved": {"how": "id", "matches": 1}}, "items": items,
                    "requested": 15, "shortfall": None if items else {"filter": "key", "reason": "none fits"}}
        if method == "label.set":
            self.labels.append((params["item_id"], params["task"], params["label"]))
            return {"label_id": len(self.labels), **params}
        if method == "label.undo":
            self.labels = [x for x in self.labels if (x[0], x[1]) != (params["item_id"], params["task"])]
            return {"item_id": params["item_id"], "task": params["task"], "label": None}
        if method == "buckets.list":
            names = ["warm-up", "peak-time", "closing"] + [lab for _, t, lab in self.labels if t == "bucket"]
            return [{"name": n, "labelled": 0, "predicted": 0, "in_config": True, "in_library": True}
                    for n in dict.fromkeys(names)]
        if method == "status":
            return copy.deepcopy(STATUS)
        if method == "models.list":
            return copy.deepcopy(MODELS)
        if method == "models.history":
            return copy.deepcopy(HISTORY)
        if method == "failed":
            return copy.deepcopy(FAILED)
        if method == "retry":
            return {"path": params["path"], "queued": True}
        if method == "recommend.accept":
            self.accepted.append((params["ref"], params["item_id"]))
            return {"seed": params["ref"], "accepted": params["item_id"], "skipped": 0}
        if method == "events.recent":
            return []
        if method == "labels.count":
            return sum(1 for _, _, _ in self.labels)
        if method == "labels.choices":
            return [lab for _, t, lab in self.labels if t == params["task"]]
        raise RemoteError(METHOD_NOT_FOUND, f"the fake does not answer {method!r}")


def sync(fn):
    """Run an async test body with asyncio (no async pytest plugin needed)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return wrapper


def make_app(tmp_path: Path, link: FakeLink, start: str = "review") -> DjmlApp:
    """The real app on a fake daemon link, with a data folder of its own."""
    config = from_dict({"data_dir": str(tmp_path / "data")}, tmp_path / "config.toml")
    return DjmlApp(config, link=link, start=start)
