import pytest

from djml import config, configfile

ODD = 'a\nb "q" \\ back\tslash # not a comment = [x] \u00e9\u00df \U0001f3a7 \x7f end'


def test_missing_default_config_gives_usable_defaults(djml_home):
    cfg = config.load()
    assert cfg.data_dir == djml_home / "data"
    assert cfg.socket_path.parent == djml_home / "data"
    assert cfg.library == [] and cfg.workers >= 1


def test_write_then_load_round_trips(djml_home, tmp_path):
    (tmp_path / "Tracks ü").mkdir()
    cfg = config.load()
    cfg.library = [tmp_path / "Tracks ü"]
    cfg.buckets = ["warm-up", 'peak "time"']
    cfg.bpm_min = 80.0
    configfile.write(cfg)
    again = config.load()
    assert again.library == cfg.library
    assert again.buckets == cfg.buckets
    assert again.bpm_min == 80.0


def test_odd_characters_in_every_string_field_round_trip(djml_home, tmp_path):
    """`djml init --bucket $'a\\nb'` once wrote a file its own loader rejected."""
    folder = tmp_path / ODD.replace("/", "_")
    folder.mkdir()
    cfg = config.load()
    cfg.library, cfg.samples = [folder], [folder / "samples"]
    cfg.data_dir = folder / "data"
    cfg.runtime_dir = folder / "run"
    cfg.buckets = [ODD, "peak-time", "'single' and \"double\""]
    cfg.playlist_buckets = {ODD: ODD, "Peak = time": "peak-time"}
    cfg.tag_template = "{camelot} · " + ODD.replace("[x]", "").replace("{", "")
    cfg.tag_template_field = "grouping"
    configfile.write(cfg)
    again = config.load()
    for name in ("library", "samples", "data_dir", "runtime_dir", "buckets", "playlist_buckets",
                 "tag_template", "tag_template_field"):
        assert getattr(again, name) == getattr(cfg, name), name


def test_init_writes_a_loadable_config_whatever_the_bucket_names(run_djml, djml_home):
    """`djml init --bucket $'a\\nb'` once wrote a file its own loader rejected: now odd
    names round-trip, and a name with a line break is refused before anything is written."""
    broken = run_djml("init", "--bucket", "a\nb")
    assert broken.returncode == 2 and "control characters" in broken.stderr
    assert not (djml_home / "config.toml").exists()
    odd = ['say "hi"', "#1 = [x]", "back\\slash", "é 🎧"]
    run_djml("init", *[arg for name in odd for arg in ("--bucket", name)], check=True)
    proc = run_djml("status")
    assert proc.returncode == 0, proc.stderr
    assert config.load().buckets == odd


def test_edit_keeps_comments_and_unrelated_settings(djml_home, tmp_path):
    path = djml_home / "config.toml"
    path.write_text("# my own notes\nworkers = 1  # keep it cool\nlibrary = []\n\n# sets\n"
                    'buckets = ["a"]\n', encoding="utf-8")
    cfg = config.load()
    (tmp_path / "new").mkdir()
    configfile.edit(cfg, lambda s: s["library"].append(str(tmp_path / "new")))
    text = path.read_text(encoding="utf-8")
    assert "# my own notes" in text and "# keep it cool" in text and "# sets" in text
    assert "bpm_min" not in text  # defaults the file never named stay unnamed
    again = config.load()
    assert again.library == [tmp_path / "new"] and again.workers == 1 and again.buckets == ["a"]
    assert cfg.library == again.library  # the caller's config follows the file


def test_edit_refuses_to_write_an_invalid_file(djml_home):
    path = djml_home / "config.toml"
    path.write_text('buckets = ["a"]\n[playlist_buckets]\n"P" = "a"\n', encoding="utf-8")
    cfg = config.load()
    with pytest.raises(config.ConfigError, match="unknown bucket"):
        configfile.edit(cfg, lambda s: s.__setitem__("buckets", ["b"]))
    assert path.read_text(encoding="utf-8").startswith('buckets = ["a"]')


@pytest.mark.parametrize(
    "text, key",
    [
        ("workers = 0", "workers"),
        ('workers = "two"', "workers"),
        ("review_threshold = 1.5", "review_threshold"),
        ("bpm_min = 150\nbpm_max = 100", "bpm_max"),
        ("libary = ['/x']", "libary"),
        ("library = 5", "library"),
        ("polling = 1", "polling"),
    ],
)
def test_invalid_config_names_key_and_file(djml_home, text, key):
    path = djml_home / "config.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load()
    assert err.value.key == key
    assert str(path) in str(err.value)


def test_broken_toml_names_file(djml_home):
    (djml_home / "config.toml").write_text("library = [")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load()


def test_invalid_config_exits_2_with_one_clear_line(run_djml, djml_home):
    (djml_home / "config.toml").write_text("workers = -3\n")
    proc = run_djml("ls")
    assert proc.returncode == 2
    assert "workers" in proc.stderr and "config.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_kind_for_prefers_sample_folders(tmp_path, djml_home):
    cfg = config.load()
    cfg.library = [tmp_path / "music"]
    cfg.samples = [tmp_path / "music" / "samples"]
    assert cfg.kind_for(tmp_path / "music" / "samples" / "kick.wav") == "sample"
    assert cfg.kind_for(tmp_path / "music" / "track.flac") == "track"
    assert cfg.kind_for(tmp_path / "elsewhere.wav") is None
