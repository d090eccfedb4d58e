"""Which analyzer version each kind of item is stored with, importable without the
analysis stack: a scan's parent and the daemon compare stored versions with these to
decide what to re-analyse, and leave the analysis (numpy, decoders) to their workers.
:mod:`djml.analysis` re-exports it as part of its public API.

Bumped when a kind's stored results change; a scan (and the daemon at start-up)
re-analyses items whose stored version is older. Per kind, so a tempo fix does not
re-analyse every sample, nor invalidate the shipped sample model's base features.
track 3: beat phase from the body envelope (first_beat); track 4: rhythm pattern vector;
track 5 / sample 3: the learned tempo decision, loop tempo from it; track 6: LUFS, LRA,
true peak and cue points; track 7: tempo refined by the beat-phase drift over the whole
track (exact through kick-less breakdowns); track 8: a section is full only with a moving
bass line (intro / outro cues); see docs/analysis.md.
"""

ANALYZER_VERSIONS = {"track": 8, "sample": 3}
