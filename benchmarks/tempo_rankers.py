#!/usr/bin/env python3
"""The tempo decision's learner: the shipped conditional logit against two tree rankers,
on the same candidates and features, held out by source family.

Question: is the decision limited by the learner (a linear score per candidate) or by the
features? Each tree model scores a candidate from its features, the same minus the file's
best and mean candidate, and whether it is the file's top candidate on each feature
(interactions a linear score cannot form), trained as "is this the true candidate" with the
files weighted as the logit's are. Settings fixed before the run (none chosen on the
scores). The figure is the choice alone (the candidate picked, before the beat-time
refinement), so it differs slightly from the analyzer's Accuracy1; Acc2 counts the choice
within 4 % of x1, x2, x1/2, x3, x1/3 of the truth.

    .venv/bin/python benchmarks/tempo_rankers.py     # needs benchmarks/music_sets.py's set
"""
import time
from collections import defaultdict

import numpy as np

from djml.models import tempo_train as tt

TREES = {
    "gradient-boosted trees": lambda: _hgb()(max_depth=3, learning_rate=0.05, max_iter=300,
                                             l2_regularization=1.0, random_state=0),
    "extra trees": lambda: _et()(n_estimators=300, min_samples_leaf=3, max_features=0.3, random_state=0, n_jobs=1),
}


def _hgb():  # noqa: ANN202
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier


def _et():  # noqa: ANN202
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier


def relative(features: np.ndarray) -> np.ndarray:
    """Each candidate's features, the same minus the file's best and mean, and 1 where it
    is the file's top candidate on that feature."""
    top = np.argsort(np.argsort(-features, axis=0), axis=0) == 0
    return np.hstack([features, features - features.max(axis=0), features - features.mean(axis=0),
                      top.astype(float)])


def acc2_hit(bpm: float, truth: float) -> bool:
    return any(abs(bpm * k / truth - 1) <= tt.TOLERANCE for k in (1, 2, 0.5, 3, 1 / 3))


def score(examples: list, choice: dict[int, int | None]) -> tuple[float, float, dict[str, float]]:
    """Pooled choice Acc1 and Acc2, and Acc1 per source."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for i, x in enumerate(examples):
        c = choice.get(i)
        counts = per[x.source]
        counts[0] += c is not None and x.positive is not None and c == x.positive
        counts[1] += c is not None and acc2_hit(x.bpms[c], x.truth)
        counts[2] += 1
    n = sum(v[2] for v in per.values())
    return (sum(v[0] for v in per.values()) / n, sum(v[1] for v in per.values()) / n,
            {k: round(v[0] / v[2], 3) for k, v in sorted(per.items())})


def candidate_table(examples: list, idx: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(relative features, 1 for the true candidate, weight) over the candidates of `idx`."""
    xs, ys, ws = [], [], []
    for i, w in zip(idx, tt.example_weights([examples[i] for i in idx])):
        x = examples[i]
        if x.features is None:
            continue
        y = np.zeros(len(x.features))
        if x.positive is not None:
            y[x.positive] = 1
        xs.append(relative(x.features))
        ys.append(y)
        ws.append(np.full(len(y), w))
    w = np.concatenate(ws)
    return np.vstack(xs), np.concatenate(ys), w * len(w) / w.sum()


def choose(examples: list, idx: list[int], proba, transform=lambda f: f) -> dict[int, int | None]:  # noqa: ANN001
    return {i: None if examples[i].features is None else int(np.argmax(proba(transform(examples[i].features))))
            for i in idx}


def main() -> None:
    cache = tt.cache_dir()
    examples = tt.make_examples(tt.training_rows(cache), cache, log=lambda _m: None, jobs=1)
    family = [tt.family(x.source) for x in examples]
    print(f"{len(examples)} files, {len(set(family))} source families held out in turn", flush=True)
    results: dict[str, dict[int, int | None]] = {"conditional logit (shipped recipe)": {}, **{k: {} for k in TREES}}
    for held in sorted(set(family)):
        start = time.time()
        train = [i for i, f in enumerate(family) if f != held]
        test = [i for i, f in enumerate(family) if f == held]
        picked = [examples[i] for i in train]
        logit = tt.fit(picked, *tt.choose_setting(picked, jobs=1))
        results["conditional logit (shipped recipe)"].update(choose(examples, test, logit.probabilities))
        x, y, w = candidate_table(examples, train)
        for name, make in TREES.items():
            model = make()
            model.fit(x, y, sample_weight=w)
            results[name].update(choose(examples, test, lambda f, m=model: m.predict_proba(f)[:, 1], relative))
        print(f"  {held}: {time.time() - start:.0f} s", flush=True)
    for name, choice in results.items():
        acc1, acc2, per = score(examples, choice)
        print(f"{name:36} choice Acc1 {acc1:.3f}  Acc2 {acc2:.3f}  per source {per}")


if __name__ == "__main__":
    main()
