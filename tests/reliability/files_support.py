"""Helpers for the file-safety reliability tests (tag-write leftovers, undo, permissions,
escaping, the data folder, label re-imports): a real `djml` in a subprocess on a
throw-away DJML_HOME, and small generated tracks.

Processes started here are stopped by pid only.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

from djml import synth

# The shared helpers of tests/ (models_support, library_support) for this sub-folder too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DJML = str(Path(sys.executable).with_name("djml"))
TEMP_MARKERS = (".djml-tagwrite-", ".djml-tmp")


def write_track(path: Path, bpm: float = 124.0, key: int | None = 21, seconds: float = 6.0) -> Path:
    """A short drum track with a clear tempo and key (what `tags write` writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f"staging-{os.getpid()}.wav")
    synth.write_wav(staging, synth.drum_track(bpm, key, seconds))
    os.replace(staging, path)               # lets a test use names libsndfile cannot create
    return path


def env_for(home: Path | None, **extra: str) -> dict[str, str]:
    """The environment of a `djml` run: ``DJML_HOME=home`` (None: the standard XDG
    layout, with the XDG variables given in ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJML_", "XDG_"))}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", **extra})
    if home is not None:
        env["DJML_HOME"] = str(home)
    return env


def djml(home: Path | None, *args: str | os.PathLike, check: bool = False, timeout: float = 240,
         env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed `djml` (not through a shell) and return what it printed."""
    proc = subprocess.run([DJML, *map(os.fspath, args)], capture_output=True, env=env or env_for(home),
                          timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"djml {args} exited {proc.returncode}\n{proc.stdout!r}\n{proc.stderr!r}")
    return proc


def text(proc: subprocess.CompletedProcess) -> str:
    """stdout + stderr as text (undecodable bytes kept as surrogates)."""
    out = proc.stdout + proc.stderr
    return out if isinstance(out, str) else os.fsdecode(out)


def leftovers(folder: Path) -> list[str]:
    """Tag-write temporaries (this version's and older names) anywhere below ``folder``."""
    return sorted(str(p) for p in folder.rglob("*") if any(m in p.name for m in TEMP_MARKERS))


def library_paths(home: Path) -> list[str]:
    """Every path in the library, from `djml ls --json` (lossless)."""
    proc = djml(home, "ls", "--json", check=True)
    return [json.loads(line)["path"] for line in proc.stdout.splitlines() if line.strip()]


def scanned_library(home: Path, music: Path, count: int = 6, **init: str) -> list[Path]:
    """``count`` tracks in ``music``, `djml init --library music`, `djml scan`."""
    tracks = [write_track(music / f"track {n:02d}.wav", bpm=118.0 + 2 * n) for n in range(count)]
    djml(home, "init", "--library", music, *[x for k, v in init.items() for x in (f"--{k}", v)], check=True)
    djml(home, "scan", check=True)
    return tracks


# Root reads and writes every file whatever its mode, so as root (as in CI) the children
# that must meet "permission denied" lose the capabilities that bypass file permissions
# before they exec: the kernel then checks modes for them as for anyone.
_PR_CAPBSET_DROP = 24
_BYPASS_CAPS = (1, 2, 3)     # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _drop_bypass_caps() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _BYPASS_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            os._exit(97)     # never run the child privileged by mistake


def unprivileged() -> dict:
    """subprocess keyword arguments that make the child obey file modes (none needed
    when not root)."""
    return {"preexec_fn": _drop_bypass_caps} if os.geteuid() == 0 else {}
