"""A parsed collection travels to the daemon in pieces under the request-line limit, and
the pieces' reports add up to the report of the whole file."""

from __future__ import annotations

import json

from djml.interop.importer import merge_reports
from djml.interop.model import ForeignCollection, ForeignPlaylist, ForeignTrack


def collection() -> ForeignCollection:
    tracks = [ForeignTrack(ref=str(i), paths=[f"/music/{'x' * 200}/{i}.mp3"], bpm=120.0 + i) for i in range(300)]
    sets = [ForeignPlaylist(name=f"set {n}", folder=("History",), entries=[[t.paths[0]] for t in tracks[:150]],
                            history=True) for n in range(3)]
    return ForeignCollection("rekordbox", "/home/me/rekordbox.xml", tracks, sets)


def test_pieces_stay_under_the_limit_keep_every_entry_and_round_trip():
    whole = collection()
    pieces = whole.parts(64 << 10)
    assert len(pieces) > 3
    assert all(len(json.dumps(p.to_dict())) < 80 << 10 for p in pieces)
    back = [ForeignCollection.from_dict(json.loads(json.dumps(p.to_dict()))) for p in pieces]
    assert [t for p in back for t in p.tracks] == whole.tracks
    assert [pl for p in back for pl in p.playlists] == whole.playlists   # each playlist whole, folder a tuple
    assert all(p.source_path == whole.source_path for p in back)
    assert whole.parts(10 << 20) == [whole]


def test_reports_of_pieces_add_up():
    a = {"source": "m3u", "file": "f.m3u8", "tracks": 2, "matched": 1, "matched_by_name": 0, "unmatched": ["/x"],
         "labels": {"bpm": 1}, "sets": [], "missing_entries": {}, "skipped_playlists": []}
    b = {**a, "tracks": 3, "matched": 3, "matched_by_name": 1, "unmatched": [], "labels": {"bpm": 2, "key": 1},
         "sets": [["friday", 4, 1]], "missing_entries": {"friday": ["/y"]}}
    merged = merge_reports([a, b])
    assert (merged["tracks"], merged["matched"], merged["matched_by_name"]) == (5, 4, 1)
    assert merged["labels"] == {"bpm": 3, "key": 1} and merged["unmatched"] == ["/x"]
    assert merged["sets"] == [["friday", 4, 1]] and merged["missing_entries"] == {"friday": ["/y"]}
