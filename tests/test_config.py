import pytest

from djml import config


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
    config.write(cfg)
    again = config.load()
    assert again.library == cfg.library
    assert again.buckets == cfg.buckets
    assert again.bpm_min == 80.0


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
