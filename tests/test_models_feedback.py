"""CSV label/correction imports (validated, all or nothing) and the model CLI commands."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from models_support import track_library


def make_library(djml_home):
    library, truth = track_library(djml_home / "data", per_bucket=4)
    return library, truth


def count_labels(library) -> int:
    return library.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]


def test_feedback_import_is_all_or_nothing_with_line_numbers(djml_home, run_djml, tmp_path):
    library, truth = make_library(djml_home)
    ids = sorted(truth)
    bad = tmp_path / "feedback.csv"
    bad.write_text(f"track_id,correct_bucket\n{ids[0]},peak-time\n999,closing\nabc,closing\n{ids[1]},\n"
                   f"{ids[2]},warm-up\n{ids[2]},closing\n")
    proc = run_djml("feedback", "import", bad)
    assert proc.returncode == 2
    for expected in ("line 3: no item with id 999", "line 4: item id must be a whole number",
                     "line 5: empty label", "line 7: item", "nothing was imported"):
        assert expected in proc.stderr, proc.stderr
    assert count_labels(library) == 0

    path_of = dict(library.conn.execute("SELECT item_id, path FROM locations").fetchall())
    good = tmp_path / "good.csv"
    good.write_text(f"track_id,correct_bucket\n{ids[0]},peak-time\n\n"
                    f"path,bucket\n".replace("path,bucket\n", "") + f"{ids[1]},closing\n")
    proc = run_djml("feedback", "import", good, check=True)
    assert "imported 2 label(s) for bucket" in proc.stdout
    by_path = tmp_path / "paths.csv"
    by_path.write_text(f"path,bucket\n{path_of[ids[3]]},warm-up\n")
    run_djml("feedback", "import", by_path, check=True)
    rows = library.conn.execute("SELECT item_id, label, source FROM labels ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(ids[0], "peak-time", "user"), (ids[1], "closing", "user"),
                                        (ids[3], "warm-up", "user")]
    assert library.conn.execute("SELECT COUNT(*) FROM feedback WHERE event = 'label_correction'").fetchone()[0] == 3


def test_import_labels_checks_kind_and_header(djml_home, run_djml, tmp_path):
    library, truth = make_library(djml_home)
    wrong_kind = tmp_path / "l.csv"
    wrong_kind.write_text(f"item_id,sample_type\n{min(truth)},kick\n")
    proc = run_djml("import-labels", wrong_kind)
    assert proc.returncode == 2 and "is a track; sample_type labels are for samples" in proc.stderr
    no_header = tmp_path / "h.csv"
    no_header.write_text("1,warm-up\n")
    proc = run_djml("import-labels", no_header)
    assert proc.returncode == 2 and "needs an item column" in proc.stderr
    assert count_labels(library) == 0


def test_train_list_export_and_rollback_through_the_cli(djml_home, run_djml, tmp_path):
    library, truth = make_library(djml_home)
    labels = tmp_path / "train.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "label"])
        w.writerows((i, b) for i, b in truth.items())
    run_djml("import-labels", labels, "--task", "buckets", check=True)
    first = run_djml("train", "--task", "buckets", check=True)
    assert "activated bucket-" in first.stdout
    assert "held-out" in first.stdout and "95% CI" in first.stdout   # every figure with n and interval
    again = run_djml("train", "--task", "buckets", check=True)
    assert "nothing new to learn" in again.stdout and "no new version" in again.stdout
    run_djml("unlabel", str(min(truth)), check=True)
    run_djml("train", "--task", "buckets", check=True)
    listing = run_djml("models", "list", check=True).stdout.splitlines()
    assert len(listing) == 2 and listing[0].startswith("* bucket-") and "95% CI" in listing[0]
    proc = run_djml("models", "rollback", "buckets", check=True)
    assert first.stdout.split()[1].rstrip(":") in proc.stdout
    out = tmp_path / "pred.csv"
    run_djml("export-predictions", out, "--task", "buckets", check=True)
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == len(truth) and set(rows[0]) >= {"path", "artist", "title", "label", "confidence",
                                                          "model_version", "predicted_at"}


def test_models_list_stays_a_light_one_shot(djml_home):
    make_library(djml_home)
    code = ("import sys; from djml.cli import cli\n"
            "try:\n    cli.main(['models', 'list'], standalone_mode=False)\nfinally:\n"
            "    heavy = [m for m in ('torch', 'sklearn', 'librosa', 'sentence_transformers') if m in sys.modules]\n"
            "    print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "DJML_HOME": str(djml_home)}, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_a_bucket_typo_in_feedback_is_an_error_unless_asked_and_can_be_undone(djml_home, run_djml, tmp_path):
    library, truth = make_library(djml_home)
    ids = sorted(truth)
    typo = tmp_path / "typo.csv"
    typo.write_text(f"track_id,correct_bucket\n{ids[0]},peak-tme\n")
    proc = run_djml("feedback", "import", typo)
    assert proc.returncode == 2, proc.stdout
    assert "unknown bucket 'peak-tme'" in proc.stderr and "did you mean 'peak-time'" in proc.stderr
    assert count_labels(library) == 0
    assert "peak-tme" not in run_djml("buckets", check=True).stdout
    run_djml("feedback", "import", typo, "--new-buckets", check=True)
    assert "peak-tme" in run_djml("buckets", check=True).stdout
    undone = run_djml("unlabel", str(ids[0]), check=True)
    assert "undid bucket 'peak-tme'" in undone.stdout
    assert library.conn.execute("SELECT COUNT(*) FROM labels WHERE undone_at IS NULL").fetchone()[0] == 0
