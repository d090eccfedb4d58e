"""Interoperability with DJ software: rekordbox XML, Traktor NML, M3U/M3U8, tag write-back.

Why a package of its own: every format is a pair of pure functions (library rows → file,
file → :class:`~djml.interop.model.ForeignCollection`), so exporters and parsers can be
tested against each other and against independent readers, while the only code that
touches the database is :mod:`djml.interop.collect` (read) and
:mod:`djml.interop.importer` (writes through :class:`djml.library.Library`).
Nothing here imports numpy, librosa or torch except tag verification, which decodes audio.
"""
