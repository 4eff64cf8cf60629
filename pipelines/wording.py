"""Counts in words: "1 cell", "2 cells", "1,234 crimes". One rule for every page, legend, note
and message, so no answer says "1 cells"."""

from __future__ import annotations


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and ``noun`` in the number it needs: singular for exactly
    one, else ``plural`` (default: ``noun`` + "s")."""
    text = f"{int(n):,}" if float(n).is_integer() else f"{n:,}"
    return f"{text} {noun if n == 1 else (plural or noun + 's')}"


# A set's areas named by their kind: "16 wards", not "16 areas", wherever the kind is known.
SCHEME_PLURALS = {"ward": "wards", "cluster": "ward clusters", "lsoa": "LSOAs", "custom": "areas"}


def scheme_plural(scheme: str) -> str:
    """'wards' for "ward": what a set's areas are called, "areas" for an unknown scheme."""
    return SCHEME_PLURALS.get(scheme, "areas")


def areas_in_set(count: int | None, scheme: str, set_title: str) -> str:
    """'the 16 wards in Torbay wards (2019)': a set's areas by their kind, the set by its title
    (its code when it has none). "in", not "of": "the 16 wards of Torbay wards" reads twice."""
    kind = scheme_plural(scheme)
    if count is None:
        return f"the {kind} in {set_title}"
    if count == 1:
        return f"the one {kind.removesuffix('s')} in {set_title}"
    return f"the {count:,} {kind} in {set_title}"


def vintage_words(set_title: str, vintage: str) -> str:
    """' (2019 boundaries)' after a set's title, or '' when the title already says the year."""
    return "" if not vintage or vintage in set_title else f" ({vintage} boundaries)"
