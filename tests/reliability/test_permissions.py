"""Issue 13: the data folder, library.db and daemon.log were world-readable (0755/0644) in
the standard XDG set-up, and a `runtime_dir` pointing at a shared folder (mode 1777) was
chmod'ed to 0700. Everything djml creates is private; a folder it did not create is never
changed. Run with umask 022, the usual default, so the umask alone protects nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from files_support import djml, env_for, text, write_track


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _daemon_round_trip(env: dict[str, str]) -> None:
    """`djml daemon start`, `status` through the socket, `daemon stop`."""
    started = djml(None, "daemon", "start", env=env, umask=0o022, text=True)
    try:
        assert started.returncode == 0, text(started)
        status = djml(None, "daemon", "status", env=env, text=True)
        assert status.returncode == 0 and "running" in status.stdout, text(status)
    finally:
        stopped = djml(None, "daemon", "stop", env=env, text=True)
        assert stopped.returncode == 0, text(stopped)


def _xdg(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    home = tmp_path / "user"
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = env_for(None, HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"),
                  XDG_CONFIG_HOME=str(home / ".config"), XDG_RUNTIME_DIR=str(runtime))
    return env, home / ".local/share/djml", runtime


def _configure(env: dict[str, str], music: Path, config: Path, extra: str = "") -> None:
    write_track(music / "a.wav", seconds=2.0)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'library = ["{music}"]\nembed_text = false\nworkers = 1\n{extra}')


def test_the_standard_xdg_layout_is_private(tmp_path):
    env, data, runtime = _xdg(tmp_path)
    _configure(env, tmp_path / "music", tmp_path / "user/.config/djml/config.toml")
    djml(None, "scan", env=env, umask=0o022, check=True)
    assert _mode(data) == 0o700
    assert _mode(data / "library.db") == 0o600
    for extra in ("library.db-wal", "library.db-shm"):
        if (data / extra).exists():
            assert _mode(data / extra) == 0o600
    _daemon_round_trip(env)
    assert _mode(data / "daemon.log") == 0o600
    assert _mode(runtime / "djml") == 0o700
    assert not list((data / "tag-history").glob("*")) or _mode(data / "tag-history") == 0o700


def test_djml_home_is_private(tmp_path):
    home = tmp_path / "home"
    env = env_for(home)
    _configure(env, tmp_path / "music", home / "config.toml")
    djml(home, "scan", env=env, umask=0o022, check=True)
    _daemon_round_trip(env)
    data = home / "data"
    assert (_mode(data), _mode(data / "library.db"), _mode(data / "daemon.log")) == (0o700, 0o600, 0o600)


def test_an_older_default_data_folder_is_tightened_a_configured_one_is_not(tmp_path):
    env, data, _ = _xdg(tmp_path)
    _configure(env, tmp_path / "music", tmp_path / "user/.config/djml/config.toml")
    djml(None, "scan", env=env, check=True)
    os.chmod(data, 0o755)                                   # as an older djml left them
    os.chmod(data / "library.db", 0o644)
    djml(None, "scan", env=env, check=True)
    assert (_mode(data), _mode(data / "library.db")) == (0o700, 0o600)
    # a data_dir the user chose (an existing folder) keeps its mode; djml's files do not
    chosen = tmp_path / "shared-data"
    chosen.mkdir()
    os.chmod(chosen, 0o755)
    _configure(env, tmp_path / "music", tmp_path / "user/.config/djml/config.toml", f'data_dir = "{chosen}"\n')
    djml(None, "scan", env=env, umask=0o022, check=True)
    assert (_mode(chosen), _mode(chosen / "library.db")) == (0o755, 0o600)


def test_a_shared_runtime_dir_is_left_alone(tmp_path):
    env, data, _ = _xdg(tmp_path)
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    _configure(env, tmp_path / "music", tmp_path / "user/.config/djml/config.toml",
               f'runtime_dir = "{shared}"\n')
    started = djml(None, "daemon", "start", env=env, umask=0o022, text=True)
    try:
        assert started.returncode == 0, text(started)
        assert _mode(shared) == 0o1777
        private = shared / f"djml-{os.getuid()}"
        assert _mode(private) == 0o700 and stat.S_IMODE(os.lstat(private / "djml.sock").st_mode) == 0o600
        assert str(private / "djml.sock") in started.stdout
        assert djml(None, "daemon", "status", env=env).returncode == 0
    finally:
        assert djml(None, "daemon", "stop", env=env).returncode == 0
    assert _mode(shared) == 0o1777


def test_a_private_folder_someone_else_made_first_is_refused(tmp_path):
    env, data, _ = _xdg(tmp_path)
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    _configure(env, tmp_path / "music", tmp_path / "user/.config/djml/config.toml",
               f'runtime_dir = "{shared}"\n')
    trap = shared / f"djml-{os.getuid()}"
    trap.mkdir()
    os.chmod(trap, 0o777)            # what another user could prepare in a shared /tmp
    started = djml(None, "daemon", "start", env=env, text=True, timeout=120)
    if started.returncode == 0:
        djml(None, "daemon", "stop", env=env)
    assert started.returncode != 0 and "not 700" in text(started)
    assert _mode(trap) == 0o777 and not (trap / "djml.sock").exists()
