"""The everyday actions while the daemon runs: the CLI's `label`, `buckets` and `folders`
go through it (it announces the change to every client), a folder added is watched at
once, and a bucket created the way the TUI does exists wherever buckets are listed."""

from __future__ import annotations

from daemon_support import named, running_daemon, wait_for


def test_cli_actions_go_through_the_daemon_and_folders_are_watched_at_once(tmp_path):
    (tmp_path / "home").mkdir()
    with running_daemon(tmp_path / "home", tmp_path / "music", settle=0.3) as d:
        with d.client() as c:
            c.subscribe(["item.added", "review.changed"])
            hit = d.drop(d.samples / "Kicks" / "BD_Deep 01.wav", "kick", seed=11)
            events = wait_for(c, lambda ev: str(hit) in {e["path"] for e in named(ev, "item.added")})
            item_id = named(events, "item.added")[-1]["item_id"]

            out = d.djml("label", "bd deep", "perc")   # words of the file name, through the daemon
            assert out.returncode == 0 and "BD_Deep 01.wav: sample_type 'perc'" in out.stdout, out.stderr
            seen = wait_for(c, lambda ev: bool(named(ev, "review.changed")), timeout=10)
            assert named(seen, "review.changed")[-1]["item_ids"] == [item_id]

            extra = d.music / "more tracks"
            extra.mkdir()
            added = d.djml("folders", "add", str(extra))
            assert added.returncode == 0 and "the daemon is watching it" in added.stdout, added.stderr
            assert str(extra) in c.call("status")["watching"]
            dropped = d.drop(extra / "later.wav", "snare", seed=12)   # outside the old roots: watched now
            wait_for(c, lambda ev: str(dropped) in {e["path"] for e in named(ev, "item.added")})
            track = c.call("show", ref=str(dropped))
            assert track["kind"] == "track"   # a library folder holds tracks

            # the TUI's `e` key: a label naming a bucket that does not exist yet
            assert "after-hours" not in d.djml("buckets").stdout
            c.call("label.set", item_id=track["id"], task="bucket", label="after-hours", create=True)
            assert "after-hours" in d.djml("buckets").stdout   # through the daemon
            assert c.call("folders.remove", path=str(extra))["kind"] == "library"
            assert str(extra) not in c.call("status")["watching"]
    offline = d.djml("buckets")   # no daemon now: read directly, same list
    assert offline.returncode == 0 and "after-hours" in offline.stdout
    assert str(extra) not in d.djml("folders").stdout
