"""User input quoted in a message, shortened: one rule for every error the project writes.

A message names what was wrong ("no area 'Tormohan' ..."), but input can be any length: a
20,000-character area name must not come back whole in a 404, a page or a terminal. Every
message that quotes input uses :func:`quoted`; :func:`shortened` is the last guard where a
message becomes an answer (the service's error response, the CLI's error line).
"""

from __future__ import annotations

QUOTE_LIMIT = 80  # characters of the input a message shows
MESSAGE_LIMIT = 1_000  # characters of a whole message (the longest lists every valid name)


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, its text cut to ``limit`` characters with "…" and the full length:
    ``'Tormohun'``, or ``'TormohunTormohun…' (20,000 characters)``."""
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit] + '…'!r} ({len(value):,} characters)"


def shortened(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` cut to ``limit`` characters with "…": a guard for a message that quoted
    input without :func:`quoted`, never a substitute for it."""
    return message if len(message) <= limit else message[:limit] + "…"
