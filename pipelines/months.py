"""Months as police.uk writes them: ``YYYY-MM``, one validated value type for every entry point.

``Month`` is a ``str`` (so stores, JSON, Parquet and comparisons need no conversion) that can only
be built valid: four ASCII digits, a dash, a month 01-12. ``Month.parse`` is what a CLI option, a
query parameter or a request body goes through: it also keeps the month between police.uk's first
month of street-level crime (2010-12) and the current month, with a message that says what to
change. Arithmetic (``shift``, ``months_between``) works on a month index, so a range always
ends: a string successor once turned ``9999-12`` into ``1000-00`` and a request never finished.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from pipelines.errors import InputError
from pipelines.quoting import quoted

# [0-9], not \d: \d also matches full-width and other Unicode digits.
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
FIRST_POLICE_UK_MONTH = "2010-12"  # the first month police.uk publishes street-level crime for
EXAMPLE = "2019-04"


class MonthError(InputError):
    """A month that is not YYYY-MM, is outside police.uk's range, or a range that runs backwards."""


class Month(str):
    """A calendar month written ``YYYY-MM``; ``Month("2019-04")`` checks the form only."""

    __slots__ = ()

    def __new__(cls, text: str) -> Month:
        if isinstance(text, Month):
            return text
        if not isinstance(text, str) or not _MONTH.fullmatch(text) or text.startswith("0000"):
            raise MonthError(
                f"a month is written YYYY-MM (for example {EXAMPLE}), got {quoted(text)}"
            )
        return super().__new__(cls, text)

    @classmethod
    def of(cls, year: int, number: int) -> Month:
        """The month ``number`` (1-12) of ``year`` (1-9999)."""
        if not (1 <= year <= 9999 and 1 <= number <= 12):
            raise MonthError(f"no month {number} of year {year}")
        return cls(f"{year:04d}-{number:02d}")

    @classmethod
    def from_index(cls, index: int) -> Month:
        """The month ``index`` months after January of year 0 (the inverse of ``.index``)."""
        return cls.of(index // 12, index % 12 + 1)

    @classmethod
    def current(cls, today: dt.date | None = None) -> Month:
        """This month (UTC): police.uk cannot hold any later one."""
        today = today or dt.datetime.now(dt.UTC).date()
        return cls.of(today.year, today.month)

    @classmethod
    def parse(
        cls, text: str, *, option: str | None = "month", today: dt.date | None = None
    ) -> Month:
        """A month a user gave (CLI option, query parameter, request body), checked once.

        Raises MonthError naming ``option`` (None: the caller names it) when the text is not
        ``YYYY-MM`` in ASCII digits or the month is before 2010-12 or after the current month.
        """
        named = f"{option} " if option else ""
        value = text.strip() if isinstance(text, str) else text
        if not isinstance(value, str) or not _MONTH.fullmatch(value):
            raise MonthError(
                f"{named}must be a month written YYYY-MM with digits 0-9 "
                f"(for example {EXAMPLE}), got {quoted(text)}"
            )
        month = cls(value)
        if month < FIRST_POLICE_UK_MONTH:
            raise MonthError(
                f"{named}{month} is before {FIRST_POLICE_UK_MONTH}, the first month police.uk "
                f"publishes; give {FIRST_POLICE_UK_MONTH} or later"
            )
        latest = cls.current(today)
        if month > latest:
            raise MonthError(
                f"{named}{month} is after this month ({latest}); police.uk has no later data, "
                f"give {latest} or earlier"
            )
        return month

    @property
    def year(self) -> int:
        return int(self[:4])

    @property
    def number(self) -> int:
        """1 for January ... 12 for December."""
        return int(self[5:7])

    @property
    def index(self) -> int:
        """Months since January of year 0: differences of indices count months."""
        return self.year * 12 + self.number - 1

    def shift(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        return Month.from_index(self.index + months)


def parse_month(text: str, *, option: str = "month") -> Month:
    """``Month.parse``: a user's month, checked; MonthError naming ``option`` otherwise."""
    return Month.parse(text, option=option)


def is_month(text: str) -> bool:
    """Whether ``text`` is written YYYY-MM (a file name in the store, a row's month)."""
    return isinstance(text, str) and bool(_MONTH.fullmatch(text))


def check_range(
    first: str | None,
    last: str | None,
    *,
    first_option: str = "--from",
    last_option: str = "--to",
) -> tuple[Month | None, Month | None]:
    """Optional first/last bounds a user gave, both inclusive, parsed and in order."""
    start = Month.parse(first, option=first_option) if first else None
    end = Month.parse(last, option=last_option) if last else None
    if start and end and start > end:
        raise MonthError(
            f"{first_option} {start} is after {last_option} {end}; give the earlier month first"
        )
    return start, end


def in_range(month: str, first: str | None, last: str | None) -> bool:
    return (first is None or month >= first) and (last is None or month <= last)


def next_month(month: str) -> Month:
    return Month(month).shift(1)


def shift_month(month: str, months: int) -> Month:
    """The month ``months`` later (earlier when negative)."""
    return Month(month).shift(months)


def months_between(first: str, last: str) -> list[Month]:
    """Every month from first to last inclusive (none when last is before first)."""
    start, end = Month(first).index, Month(last).index
    return [Month.from_index(index) for index in range(start, end + 1)]


def missing_months(present: Iterable[str]) -> list[Month]:
    """Months absent inside the span of the present ones (the gaps a user must know about)."""
    stored = sorted(set(present))
    if not stored:
        return []
    have = set(stored)
    return [m for m in months_between(stored[0], stored[-1]) if m not in have]


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_words(month: str) -> str:
    """'2020-01' -> 'Jan 2020', as pages and briefings write a month for people."""
    year, number = parse_month(month).split("-")
    return f"{_MONTH_NAMES[int(number) - 1]} {year}"


def window_words(first: str, last: str) -> str:
    """'Jan 2020 to Dec 2020' (one month: 'Mar 2020')."""
    return month_words(first) if first == last else f"{month_words(first)} to {month_words(last)}"
