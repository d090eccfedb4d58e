"""What one file may claim to be, before any decoder plans by it.

A WAV header is 44 bytes of trust: a 20 KB file that says "1 Hz" is a 10,000 s track to
every step that sizes its buffers by the length (one took 9.1 GB). Headers outside these
bounds are refused with the value and the bound, so the reason names what is wrong; the
worker memory cap (:func:`djml.procs.cap_memory`) is the second line of defence for what
no header check can see.
"""

from __future__ import annotations

MIN_SAMPLE_RATE = 1_000          # Hz: below this no music (or speech) survives
MAX_SAMPLE_RATE = 768_000        # Hz: the highest rate any studio converter records
MAX_CHANNELS = 64                # ambisonic and film stems stay well below
MAX_DURATION = 24 * 3600.0       # seconds: a whole day's radio log, far beyond any DJ mix


def header_problem(sample_rate: int, channels: int, frames: int) -> str | None:
    """Why a header cannot be believed, or None when it is plausible."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        return (f"refused: the header says {sample_rate} Hz "
                f"(accepted {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz); corrupt or not audio")
    if not 1 <= channels <= MAX_CHANNELS:
        return f"refused: the header says {channels} channels (accepted 1–{MAX_CHANNELS}); corrupt or not audio"
    duration = frames / sample_rate
    if duration > MAX_DURATION:
        return (f"refused: the header says {duration / 3600:.1f} hours "
                f"(accepted up to {MAX_DURATION / 3600:.0f}); corrupt or not audio")
    return None
