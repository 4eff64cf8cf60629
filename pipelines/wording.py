"""Counts in words: "1 cell", "2 cells", "1,234 crimes". One rule for every page, legend, note
and message, so no answer says "1 cells"."""

from __future__ import annotations


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and ``noun`` in the number it needs: singular for exactly
    one, else ``plural`` (default: ``noun`` + "s")."""
    text = f"{int(n):,}" if float(n).is_integer() else f"{n:,}"
    return f"{text} {noun if n == 1 else (plural or noun + 's')}"
