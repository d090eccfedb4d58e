"""When automatic retraining may run: ``retrain_schedule`` and ``quiet_hours`` from the config.

A schedule is ``"weekly"``, ``"daily"``, ``"off"`` or a five-field cron line
(``"minute hour day-of-month month day-of-week"``, e.g. ``"30 4 * * 1"`` = Mondays 04:30;
fields take ``*``, numbers, ``a-b`` ranges, ``a,b`` lists and ``*/n`` steps; day of week
0 or 7 = Sunday). Quiet hours are ``"HH-HH"`` in local time (``"18-02"`` wraps midnight):
no automatic training *starts* then (a DJ playing out from the same machine wants the CPU).

Pure functions on plain numbers, in the core so the config can validate both settings
when it loads; the daemon's monitor (:mod:`djml.daemon.monitor`) decides with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DAY = 86400.0
PERIODS = {"weekly": 7 * DAY, "daily": DAY}
OFF = ("off", "never", "")
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
MAX_LOOKBACK = 8 * DAY   # a cron line is matched over at most this long a gap (daemon was down)


class ScheduleError(ValueError):
    """A schedule or quiet-hours setting that cannot be read."""


@dataclass(frozen=True)
class Schedule:
    period: float | None = None                         # weekly / daily
    cron: tuple[frozenset[int], ...] | None = None      # minute, hour, dom, month, dow sets
    text: str = "weekly"

    @property
    def off(self) -> bool:
        return self.period is None and self.cron is None

    def due(self, last: float | None, now: float) -> bool:
        """Has a run fallen due in (last, now]? ``last`` None = never ran (due at once for
        periods; cron lines wait for their next matching minute within the lookback)."""
        if self.off:
            return False
        if self.period is not None:
            return last is None or now - last >= self.period
        start = max(last if last is not None else now - 60.0, now - MAX_LOOKBACK)
        minute = (int(start) // 60 + 1) * 60
        while minute <= now:
            if self.matches(minute):
                return True
            minute += 60
        return False

    def matches(self, epoch: float) -> bool:
        assert self.cron is not None
        t = time.localtime(epoch)
        minutes, hours, dom, months, dow = self.cron
        weekday = (t.tm_wday + 1) % 7   # cron: 0 = Sunday
        return (t.tm_min in minutes and t.tm_hour in hours and t.tm_mon in months
                and t.tm_mday in dom and (weekday in dow or (weekday == 0 and 7 in dow)))


def parse_schedule(text: str) -> Schedule:
    words = text.strip().lower()
    if words in OFF:
        return Schedule(text=words or "off")
    if words in PERIODS:
        return Schedule(period=PERIODS[words], text=words)
    fields = words.split()
    if len(fields) != 5:
        raise ScheduleError(f"{text!r} is not weekly, daily, off or a cron line of 5 fields (e.g. '30 4 * * 1')")
    return Schedule(cron=tuple(_field(f, name, lo, hi) for f, (name, lo, hi) in zip(fields, _FIELDS)), text=words)


def _field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                a, b = lo, hi
            elif "-" in base:
                a, b = (int(x) for x in base.split("-", 1))
            else:
                a = b = int(base)
        except ValueError:
            raise ScheduleError(f"cron {name} field {text!r}: expected *, N, A-B, lists and /STEP") from None
        if not (lo <= a <= b <= hi) or step < 1:
            raise ScheduleError(f"cron {name} field {text!r}: values must be {lo}..{hi}")
        values.update(range(a, b + 1, step))
    return frozenset(values)


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """(start hour, end hour) or None for no quiet hours."""
    words = text.strip()
    if not words:
        return None
    start, sep, end = words.partition("-")
    try:
        a, b = int(start), int(end)
    except ValueError:
        raise ScheduleError(f"quiet hours {text!r}: expected HH-HH such as 18-02") from None
    if not sep or not (0 <= a <= 23 and 0 <= b <= 24) or a == b:
        raise ScheduleError(f"quiet hours {text!r}: hours 0..24, start != end, such as 18-02")
    return a, b


def in_quiet_hours(quiet: tuple[int, int] | None, epoch: float) -> bool:
    if quiet is None:
        return False
    hour = time.localtime(epoch).tm_hour
    a, b = quiet
    return a <= hour < b if a < b else hour >= a or hour < b
