"""Standard output that remembers its own write faults.

Python's errors writing a stream name no file: an ``OSError`` reaching a command's error handler
may come from standard output (``> /dev/full``, ``| head -1``) or from any other file the
command writes (an -o file, a temporary copy, a socket). So the ``hotspots`` console script
wraps standard output, as its first step, in :class:`WatchedOutput`: every write and flush of
``sys.stdout`` and of its ``.buffer`` (the binary side, which ``export -o -`` copies to) passes
through it, and a failure is remembered before it is raised. click's ``echo`` and Rich's
console look ``sys.stdout`` up when they write, so they go through it too. The handler then
asks :func:`standard_output_fault` whether the error it holds is one standard output raised.

Only this module's few lines run at start-up (no imports beyond the standard library's
``sys``); a command run in-process (Typer's ``CliRunner``) is not wrapped and has no faults.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

# Faults kept per stream: the one a handler is given is the latest, or one of the few before it
# (a cleanup that printed again while the first fault was on its way up).
_KEPT = 8


class WatchedOutput:
    """``stream`` with its writes and flushes watched: a failing one (an ``OSError``) is kept in
    ``faults``, then raised as it was; or, once the command's answer has gone to its -o files
    (:func:`confirmations_only`), what it printed only confirmed them, so a failing write
    drops it instead (:meth:`_drop`). Everything else is the stream's own."""

    def __init__(
        self, stream: Any, faults: list[OSError] | None = None, text: WatchedOutput | None = None
    ) -> None:
        self._stream = stream
        self.faults: list[OSError] = [] if faults is None else faults
        self._text = text  # the binary side's text stream, whose confirming and dropped count
        self.confirming = False
        self.dropped = False
        binary = getattr(stream, "buffer", None)
        if binary is not None:  # the text stream's binary side, sharing its faults
            self.buffer = WatchedOutput(binary, self.faults, self)

    def write(self, data: Any) -> int:
        if self._owner.dropped:
            return len(data)
        try:
            return self._stream.write(data)
        except OSError as error:
            self._fault(error)
        return len(data)

    def writelines(self, lines: Any) -> None:
        if self._owner.dropped:
            return
        try:
            self._stream.writelines(lines)
        except OSError as error:
            self._fault(error)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            self._fault(error)

    def __getattr__(self, name: str) -> Any:
        # encoding, errors, fileno, isatty, closed, ...: the stream's (nothing else writes).
        if name == "_stream":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self._stream, name)

    @property
    def _owner(self) -> WatchedOutput:
        return self._text if self._text is not None else self

    def _fault(self, error: OSError) -> None:
        """Raise ``error`` (kept first), unless only confirmations are printed now: then drop
        them quietly (see :func:`confirmations_only`)."""
        if not self._owner.confirming:
            self.faults.append(error)
            del self.faults[:-_KEPT]
            raise error
        self._owner._drop()

    def _drop(self) -> None:
        """Point descriptor 1 at /dev/null and empty the buffers into it, so what is printed
        from now on, and the flush at exit, neither fails nor reaches the faulty device."""
        self.dropped = True
        try:
            _take_descriptor(1)
        except OSError:  # no descriptor to point (an in-process run's capture): drop only
            return
        for stream in (self._stream, getattr(self._stream, "buffer", None)):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass  # what it held is lost either way: it only confirmed the -o files


class _ShutBinary:
    """A standard output shut when the process started (``>&-``), binary side: every write
    fails as writing a shut descriptor does (EBADF), unless told to drop what it is given."""

    closed = False
    dropping = False

    def write(self, data: Any) -> int:
        if self.dropping:
            return len(data)
        raise OSError(errno.EBADF, "it was shut when the command started")

    def writelines(self, lines: Any) -> None:
        if not self.dropping:
            raise OSError(errno.EBADF, "it was shut when the command started")

    def flush(self) -> None:
        return None  # nothing was written, so nothing is lost

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output was shut when the command started")

    def isatty(self) -> bool:
        return False


