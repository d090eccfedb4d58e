"""The Dask backend against a real LocalCluster of worker processes: a scan through the
cluster stores what a local scan stores, a worker killed mid-scan loses and duplicates
nothing, path maps and shipped bytes reach the same files, and no command that does not
ask for a cluster imports Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from djml import db, synth
from djml.executors import ClusterError, ExecutorOptions, PathMap, parse_cluster
from djml.library import Library
from djml.pipeline import Settings

distributed = pytest.importorskip("distributed")

COLUMNS = "i.kind, a.bpm, a.key, a.energy, i.duration, a.loudness, i.audio_hash, a.data"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _samples(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ["kick", "snare", "hihat", "clap", "perc", "fx"]
    return [str(synth.write_wav(folder / f"s{i:03d}_{kinds[i % 6]}.wav", synth.one_shot(kinds[i % 6], seed=i)))
            for i in range(n)]


def _settings(root: Path) -> Settings:
    return Settings(allowed_roots=(os.path.realpath(root),))


def _rows(library: Library) -> list[tuple]:
    return library.conn.execute(
        f"SELECT l.path, {COLUMNS} FROM locations l JOIN items i ON i.id = l.item_id JOIN analyses a ON a.item_id = i.id ORDER BY l.path").fetchall()


def _store(tmp_path: Path, name: str, results) -> Library:
    library = Library(db.connect(tmp_path / f"{name}.db"))
    for result in results:
        library.record_result(result)
    return library


def test_cluster_results_equal_local_results(client, tmp_path):
    from djml.cluster import analyse_with
    from djml.scan import analyse_all

    paths = _samples(tmp_path / "samples", 12)
    settings = _settings(tmp_path)
    local = _store(tmp_path, "local", analyse_all(paths, 1, settings, kind_for=lambda p: "sample"))
    remote = _store(tmp_path, "remote", analyse_with(client, paths, settings, kind_for=lambda p: "sample",
                                                     options=ExecutorOptions("dask")))
    assert _rows(remote) == _rows(local)
    assert len(_rows(local)) == 12


def test_path_map_and_shipped_bytes_reach_the_same_files(client, tmp_path):
    from djml.cluster import analyse_with

    real = tmp_path / "real"
    paths = _samples(real / "samples", 4)
    (tmp_path / "mnt").symlink_to(real)  # the workers' "mount" of the same music
    settings = _settings(real)
    mapped = ExecutorOptions("dask", path_maps=(PathMap(str(real), str(tmp_path / "mnt")),))
    shipped = ExecutorOptions("dask", ship_bytes=True)
    a = {r.path: r for r in analyse_with(client, paths, settings, kind_for=lambda p: "sample", options=mapped)}
    b = {r.path: r for r in analyse_with(client, paths, settings, kind_for=lambda p: "sample", options=shipped)}
    assert sorted(a) == sorted(b) == sorted(paths)      # results come back under the local paths
    for path in paths:
        assert a[path].error is None and b[path].error is None, (a[path].error, b[path].error)
        assert a[path].analysis.audio_hash == b[path].analysis.audio_hash
        assert a[path].analysis.path == path
        assert a[path].stat.inode == os.stat(path).st_ino   # local stat data, not the worker's


def test_a_file_outside_the_folders_is_refused_on_the_worker_and_when_shipping(client, tmp_path):
    from djml.cluster import analyse_with

    inside = tmp_path / "music"
    outside = _samples(tmp_path / "elsewhere", 1)[0]
    inside.mkdir()
    link = inside / "escape.wav"
    link.symlink_to(outside)
    for options in (ExecutorOptions("dask"), ExecutorOptions("dask", ship_bytes=True)):
        [result] = analyse_with(client, [str(link)], _settings(inside), kind_for=lambda p: "sample",
                                options=options)
        assert result.analysis is None and result.error.startswith("refused"), result.error


def test_a_worker_killed_mid_scan_loses_and_duplicates_nothing(client, tmp_path):
    from djml.cluster import analyse_with

    paths = _samples(tmp_path / "samples", 40)
    victim = next(iter(client.run(os.getpid).values()))   # a worker process of our own cluster
    killed = threading.Event()

    def results():
        for i, result in enumerate(analyse_with(client, paths, _settings(tmp_path), kind_for=lambda p: "sample",
                                                options=ExecutorOptions("dask"))):
            if i == 5 and not killed.is_set():
                os.kill(victim, signal.SIGKILL)  # mid-scan; its nanny starts a fresh one
                killed.set()
            yield result

    library = _store(tmp_path, "killed", results())
    rows = _rows(library)
    assert killed.is_set()
    assert [r[0] for r in rows] == sorted(paths)             # each file stored once
    assert library.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 40
    assert not library.conn.execute("SELECT COUNT(*) FROM locations WHERE status = 'failed'").fetchone()[0]


def test_scan_command_through_a_local_cluster_and_the_summary(tmp_path):
    home = tmp_path / "home"
    music = tmp_path / "music"
    _samples(music, 6)
    env = {**os.environ, "DJML_HOME": str(home)}
    djml = str(Path(sys.executable).with_name("djml"))
    subprocess.run([djml, "init", "--samples", str(music)], env=env, check=True, capture_output=True)
    scan = subprocess.run([djml, "scan", "-q", "--cluster", "local:2"], env=env, capture_output=True, text=True,
                          timeout=240)
    assert scan.returncode == 0, scan.stderr
    assert "6 new" in scan.stdout + scan.stderr
    listed = subprocess.run([djml, "ls", "--json"], env=env, capture_output=True, text=True, check=True)
    assert len([json.loads(line) for line in listed.stdout.splitlines() if line.strip()]) == 6


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from djml.cluster import analyse

    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        list(analyse([str(tmp_path / "x.wav")], Settings(), kind_for=lambda p: None, workers=1, nice=0,
                     options=parse_cluster("tcp://127.0.0.1:9")))


@pytest.mark.parametrize("spec, error", [
    ("local:0", "worker count"), ("somehost:8786", "not an address"), (None, None), ("local:3", None),
])
def test_parse_cluster(spec, error):
    if error:
        with pytest.raises(ValueError, match=error):
            parse_cluster(spec)
    else:
        options = parse_cluster(spec)
        assert options.backend == ("dask" if spec else "local")


def test_path_maps_rewrite_prefixes_only():
    mapping = PathMap.parse("/home/dj/Music/=/mnt/music")
    assert mapping.to_remote("/home/dj/Music/a/b.wav") == "/mnt/music/a/b.wav"
    assert mapping.to_remote("/home/dj/Musicals/b.wav") is None
    assert mapping.to_local("/mnt/music/a/b.wav") == "/home/dj/Music/a/b.wav"
    with pytest.raises(ValueError, match="FROM=TO"):
        PathMap.parse("/no/equals")
    with pytest.raises(ValueError, match="need a cluster"):
        parse_cluster(None, ["/a=/b"])


@pytest.mark.parametrize("args", [["--help"], ["ls"], ["status"], ["scan", "-q"]])
def test_commands_without_a_cluster_import_no_dask(tmp_path, args):
    home = tmp_path / "home"
    music = tmp_path / "music"
    _samples(music, 1)
    env = {**os.environ, "DJML_HOME": str(home)}
    subprocess.run([str(Path(sys.executable).with_name("djml")), "init", "--samples", str(music)], env=env,
                   check=True, capture_output=True)
    probe = ("import sys; sys.argv = ['djml', *sys.argv[1:]]\nfrom djml.cli import main\n"
             "try:\n    main()\n"
             "except SystemExit:\n    pass\n"
             "print('DASK', any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, timeout=120)
    assert "DASK False" in run.stderr, run.stderr[-2000:]


def test_the_daemon_analyses_on_a_cluster_from_its_config(tmp_path):
    from daemon_support import named, running_daemon, wait_for

    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music", settle=0.3,
                        extra_config='cluster = "local:1"\n') as d:
        with d.client() as c:
            c.subscribe(["item.added", "item.failed"])
            paths = {str(d.drop(d.samples / f"hit{i}.wav", "snare", seed=300 + i)) for i in range(3)}
            events = wait_for(c, lambda ev: paths <= {e["path"] for e in named(ev, "item.added")}, timeout=180)
            assert not named(events, "item.failed")
        assert "connecting to the analysis cluster (local:1)" in d.log.read_text()


def test_cross_validation_folds_as_cluster_tasks_equal_folds_here(client):
    import numpy as np

    from djml.cluster import fold_runner
    from djml.models.evaluate import cross_validate, run_folds_here, stratified_folds

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(1.5, 1, (30, 4))])
    labels = ["a"] * 30 + ["b"] * 30

    def fit_predict(train, test):  # nearest centroid: shipped to the workers by cloudpickle
        y = np.asarray(labels)
        centroids = {c: x[train][y[train] == c].mean(axis=0) for c in ("a", "b")}
        return [min(centroids, key=lambda c: float(((x[i] - centroids[c]) ** 2).sum())) for i in test]

    folds = stratified_folds(labels, 5)
    here = cross_validate(60, labels, folds, fit_predict, run_folds_here)
    there = cross_validate(60, labels, folds, fit_predict, fold_runner(parse_cluster(client.scheduler.address)))
    assert there["predictions"] == here["predictions"]
    assert there["accuracy_mean"] == here["accuracy_mean"] > 0.6


def test_local_clusters_run_their_workers_without_the_profiler():
    from djml.cluster import open_client

    c, cluster = open_client(parse_cluster("local:1"))
    try:
        import dask

        seen = c.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert list(seen.values()) == [False]
    finally:
        c.close()
        cluster.close()
