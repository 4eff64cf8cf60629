"""Ending the ``hotspots`` process without unloading what it imported, once a command is done.

When a command returns, Python tears the interpreter down: it clears every module and frees
every object, and for the numerical stack a study imports (numpy, pandas, pyarrow, scipy,
geopandas) that takes 0.15-0.18 s, after the answer is written, on every study in a new process.
A command that has finished everything it does (its files written and closed, its threads
joined) says so with :func:`skip_teardown`; the console script (``cli.main.main``) then runs the
exit functions (logging's flush among them), flushes the standard streams and ends the process
with the command's exit code at once.
The operating system releases the memory and closes the files either way. Commands that do not
ask, errors, and ``app()`` called in-process (tests, ``CliRunner``) end as before.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from typing import NoReturn

_requested = False


def skip_teardown() -> None:
    """Called by a command whose work is all finished: nothing is left for the interpreter's
    teardown to do but free memory."""
    global _requested
    _requested = True


def teardown_skipped() -> bool:
    """Whether the process may end without teardown: the command asked, and no profiler,
    debugger or coverage tracer is watching (they write their results as the interpreter
    ends: ``python -m cProfile -m cli.main analyse ...`` still gets its profile)."""
    return _requested and sys.gettrace() is None and sys.getprofile() is None


def end_now(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown."""
    for thread in threading.enumerate():  # as the interpreter would: wait for the others
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    # What the interpreter would run at exit (logging's flush among them), then no teardown.
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is not None:
        run_exit_functions()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more to say; a stream shut at start is None.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(status)
