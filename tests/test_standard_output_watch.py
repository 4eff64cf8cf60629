"""cli/standard_output.py: standard output, watched, writes what it is given unchanged and
remembers its own faults, so a fault writing any other file is never taken for one of its own
(Python's errors writing a stream name no file)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.standard_output import WatchedOutput, standard_output_fault, watch_standard_output

FULL = Path("/dev/full")


@contextmanager
def full_standard_output() -> Iterator[None]:
    """sys.stdout on /dev/full (as `hotspots ... > /dev/full` has it), watched, for the block.
    (Set in the test itself: pytest puts its own capture back between a fixture and a test.)"""
    if not FULL.exists():
        pytest.skip("no /dev/full on this system")
    saved = sys.stdout
    stream = io.TextIOWrapper(open(FULL, "wb"), encoding="utf-8")  # noqa: SIM115
    sys.stdout = stream
    try:
        watch_standard_output()
        yield
    finally:
        sys.stdout = saved
        with contextlib.suppress(OSError):  # what the test left unwritten fails once more
            stream.close()


def test_what_is_written_reaches_the_stream_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text, bytes through .buffer and lines, interleaved, give the bytes the stream alone gives."""

    def written(watch: bool) -> bytes:
        sink = io.BytesIO()
        stream = io.TextIOWrapper(sink, encoding="utf-8", errors="replace", newline="\n")
        monkeypatch.setattr(sys, "stdout", stream)
        if watch:
            watch_standard_output()
            watch_standard_output()  # once only: no wrapper around the wrapper
            assert isinstance(sys.stdout, WatchedOutput)
            assert sys.stdout.buffer._stream is stream.buffer
            assert (sys.stdout.encoding, sys.stdout.errors) == ("utf-8", "replace")
        out = sys.stdout
        out.write("Tor \u00e9 \ud800\n")  # a lone surrogate: replaced, as the stream's errors say
        out.flush()
        out.buffer.write(b"code,name\r\n")
        out.writelines(["a\n", "b\n"])
        print("end", file=out)
        out.flush()
        assert not getattr(out, "faults", [])
        return sink.getvalue()

    assert written(watch=True) == written(watch=False)


@pytest.mark.parametrize("side", ["text", "binary"])
def test_its_own_fault_is_kept_and_raised_unchanged(side: str) -> None:
    with full_standard_output():
        out = sys.stdout if side == "text" else sys.stdout.buffer
        out.write("a line\n" if side == "text" else b"a line\n")  # buffered: no fault yet
        assert standard_output_fault(OSError(28, "No space left on device")) is None
        with pytest.raises(OSError) as raised:
            out.flush()
        assert standard_output_fault(raised.value) is raised.value
        # Given on, as the cause of another error: still standard output's.
        try:
            raise RuntimeError("could not print the table") from raised.value
        except RuntimeError as wrapped:
            assert standard_output_fault(wrapped) is raised.value


def test_a_fault_writing_another_file_is_not_standard_outputs() -> None:
    """Standard output has failed too, on the same kind of device with the same errno: the
    other file's fault is still not taken for it."""
    with full_standard_output():
        with pytest.raises(OSError) as own:
            print("the answer", flush=True)
        with pytest.raises(OSError) as other, open(FULL, "w") as elsewhere:
            elsewhere.write("an -o file")
            elsewhere.flush()
        assert own.value.errno == other.value.errno
        assert standard_output_fault(own.value) is own.value
        assert standard_output_fault(other.value) is None


def test_unwatched_standard_output_has_no_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command run in-process (Typer's CliRunner) is not watched: no error is its stdout's."""
    read, write = os.pipe()
    os.close(read)
    with open(write, "wb", buffering=0) as closed:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(closed))
        with pytest.raises(BrokenPipeError) as raised:
            print("x", flush=True)
        assert standard_output_fault(raised.value) is None
        monkeypatch.undo()
