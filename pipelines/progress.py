"""How a long computation says how far it has got, without knowing who listens.

A ``StepReport`` is called as each step starts: ``report("Hot cells (Gi*)", 2, 5)`` says step 2
of 5 (0-based count of steps done) is now running. The command line draws it as a progress bar
on stderr; the service passes nothing and :func:`no_progress` is used.
"""

from __future__ import annotations

from collections.abc import Callable

StepReport = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """Report nothing (the default of every computation that takes a ``progress``)."""
