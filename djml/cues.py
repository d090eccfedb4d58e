"""Typed cue points: where a DJ can mix a track in and out, and where its sections change.

One small shared record so that analysis (which finds cues), the library (which stores them
in the analysis JSON), exporters (rekordbox ``POSITION_MARK``, Traktor ``CUE_V2``), ``djml show``,
the TUI and recommendation reasons all agree on names without importing each other.
Bars are 1-based and counted on the analysed beat grid; seconds are from the file's start.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ordered as they usually occur in a track; exporters number hot cues in this order.
CUE_KINDS: tuple[str, ...] = (
    "mix_in", "intro_end", "first_drop", "breakdown", "outro_start", "mix_out",
)
# What a DJ reads for each kind (exports, `djml show`, the TUI).
CUE_LABELS: dict[str, str] = {
    "mix_in": "Mix in", "intro_end": "Intro end", "first_drop": "First drop",
    "breakdown": "Breakdown", "outro_start": "Outro start", "mix_out": "Mix out",
}


@dataclass(frozen=True)
class Cue:
    """One cue point on the beat grid."""

    kind: str
    bar: int
    seconds: float

    def __post_init__(self) -> None:
        if self.kind not in CUE_KINDS:
            raise ValueError(f"unknown cue kind {self.kind!r}; expected one of {', '.join(CUE_KINDS)}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "bar": self.bar, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict) -> "Cue":
        return cls(kind=str(data["kind"]), bar=int(data["bar"]), seconds=float(data["seconds"]))


def cues_from_json(items: list[dict] | None) -> list[Cue]:
    """Cues stored in an analysis' JSON, in track order; unknown kinds (from a newer djml) are skipped."""
    out = []
    for item in items or []:
        try:
            out.append(Cue.from_dict(item))
        except (KeyError, TypeError, ValueError):
            continue
    return in_track_order(out)


def in_track_order(cues: list[Cue]) -> list[Cue]:
    """By time; cues at the same moment in CUE_KINDS order."""
    return sorted(cues, key=lambda c: (c.seconds, CUE_KINDS.index(c.kind)))
