"""Band edges of the onset envelopes, shared by the track and the sample pipelines so a
clip and the track it was cut from are judged alike.

A module of its own, without imports, because the sample pipeline needs the edges for
every file while the modules that define the track analysis (tempo, rhythm, structure,
key) are needed only for loops and tonal clips; importing them costs a fresh process
(`djml analyze` of a one-shot, a new worker) tens of milliseconds.
"""

from __future__ import annotations

LOW_HZ = 200.0       # mel bands centred below this form the low (kick/bass) envelope
TREBLE_HZ = 3000.0   # mel bands centred above this form the treble onset envelope
