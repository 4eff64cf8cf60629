"""Months as police.uk writes them: ``YYYY-MM`` strings, compared and ranged as strings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class MonthError(InputError):
    """A month argument that is not YYYY-MM, or a range that runs backwards."""


def parse_month(text: str, *, option: str = "month") -> str:
    """Validate a YYYY-MM month and return it; raise MonthError naming the option otherwise."""
    value = text.strip()
    if not _MONTH.match(value):
        raise MonthError(
            f"{option} must be a month written YYYY-MM (for example 2019-04), got {text!r}"
        )
    return value


def is_month(text: str) -> bool:
    return bool(_MONTH.match(text))


def check_range(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """Validate optional --from/--to bounds; both inclusive."""
    start = parse_month(first, option="--from") if first else None
    end = parse_month(last, option="--to") if last else None
    if start and end and start > end:
        raise MonthError(f"--from {start} is after --to {end}; give the earlier month first")
    return start, end


def in_range(month: str, first: str | None, last: str | None) -> bool:
    return (first is None or month >= first) and (last is None or month <= last)


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"


def shift_month(month: str, months: int) -> str:
    """The month ``months`` later (earlier when negative)."""
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from first to last inclusive."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def missing_months(present: Iterable[str]) -> list[str]:
    """Months absent inside the span of the present ones (the gaps a user must know about)."""
    stored = sorted(set(present))
    if not stored:
        return []
    have = set(stored)
    return [m for m in months_between(stored[0], stored[-1]) if m not in have]
