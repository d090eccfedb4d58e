import pytest

from djml import keys


@pytest.mark.parametrize("key", range(24))
def test_every_notation_round_trips(key):
    for render in (keys.camelot, keys.open_key, keys.id3, keys.standard):
        assert keys.parse(render(key)) == key


@pytest.mark.parametrize(
    "text, camelot, open_key, id3, standard",
    [
        ("Am", "8A", "1m", "Am", "A minor"),
        ("C", "8B", "1d", "C", "C major"),
        ("F#m", "11A", "4m", "F#m", "F# minor"),
        ("Bbm", "3A", "8m", "Bbm", "Bb minor"),
        ("E major", "12B", "5d", "E", "E major"),
        ("Db", "3B", "8d", "C#", "C# major"),
        ("G♯ minor", "1A", "6m", "Abm", "Ab minor"),
    ],
)
def test_known_wheel_positions(text, camelot, open_key, id3, standard):
    key = keys.parse(text)
    assert (keys.camelot(key), keys.open_key(key), keys.id3(key), keys.standard(key)) == (
        camelot, open_key, id3, standard)


@pytest.mark.parametrize("bad", ["", "H", "13A", "8C", "Xm", "0d"])
def test_unparsable_keys_raise_value_error(bad):
    with pytest.raises(ValueError):
        keys.parse(bad)
