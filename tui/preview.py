"""Audio preview (``p``): play an item through ffplay, paplay or aplay when that can work,
and otherwise say exactly why not (no player installed / no sound device / over SSH).

The decision is a pure function of the environment (:func:`plan`), so it is tested without
sound hardware; :class:`Player` only starts and stops the one preview process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PLAYERS = (  # (executable, argv prefix, needs) — needs: "pulse" or "alsa" or "any"
    ("ffplay", ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"], "any"),
    ("paplay", ["paplay"], "pulse"),
    ("aplay", ["aplay", "-q"], "alsa"),
)
INSTALL_HINT = "install ffmpeg (ffplay), pulseaudio-utils (paplay) or alsa-utils (aplay)"


@dataclass(frozen=True)
class Plan:
    argv: list[str] | None
    message: str  # why it cannot play, or a note shown while it plays


def over_ssh(env: Mapping[str, str]) -> bool:
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT"))


def sound_outputs(env: Mapping[str, str], dev_snd: Path = Path("/dev/snd")) -> set[str]:
    """Which audio systems look usable: 'pulse' (a PulseAudio/PipeWire socket) and/or
    'alsa' (a playback PCM device node)."""
    found = set()
    runtime = env.get("XDG_RUNTIME_DIR")
    if env.get("PULSE_SERVER") or (runtime and Path(runtime, "pulse", "native").exists()):
        found.add("pulse")
    try:
        if any(p.name.startswith("pcmC") and p.name.endswith("p") for p in dev_snd.iterdir()):
            found.add("alsa")
    except OSError:
        pass
    return found


def plan(path: str | None, env: Mapping[str, str] | None = None,
         which: Callable[[str], str | None] = shutil.which, dev_snd: Path = Path("/dev/snd")) -> Plan:
    env = os.environ if env is None else env
    if not path:
        return Plan(None, "this item has no known file path")
    if not os.path.exists(path):
        return Plan(None, f"the file is missing: {path}")
    installed = [(name, argv, needs) for name, argv, needs in PLAYERS if which(name)]
    ssh = " You are connected over SSH: sound would play on the server, not on your machine." if over_ssh(env) else ""
    if not installed:
        return Plan(None, f"Cannot preview: no audio player is installed ({INSTALL_HINT}).{ssh}")
    outputs = sound_outputs(env, dev_snd)
    if not outputs:
        return Plan(None, "Cannot preview: this machine has no sound device "
                          f"(no /dev/snd playback device, no PulseAudio/PipeWire server).{ssh}")
    for name, argv, needs in installed:
        if needs != "any" and needs not in outputs:
            continue
        if name == "aplay" and not path.lower().endswith(".wav"):
            continue  # aplay plays WAV only
        note = f"playing with {name}" + (" on the server's speakers (over SSH)" if ssh else "")
        return Plan([*argv, path], note)
    return Plan(None, f"Cannot preview this file with the installed player(s) "
                      f"({', '.join(n for n, _, _ in installed)}); {INSTALL_HINT}.")


class Player:
    """At most one preview at a time; ``p`` again on the same item stops it."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._path: str | None = None

    def toggle(self, path: str | None) -> str:
        was = self._path if self.playing else None
        self.stop()
        if was is not None and was == path:
            return "preview stopped"
        p = plan(path)
        if p.argv is None:
            return p.message
        self._proc = subprocess.Popen(p.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        self._path = path
        return p.message

    @property
    def playing(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        self._path = None
