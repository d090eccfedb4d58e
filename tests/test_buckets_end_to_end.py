"""Personal buckets from real audio through the CLI: scan, label a few, train, predict.

Two buckets with the same kick and hat sounds, four kicks and four off-beat hats per
bar and the same tempo range: "rolling" puts the kicks on the beat, "broken" on steps
0, 3, 8 and 11 of the bar. BPM and key say nothing here; the groove (rhythm pattern,
and the low-band and pulse statistics of the audio vector) does.
"""

from __future__ import annotations

import json

import numpy as np

from djml import config as cfg
from djml import configfile
from djml import synth

BPMS = (122, 124, 126, 128, 130, 123, 125, 127)
KICKS = {"rolling": (0, 4, 8, 12), "broken": (0, 3, 8, 11)}
HATS = (2, 6, 10, 14)


def groove(bpm: float, kicks: tuple[int, ...], seconds: float, seed: int) -> np.ndarray:
    """Kick and hat one-shots on a 16-step grid at ``bpm``."""
    kick, hat = synth.one_shot("kick", seed=seed), synth.one_shot("hihat", seed=seed)
    step = 60.0 / bpm / 4 * synth.SR
    out = np.zeros(int(seconds * synth.SR) + len(kick), np.float32)
    for bar in range(int(seconds * synth.SR / (16 * step))):
        for steps, sound, gain in ((kicks, kick, 1.0), (HATS, hat, 0.5)):
            for s in steps:
                start = int(round((bar * 16 + s) * step))
                out[start:start + len(sound)] += gain * sound
    return 0.8 * out[: int(seconds * synth.SR)] / np.abs(out).max()


def test_label_ten_tracks_and_the_other_six_land_in_their_bucket(djml_home, run_djml, tmp_path):
    tracks = tmp_path / "Tracks"
    tracks.mkdir()
    truth = {}
    for i, bpm in enumerate(BPMS):
        for bucket, kicks in KICKS.items():
            path = tracks / f"{bucket} {i}.wav"
            synth.write_wav(path, groove(bpm, kicks, 16.0, seed=i))
            truth[str(path)] = bucket
    config = cfg.load()
    config.library, config.samples = [tracks], []
    configfile.write(config)
    run_djml("scan", check=True)

    labelled = [p for p in truth if int(p.rsplit(" ", 1)[1][:-4]) < 5]   # 5 of each bucket
    assert sorted(truth[p] for p in labelled) == ["broken"] * 5 + ["rolling"] * 5
    feedback = tmp_path / "feedback.csv"
    feedback.write_text("path,bucket\n" + "".join(f"{p},{truth[p]}\n" for p in labelled))
    run_djml("feedback", "import", feedback, "--new-buckets", check=True)
    trained = json.loads(run_djml("train", "--task", "buckets", "--json", check=True).stdout)
    assert trained["status"] == "activated" and trained["left_out"] == 0

    rows = [json.loads(line) for line in run_djml("ls", "--json", "--kind", "track", check=True).stdout.splitlines()]
    predicted = {r["path"]: r["predicted_label"] for r in rows if r["path"] not in labelled}
    assert len(predicted) == 6
    right = sum(predicted[p] == truth[p] for p in predicted)
    assert right == 6, {p.rsplit("/", 1)[-1]: (truth[p], predicted[p]) for p in predicted}
