"""When a gift is delivered: a wall-clock time in the buyer's time zone, turned into an
aware UTC datetime on the server (zoneinfo), so "9:00 on her birthday" means 9:00 where
the buyer is, in summer and in winter."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_TIMEZONE = "UTC"


class InvalidLocalTime(ValueError):
    """The wall-clock time does not exist in that zone (clocks jump forward over it)."""


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {DEFAULT_TIMEZONE}


def safe_timezone(name: str | None) -> str:
    """An IANA zone name the server knows, or UTC. The name comes from the browser (a
    hidden field), so anything else, including a path, is ignored rather than opened."""
    name = (name or "").strip()
    return name if name in _known_zones() else DEFAULT_TIMEZONE


def local_to_utc(local: datetime, timezone_name: str) -> datetime:
    """The aware UTC datetime of ``local`` (naive, wall-clock) in ``timezone_name``.

    A time skipped when clocks go forward is refused; a time that occurs twice when
    clocks go back is read as the first of the two (``fold=0``).
    """
    if local.tzinfo is not None:
        raise ValueError("Expected a wall-clock (naive) time.")
    zone = ZoneInfo(safe_timezone(timezone_name))
    aware = local.replace(tzinfo=zone, fold=0)
    in_utc = aware.astimezone(UTC)
    if in_utc.astimezone(zone).replace(tzinfo=None) != local:
        raise InvalidLocalTime(
            "That time does not exist in your time zone (the clocks change then). "
            "Choose another time."
        )
    return in_utc