class _ShutOutput(_ShutBinary):
    """Standard output of a process started with it shut: Python gives None, and a command's
    first print was an AttributeError traceback. Where the answer goes there (``-o -``, or a
    command with no -o), the command ends with one line, exit 1, as for any other fault of
    standard output. Where the answer goes to an -o file, what is printed there only confirms
    it (the "Wrote" line, analyse's summary): it is dropped (:func:`confirmations_only`)
    and the command ends as it would have, rather than exit 1 after writing the file (a retry
    was then refused: the file "exists already")."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self) -> None:
        self.buffer = _ShutBinary()  # export's binary copy fails the same way


def watch_standard_output() -> None:
    """Wrap ``sys.stdout`` (and its ``.buffer``) in :class:`WatchedOutput`, once."""
    if not isinstance(sys.stdout, WatchedOutput):
        if sys.stdout is None:
            _take_descriptor(1)
        sys.stdout = WatchedOutput(_ShutOutput() if sys.stdout is None else sys.stdout)


def standard_output_was_shut() -> bool:
    """Whether the process started with standard output shut (``>&-``)."""
    stdout = sys.stdout
    return isinstance(stdout, WatchedOutput) and isinstance(stdout._stream, _ShutOutput)


def confirmations_only() -> None:
    """Called once a command knows its answer goes to files, not to standard output: what it
    prints there from now on only confirms them (the "Wrote" line, analyse's summary). If
    standard output was shut at start (``>&-``), or a write to it fails (``> /dev/full``, a
    full disk), that is dropped instead of failing the command: the answer is in the file, so
    the command ends as it would have, rather than exit 1 after writing it (a retry was then
    refused: the file "exists already")."""
    stdout = sys.stdout
    if not isinstance(stdout, WatchedOutput):
        return
    stdout.confirming = True
    if standard_output_was_shut():
        shut = stdout._stream
        shut.dropping = shut.buffer.dropping = True


def _take_descriptor(descriptor: int) -> None:
    """Put /dev/null on a standard descriptor (one the process started without: else the next
    file opened gets that number, and anything a library writes there, C code printing to
    stdout or stderr, would land in that file; or one whose device failed)."""
    opened = os.open(os.devnull, os.O_WRONLY)
    if opened != descriptor:
        os.dup2(opened, descriptor)  # inheritable, as standard descriptors are
        os.close(opened)
    else:  # os.open's are not: a child process (a server worker) would start without it
        os.set_inheritable(descriptor, True)


class QuietWhenGone:
    """Standard error that stops saying anything once it cannot be written (its reader has
    gone, a full disk under its log, a hung-up terminal): nobody can read a message then, and a
    message's failed write must not change how the command ends (click turns an unhandled
    broken pipe into exit 1 after a finished job; a full one lost export's whole answer)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.gone = False

    def write(self, data: Any) -> int:
        if not self.gone:
            try:
                return self._stream.write(data)
            except OSError:
                self.gone = True
        return len(data)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        if name == "_stream":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard_standard_error() -> None:
    """Standard error that cannot fail a command: shut at start (``2>&-``: Python gives None)
    it is /dev/null; a reader that goes away silences it (:class:`QuietWhenGone`)."""
    if sys.stderr is None:
        _take_descriptor(2)
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - the process's own stream
    elif not isinstance(sys.stderr, QuietWhenGone):
        sys.stderr = QuietWhenGone(sys.stderr)


def standard_output_fault(error: BaseException) -> OSError | None:
    """The fault of standard output that ``error`` is, or was raised from (``raise ... from``);
    None when ``error`` is about anything else, or standard output is not watched."""
    stdout = sys.stdout
    if not isinstance(stdout, WatchedOutput) or not stdout.faults:
        return None
    seen: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and not any(cause is earlier for earlier in seen):
        for fault in stdout.faults:
            if cause is fault:
                return fault
        seen.append(cause)
        cause = cause.__cause__
    return None
